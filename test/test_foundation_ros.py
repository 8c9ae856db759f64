"""The foundation: real rclpy and DDS between real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_harness import REPO, NodeProcess, wait_for
from sensor_msgs.msg import Image

from spatial_ros.nodes.image_conv import image_to_numpy, numpy_to_image

pytestmark = pytest.mark.ros


def test_dds_is_isolated_per_session():
    assert 10 <= int(os.environ["ROS_DOMAIN_ID"]) <= 100
    assert os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"


def test_image_crosses_processes_intact(ros):
    """A 640x480 rgb8 image from another OS process arrives bit-exact over DDS."""
    received: list[Image] = []
    lock = threading.Lock()
    node = ros.node("pattern_listener")

    def on_image(msg: Image) -> None:
        with lock:
            received.append(msg)

    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(Image, "pattern", on_image, qos)
    script = str(REPO / "test" / "scripts" / "pattern_image_publisher.py")
    with NodeProcess(script) as proc:
        ok = wait_for(lambda: len(received) >= 3, timeout=30.0)
        assert ok, f"no images from the publisher process; its output:\n{proc.output()}"
        assert proc.alive()
    from scripts.pattern_image_publisher import pattern  # same generator as the publisher

    with lock:
        msgs = list(received)
    for msg in msgs:
        assert (msg.width, msg.height, msg.encoding) == (640, 480, "rgb8")
        seq = int(msg.header.frame_id)
        np.testing.assert_array_equal(image_to_numpy(msg), pattern(seq))


def test_node_process_stops_cleanly_on_sigint():
    script = str(REPO / "test" / "scripts" / "pattern_image_publisher.py")
    with NodeProcess(script) as proc:
        assert wait_for(lambda: "ready" in proc.output(), timeout=30.0), proc.output()
        rc = proc.stop(timeout=10.0)
    assert rc == 0, proc.output()


@pytest.mark.parametrize("stuck_in", ["close", "init"])
def test_a_node_whose_stop_hangs_is_ended_after_its_grace_period(stuck_in):
    """What a node gets from the kernel when `spatial-ros up` is killed is SIGTERM, and no one
    is left to escalate: a node stuck in its stop, or still stuck in its constructor (never
    back in the executor to notice), must end by itself, saying where it hung."""
    script = str(REPO / "test" / "scripts" / "stuck_closing_node.py")
    args = ["--stuck-in-init"] if stuck_in == "init" else []
    with NodeProcess(script, *args) as proc:
        assert wait_for(lambda: "ready" in proc.output(), timeout=30.0), proc.output()
        time.sleep(0.5)  # inside the wait
        proc.proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        try:
            rc = proc.proc.wait(timeout=30.0)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 30 s after SIGTERM:\n{proc.output()}")
        elapsed = time.monotonic() - t0
    out = proc.output()
    assert rc == 1, out
    assert 1.5 < elapsed < 20.0, elapsed  # the 2 s grace, not the first second
    where = "in close" if stuck_in == "close" else "in __init__"
    assert "Timeout" in out and where in out, out  # every thread's stack, ours included


@pytest.mark.parametrize("encoding,shape,dtype", [
    ("rgb8", (480, 640, 3), np.uint8),
    ("16UC1", (480, 640), np.uint16),
    ("32FC1", (4, 6), np.float32),
    ("mono8", (3, 5), np.uint8),
])
def test_image_conversion_roundtrip(encoding, shape, dtype):
    rng = np.random.default_rng(0)
    array = (rng.random(shape) * 1000).astype(dtype)
    msg = numpy_to_image(array, encoding, frame_id="cam")
    assert msg.step * msg.height == len(msg.data)
    np.testing.assert_array_equal(image_to_numpy(msg), array)


def test_image_conversion_rejects_bad_input():
    with pytest.raises(ValueError, match="channel"):
        numpy_to_image(np.zeros((4, 4), np.uint8), "rgb8")
    with pytest.raises(ValueError, match="unsupported"):
        numpy_to_image(np.zeros((4, 4), np.uint8), "yuv422")
    msg = numpy_to_image(np.zeros((4, 4, 3), np.uint8), "rgb8")
    msg.data = bytes(10)
    with pytest.raises(ValueError, match="bytes"):
        image_to_numpy(msg)
