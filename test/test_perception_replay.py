"""A recorded rosbag2 replayed into the perception node with use_sim_time: the answer is
computed on the bag's frames and stamped with the bag's time, exactly as live.

The bag is written with rosbags from real serialized messages; the player publishes the
recorded CDR bytes and /clock (there is no `ros2 bag play` in the PyPI ROS wheels). The
node runs the weights-free geometric referrer, so this test needs no checkpoint.
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.serialization import serialize_message
from ros_harness import NodeProcess, wait_for
from rosbags.rosbag2 import Reader, Writer
from rosbags.typesys import Stores, get_typestore
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String

from spatial_ros.geometry.intrinsics import camera_info_fields
from spatial_ros.nodes.image_conv import numpy_to_image
from spatial_ros.perception.synthetic import box_distance, render

pytestmark = pytest.mark.ros
NS = "/camera/camera"
BAG_T0 = 1_000_000_000_000  # 1000 s: far from the wall clock, so a wall stamp would show
TOPICS = {f"{NS}/color/image_raw": (Image, "sensor_msgs/msg/Image"),
          f"{NS}/aligned_depth_to_color/image_raw": (Image, "sensor_msgs/msg/Image"),
          f"{NS}/color/camera_info": (CameraInfo, "sensor_msgs/msg/CameraInfo"),
          "/clock": (Clock, "rosgraph_msgs/msg/Clock")}


def _stamp(ns: int):
    from builtin_interfaces.msg import Time

    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def write_bag(path, frame, n: int = 20, period_ns: int = 100_000_000) -> list[int]:
    store = get_typestore(Stores.ROS2_KILTED)
    stamps = [BAG_T0 + i * period_ns for i in range(n)]
    with Writer(path, version=9) as writer:
        conns = {t: writer.add_connection(t, name, typestore=store)
                 for t, (_, name) in TOPICS.items()}
        info = CameraInfo()
        for key, value in camera_info_fields(frame.intrinsics).items():
            setattr(info, key, value)
        fid = "camera_color_optical_frame"
        for ns in stamps:
            st = _stamp(ns)
            info.header.stamp, info.header.frame_id = st, fid
            msgs = {f"{NS}/color/image_raw": numpy_to_image(frame.rgb, "rgb8", st, fid),
                    f"{NS}/aligned_depth_to_color/image_raw":
                        numpy_to_image(frame.depth_mm, "16UC1", st, fid),
                    f"{NS}/color/camera_info": info, "/clock": Clock(clock=st)}
            for topic, msg in msgs.items():
                writer.write(conns[topic], ns, serialize_message(msg))
    return stamps


class BagPlayer:
    """Publishes a bag's raw CDR messages at the recorded pace, looping (in a thread) until
    stopped: best-effort 640x480 frames can be lost between busy processes, so a short bag
    played once may never deliver a synchronised frame."""

    def __init__(self, node, path) -> None:
        self.path = path
        self.pubs = {t: node.create_publisher(cls, t, qos_profile_sensor_data)
                     for t, (cls, _) in TOPICS.items()}
        self.stop = threading.Event()

    def play(self) -> None:
        while not self.stop.is_set():
            with Reader(self.path) as reader:
                t_bag0, t_wall0 = None, time.monotonic()
                for conn, t, raw in reader.messages():
                    if self.stop.is_set():
                        return
                    t_bag0 = t if t_bag0 is None else t_bag0
                    time.sleep(max(0.0, (t - t_bag0) / 1e9 - (time.monotonic() - t_wall0)))
                    self.pubs[conn.topic].publish(bytes(raw))


def test_replayed_bag_is_answered_on_bag_time(ros, tmp_path):
    frame = render(noise_mm=1.0, seed=3)
    stamps = write_bag(tmp_path / "bag", frame)
    node = ros.node("replay_driver")
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pub = node.create_publisher(String, "/spatial/instruction", reliable)
    results: list[dict] = []
    node.create_subscription(String, "/spatial/result",
                             lambda m: results.append(json.loads(m.data)), reliable)
    player = BagPlayer(node, tmp_path / "bag")
    args = ["--ros-args", "-p", "use_sim_time:=true", "-p", "referrer:=geometric",
            "-p", "camera_frame:=camera_color_optical_frame",
            "-p", f"extrinsics_translation:={frame.camera_to_base.translation.tolist()}",
            "-p", "extrinsics_quaternion_xyzw:="
                  f"{frame.camera_to_base.to_quat()[1].tolist()}"]
    with NodeProcess("spatial_ros.nodes.perception_node", *args) as proc:
        assert wait_for(lambda: "perception ready" in proc.output(), 60.0), proc.output()
        assert wait_for(lambda: pub.get_subscription_count() > 0, 20.0)
        threading.Thread(target=player.play, daemon=True).start()
        answers = []
        for i in range(40):  # ask while the bag plays, until one answer used a bag frame
            pub.publish(String(data=json.dumps({"id": f"b{i}", "text": "the red box"})))
            assert wait_for(lambda i=i: any(r["request_id"] == f"b{i}" for r in results), 15.0)
            answers = [r for r in results if r["stamp_ns"] in stamps and not r["error"]]
            if answers:
                break
            time.sleep(0.2)
        player.stop.set()
        assert answers, f"no answer on a bag frame: {results[-3:]}\n{proc.output()[-2000:]}"
        res = answers[0]
        assert res["stamp_ns"] >= BAG_T0  # bag time, not wall time
        # the geometric referrer found the red box; the 3D point is on it
        assert box_distance(np.array(res["point_base"]), frame.boxes[0]) < 0.02, res
        assert proc.alive(), proc.output()
