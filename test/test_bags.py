"""rosbag2 record/replay: real DDS traffic from the camera node into an MCAP bag, back out onto
DDS in another process, values intact; broken bags give errors that say what is wrong."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import yaml
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_harness import REPO, NodeProcess, wait_for
from rosbags.typesys import Stores, get_typestore
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image
from std_msgs.msg import String

from spatial_ros.bags.qos import QosSpec
from spatial_ros.bags.reader import BagReplay, ReplaySchedule, parse_remaps
from spatial_ros.bags.writer import BagError, BagWriter
from spatial_ros.nodes.image_conv import image_to_numpy
from spatial_ros.nodes.runtime import qos_from_name
from spatial_ros.sensors.synthetic_scene import render_synthetic_scene

TS = get_typestore(Stores.ROS2_KILTED)
COLOR = "/camera/camera/color/image_raw"
DEPTH = "/camera/camera/aligned_depth_to_color/image_raw"
INSTR = "/spatial/instruction"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spatial_ros.cli.main", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def write_string_bag(path, storage="mcap", n=50, period_ns=10**7, topic="/a"):
    msg = TS.types["std_msgs/msg/String"]
    with BagWriter(path, storage) as w:
        w.add_topic(topic, "std_msgs/msg/String", QosSpec("reliable", "transient_local", 1))
        for i in range(n):
            w.write(topic, 10**9 + i * period_ns,
                    bytes(TS.serialize_cdr(msg(data=f"m{i}"), "std_msgs/msg/String")))
    return path


@pytest.mark.ros
def test_record_camera_traffic_and_replay_it_intact(ros, tmp_path):
    bag = tmp_path / "camera_bag"
    node = ros.node("bag_test")
    instr_pub = node.create_publisher(String, INSTR, QoSProfile(depth=50))
    live: list[Image] = []
    node.create_subscription(Image, COLOR, live.append, qos_from_name("sensor_data"))
    cam_args = ["--ros-args", "-p", "source:=software", "-p", "fps:=10"]
    rec_args = ["record", "-o", str(bag), "--topics", COLOR, DEPTH, INSTR]
    sent = [f"pick the red cup #{i}" for i in range(5)]
    with NodeProcess("spatial_ros.nodes.camera_node", *cam_args) as cam, \
            NodeProcess("spatial_ros.cli.main", *rec_args) as rec:
        ok = wait_for(lambda: all(f"recording {t}" in rec.output() for t in (COLOR, DEPTH)),
                      40.0)
        assert ok, f"recorder:\n{rec.output()}\ncamera:\n{cam.output()}"
        assert wait_for(lambda: instr_pub.get_subscription_count() > 0, 20.0), rec.output()
        # The camera renders its scene before streaming: record until frames surely flowed.
        assert wait_for(lambda: len(live) >= 3, 40.0), cam.output()
        for text in sent:
            instr_pub.publish(String(data=text))
            time.sleep(0.1)
        n = len(live)
        assert wait_for(lambda: len(live) >= n + 10, 20.0), cam.output()
        assert rec.stop() == 0, rec.output()
        assert "wrote" in rec.output(), rec.output()

    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["storage_identifier"] == "mcap" and meta["version"] == 9
    topics = {t["topic_metadata"]["name"]: t for t in meta["topics_with_message_count"]}
    assert topics[COLOR]["topic_metadata"]["type"] == "sensor_msgs/msg/Image"
    assert topics[COLOR]["topic_metadata"]["serialization_format"] == "cdr"
    qos = topics[COLOR]["topic_metadata"]["offered_qos_profiles"]
    assert qos[0]["reliability"] == "best_effort"  # adapted to the camera's sensor_data QoS
    assert topics[INSTR]["topic_metadata"]["offered_qos_profiles"][0]["reliability"] == \
        "reliable"

    replay = BagReplay(bag)
    recorded = list(replay.messages())
    colors = [m for m in recorded if m.topic == COLOR]
    assert len(colors) >= 5
    scene = render_synthetic_scene()
    img = TS.deserialize_cdr(colors[-1].data, "sensor_msgs/msg/Image")
    np.testing.assert_array_equal(np.asarray(img.data).reshape(480, 640, 3), scene.color)
    assert [TS.deserialize_cdr(m.data, "std_msgs/msg/String").data for m in recorded
            if m.topic == INSTR] == sent

    # Replay in another process, remapped, at double speed; receive here.
    got: dict[str, list] = {"/replay/color": [], INSTR: []}
    lock = threading.Lock()

    def keep(topic, msg):
        with lock:
            got[topic].append(msg)

    node.create_subscription(Image, "/replay/color", lambda m: keep("/replay/color", m),
                             qos_from_name("reliable", depth=100))
    node.create_subscription(String, INSTR, lambda m: keep(INSTR, m),
                             QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))
    play_args = ["replay", str(bag), "--topics", COLOR, INSTR, "--remap",
                 f"{COLOR}:=/replay/color", "--rate", "2", "--wait-for-subscribers", "20",
                 "--qos-reliability", "reliable"]
    t0 = time.monotonic()
    with NodeProcess("spatial_ros.cli.main", *play_args) as player:
        assert wait_for(lambda: not player.alive(), 60.0), player.output()
        elapsed = time.monotonic() - t0
        assert player.proc.returncode == 0, player.output()
    span = (max(m.timestamp_ns for m in recorded if m.topic in (COLOR, INSTR))
            - min(m.timestamp_ns for m in recorded if m.topic in (COLOR, INSTR))) / 1e9
    assert elapsed >= span / 2 * 0.9, (elapsed, span)  # original timing, scaled by --rate
    assert wait_for(lambda: len(got["/replay/color"]) == len(colors), 5.0), \
        (len(got["/replay/color"]), len(colors), player.output())
    with lock:
        assert [m.data for m in got[INSTR]] == sent
        stamps = []
        for c in colors:
            stamp = TS.deserialize_cdr(c.data, "sensor_msgs/msg/Image").header.stamp
            stamps.append((stamp.sec, stamp.nanosec))
        assert [(m.header.stamp.sec, m.header.stamp.nanosec) for m in got["/replay/color"]] \
            == stamps  # every frame, in order
        for msg in got["/replay/color"]:  # bit for bit
            np.testing.assert_array_equal(image_to_numpy(msg), scene.color)


def test_sqlite3_bag_roundtrip_with_start_offset_and_metadata(tmp_path):
    bag = write_string_bag(tmp_path / "b", storage="sqlite3", n=50, period_ns=10**8)
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["storage_identifier"] == "sqlite3" and meta["message_count"] == 50
    replay = BagReplay(bag, remap={"/a": "/b"}, start_offset_s=2.0)
    msgs = list(replay.messages())
    assert [m.topic for m in msgs] == ["/b"] * 30 and msgs[0].source_topic == "/a"
    assert TS.deserialize_cdr(msgs[0].data, "std_msgs/msg/String").data == "m20"
    assert replay.topics["/a"].qos == QosSpec("reliable", "transient_local", 1)
    with pytest.raises(BagError, match="past the end"):
        BagReplay(bag, start_offset_s=60)


def test_replay_schedule_keeps_original_timing_scaled_by_rate():
    sched = ReplaySchedule(rate=2.0)
    assert sched.delay_s(5 * 10**9, now=100.0) == 0.0
    assert sched.delay_s(6 * 10**9, now=100.1) == pytest.approx(0.4)
    assert sched.delay_s(7 * 10**9, now=102.0) == 0.0  # late: no waiting, no catch-up sleep
    with pytest.raises(BagError, match="rate"):
        ReplaySchedule(0)


def test_bad_bags_and_arguments_name_the_problem(tmp_path):
    bag = write_string_bag(tmp_path / "b")
    with pytest.raises(BagError, match=r"\['/nope'\] not in bag .* it has \['/a'\]"):
        BagReplay(bag, topics=["/nope"])
    with pytest.raises(BagError, match="OLD:=NEW"):
        parse_remaps(["/a=/b"])
    with pytest.raises(BagError, match="does not exist"):
        BagReplay(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BagError, match=r"no metadata\.yaml"):
        BagReplay(tmp_path / "empty")
    with pytest.raises(BagError, match="already exists"):
        BagWriter(bag)
    data = bag / "b.mcap"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    with pytest.raises(BagError, match="truncated or corrupt"):
        list(BagReplay(bag).messages())


def test_cli_reports_bag_errors_without_a_traceback(tmp_path):
    bag = write_string_bag(tmp_path / "b")
    missing = cli("replay", str(bag), "--topics", "/camera/camera/color/image_raw")
    assert missing.returncode == 2
    assert "/camera/camera/color/image_raw" in missing.stdout and "it has ['/a']" in \
        missing.stdout and "Traceback" not in missing.stderr
    data = bag / "b.mcap"
    data.write_bytes(data.read_bytes()[:200])
    broken = cli("replay", str(bag))
    assert broken.returncode == 2 and "truncated or corrupt" in broken.stdout, broken


@pytest.mark.ros
def test_player_loops_and_offers_the_recorded_qos(ros, tmp_path):
    """In-process player node: a 5-message latched-topic bag, looped at x20."""
    from spatial_ros.nodes.bag_player import BagPlayerNode

    bag = write_string_bag(tmp_path / "b", n=5, period_ns=10**8, topic="/loop")
    got: list[str] = []
    node = ros.node("loop_listener")
    latched = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(String, "/looped", lambda m: got.append(m.data), latched)
    clock: list[int] = []
    node.create_subscription(Clock, "/clock", lambda m: clock.append(
        m.clock.sec * 10**9 + m.clock.nanosec), 10)
    player = ros.add(BagPlayerNode(BagReplay(bag, remap={"/loop": "/looped"}), rate=20.0,
                                   loop=True, wait_for_subscribers_s=10.0, clock_hz=50.0,
                                   context=ros.context))
    pub = player._pubs["/looped"]
    assert pub.qos_profile.durability.name == "TRANSIENT_LOCAL"  # as recorded
    assert wait_for(lambda: len(got) >= 12, 20.0), got
    player.close()
    assert got[:10] == [f"m{i}" for i in range(5)] * 2
    # bag time (clamped to the bag's span), not wall time
    end_ns = player.replay.end_ns  # rosbag2's end time: the last stamp + 1 ns
    assert clock and all(10**9 <= t <= end_ns for t in clock), clock
