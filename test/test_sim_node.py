"""The sim node in its own process, talked to over real DDS like a robot + RealSense."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from builtin_interfaces.msg import Duration
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from ros_harness import NodeProcess, wait_for
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64, String
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from spatial_ros.nodes.image_conv import image_to_numpy

pytestmark = pytest.mark.ros

UR5_JOINTS = ["shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint",
              "wrist_2_joint", "wrist_3_joint"]


class Inbox:
    """Keeps the latest message and a count per topic (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latest: dict[str, object] = {}
        self.count: dict[str, int] = {}

    def cb(self, key: str):
        def on_msg(msg) -> None:
            with self.lock:
                self.latest[key] = msg
                self.count[key] = self.count.get(key, 0) + 1
        return on_msg

    def get(self, key: str):
        with self.lock:
            return self.latest.get(key)

    def n(self, key: str) -> int:
        with self.lock:
            return self.count.get(key, 0)


def _trajectory(names, points) -> JointTrajectory:
    msg = JointTrajectory()
    msg.joint_names = list(names)
    for t, q in points:
        pt = JointTrajectoryPoint()
        pt.positions = [float(v) for v in q]
        pt.time_from_start = Duration(sec=int(t), nanosec=round((t - int(t)) * 1e9))
        msg.points.append(pt)
    return msg


def test_sim_node_is_a_camera_and_a_robot(ros):
    node = ros.node("sim_test_client")
    inbox = Inbox()
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    ns = "/camera/camera"
    node.create_subscription(Image, f"{ns}/color/image_raw", inbox.cb("color"),
                             qos_profile_sensor_data)
    node.create_subscription(Image, f"{ns}/aligned_depth_to_color/image_raw", inbox.cb("depth"),
                             qos_profile_sensor_data)
    node.create_subscription(CameraInfo, f"{ns}/color/camera_info", inbox.cb("info"),
                             qos_profile_sensor_data)
    node.create_subscription(CameraInfo, f"{ns}/aligned_depth_to_color/camera_info",
                             inbox.cb("depth_info"), qos_profile_sensor_data)
    node.create_subscription(JointState, "/joint_states", inbox.cb("joints"), reliable)
    node.create_subscription(String, "/sim/objects", inbox.cb("truth"), reliable)
    traj_pub = node.create_publisher(JointTrajectory,
                                     "/joint_trajectory_controller/joint_trajectory", reliable)
    grip_pub = node.create_publisher(Float64, "/gripper/command", reliable)

    args = ["--ros-args", "-p", "robot:=ur5", "-p", "n_objects:=4", "-p", "seed:=3",
            "-p", "camera_fps:=10.0", "-p", "camera_width:=320", "-p", "camera_height:=240"]
    with NodeProcess("spatial_ros.nodes.sim_node", *args) as proc:
        topics = ("color", "depth", "info", "depth_info", "joints", "truth")
        ok = wait_for(lambda: all(inbox.n(k) >= 2 for k in topics), timeout=60.0)
        assert ok, f"missing topics {[k for k in topics if inbox.n(k) < 2]}:\n{proc.output()}"

        color, depth, info = inbox.get("color"), inbox.get("depth"), inbox.get("info")
        assert (color.encoding, color.width, color.height) == ("rgb8", 320, 240)
        assert depth.encoding == "16UC1" and color.header.frame_id == \
            "camera_color_optical_frame" == depth.header.frame_id
        assert info.k[0] == pytest.approx(615.0 / 2) and info.k[2] == pytest.approx(159.5)
        assert image_to_numpy(color).std() > 10
        depth_mm = image_to_numpy(depth)
        assert 0.7 < np.median(depth_mm[depth_mm > 0]) / 1000.0 < 2.0  # table about 1.2 m away
        truth = json.loads(inbox.get("truth").data)
        assert truth["ground_truth"] is True and len(truth["objects"]) == 4
        assert np.asarray(truth["camera_pose"]).shape == (4, 4)

        js = inbox.get("joints")
        assert list(js.name[:6]) == UR5_JOINTS
        start = np.array(js.position[:6])
        target = start + np.array([0.4, -0.3, 0.3, 0.2, -0.3, 0.5])

        # a bad command is rejected and the node keeps running
        traj_pub.publish(_trajectory(["not_a_joint"], [(1.0, [0.0])]))
        traj_pub.publish(_trajectory(UR5_JOINTS, [(1.0, start + 20.0)]))
        grip_pub.publish(Float64(data=float("nan")))
        assert wait_for(lambda: proc.output().count("trajectory rejected") >= 2
                        and "gripper command rejected" in proc.output(), timeout=10.0), \
            proc.output()
        assert proc.alive()

        mid = start + 0.5 * (target - start)
        traj_pub.publish(_trajectory(UR5_JOINTS, [(0.8, mid), (1.6, target)]))
        grip_pub.publish(Float64(data=0.02))

        def reached() -> bool:
            pos = np.array(inbox.get("joints").position[:6])
            return bool(np.max(np.abs(pos - target)) < 0.01)

        assert wait_for(reached, timeout=30.0), (
            f"joints at {inbox.get('joints').position[:6]}, target {target.tolist()}\n"
            f"{proc.output()}")
        fingers = np.array(inbox.get("joints").position[6:8])
        assert wait_for(lambda: abs(sum(inbox.get("joints").position[6:8]) - 0.02) < 0.004,
                        timeout=10.0), fingers
        assert "trajectory accepted" in proc.output()

        # an empty trajectory stops a running one where the arm is (JTC semantics)
        far = target + 0.6
        traj_pub.publish(_trajectory(UR5_JOINTS, [(6.0, far)]))
        assert wait_for(lambda: abs(inbox.get("joints").position[0] - target[0]) > 0.03,
                        timeout=15.0)
        traj_pub.publish(JointTrajectory(joint_names=UR5_JOINTS))
        assert wait_for(lambda: "motion stopped" in proc.output(), timeout=10.0)

        def at_rest() -> bool:
            # joint states can reach this process late on a loaded machine: a fixed sleep
            # once compared a sample from before the stop with one after (0.019 rad apart)
            before = np.array(inbox.get("joints").position[:6])
            time.sleep(0.3)
            return bool(np.max(np.abs(np.array(inbox.get("joints").position[:6]) - before))
                        < 0.002)

        assert wait_for(at_rest, timeout=15.0)  # had the arm gone on, it rests at `far`
        held = np.array(inbox.get("joints").position[:6])
        time.sleep(1.0)
        now = np.array(inbox.get("joints").position[:6])
        assert np.max(np.abs(now - held)) < 0.01 and np.max(np.abs(now - far)) > 0.2
        assert proc.alive()
    assert proc.proc.returncode == 0, proc.output()


def test_camera_only_sim_runs_faster_than_real_time_and_resets(ros):
    """robot none, real_time_factor 0: /clock outruns the wall clock; /sim/reset reseeds."""
    from rosgraph_msgs.msg import Clock
    from std_msgs.msg import Int32

    node = ros.node("sim_test_clock")
    inbox = Inbox()
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(Clock, "/clock", inbox.cb("clock"), qos_profile_sensor_data)
    node.create_subscription(String, "/sim/objects", inbox.cb("truth"), reliable)
    node.create_subscription(JointState, "/joint_states", inbox.cb("joints"), reliable)
    node.create_subscription(Image, "/camera/camera/color/image_raw", inbox.cb("color"),
                             qos_profile_sensor_data)
    reset_pub = node.create_publisher(Int32, "/sim/reset", reliable)
    # few, tiny frames: rendering competes with physics for this loaded machine's CPU
    args = ["--ros-args", "-p", "robot:=none", "-p", "n_objects:=3", "-p", "seed:=1",
            "-p", "real_time_factor:=0.0", "-p", "camera_width:=160", "-p",
            "camera_height:=120", "-p", "camera_fps:=1.0"]

    def sim_time() -> float:
        c = inbox.get("clock").clock
        return c.sec + c.nanosec * 1e-9

    with NodeProcess("spatial_ros.nodes.sim_node", *args) as proc:
        assert wait_for(lambda: inbox.n("clock") > 5 and inbox.n("truth") > 0
                        and inbox.n("color") > 0, timeout=60.0), proc.output()
        assert inbox.get("joints") is None or list(inbox.get("joints").name) == []
        s0, w0 = sim_time(), time.monotonic()
        time.sleep(2.0)
        rate = (sim_time() - s0) / (time.monotonic() - w0)
        assert rate > 1.0, f"simulated {rate:.2f} s per wall second with rate 0"
        first = json.loads(inbox.get("truth").data)
        assert first["seed"] == 1 and first["robot"] == "none"
        reset_pub.publish(Int32(data=5))
        assert wait_for(lambda: json.loads(inbox.get("truth").data)["seed"] == 5,
                        timeout=20.0), proc.output()
        second = json.loads(inbox.get("truth").data)
        assert [o["name"] for o in second["objects"]] != [o["name"] for o in first["objects"]]
        assert proc.alive()
