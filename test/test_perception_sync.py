"""Approximate-time synchroniser and RViz markers (plain Python objects, no DDS)."""

from __future__ import annotations

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from scipy.spatial.transform import Rotation
from visualization_msgs.msg import Marker

from spatial_ros.nodes.frame_sync import FrameSynchronizer
from spatial_ros.nodes.markers import result_markers
from spatial_ros.perception.result import Grasp, PerceptionResult

MS = 1_000_000


def test_matches_within_slop_and_prefers_the_newest():
    sync = FrameSynchronizer(slop_ns=10 * MS, queue_size=10)
    assert sync.add("color", 100 * MS, "c100") is None
    assert sync.add("depth", 103 * MS, "d103") is None
    frame = sync.add("info", 100 * MS, "i100")
    assert (frame.stamp_ns, frame.color, frame.depth, frame.info) == (100 * MS, "c100", "d103",
                                                                      "i100")
    # depth 40 ms away from colour: no set
    sync.add("color", 200 * MS, "c200")
    sync.add("info", 200 * MS, "i200")
    assert sync.add("depth", 240 * MS, "d240") is None
    assert sync.latest().color == "c100"
    # a newer complete set wins; older queued colour frames are dropped with it
    sync.add("color", 233 * MS, "c233")
    sync.add("info", 233 * MS, "i233")
    assert sync.latest().color == "c233"
    assert sync.pending()["color"] == 0


def test_stale_frames_are_dropped_and_queues_stay_bounded():
    sync = FrameSynchronizer(slop_ns=5 * MS, queue_size=3)
    for t in (100, 101):
        sync.add("color", t * MS, t)
        sync.add("depth", t * MS, t)
        sync.add("info", t * MS, t)
    assert sync.latest().stamp_ns == 101 * MS and sync.matched == 2
    assert sync.add("color", 50 * MS, "old") is None  # older than the newest set
    assert sync.dropped_stale == 1
    for t in range(200, 300):  # colour only (depth stream died): the queue stays at 3
        sync.add("color", t * MS, t)
    assert sync.pending() == {"color": 3, "depth": 0, "info": 0}
    assert sync.latest().stamp_ns == 101 * MS


def test_clock_jumping_back_starts_over():
    """A simulator reset or a looping bag restarts time: new frames must not be dropped."""
    sync = FrameSynchronizer(slop_ns=5 * MS, queue_size=3, jump_back_ns=1000 * MS)
    for stream in ("color", "depth", "info"):
        sync.add(stream, 20_000 * MS, "old")
    for stream in ("color", "depth", "info"):
        sync.add(stream, 33 * MS, "new")
    assert sync.latest().stamp_ns == 33 * MS and sync.latest().color == "new"
    assert sync.clock_resets == 1 and sync.dropped_stale == 0


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="queue_size"):
        FrameSynchronizer(queue_size=0)
    with pytest.raises(ValueError, match="unknown stream 'ir'"):
        FrameSynchronizer().add("ir", 0, None)


def test_markers_for_a_result_and_for_an_error():
    stamp = Time(sec=5, nanosec=7)
    ok = PerceptionResult("1", "the red cup", camera_frame="cam", point_camera=[0.1, 0.0, 0.5],
                          grasp_camera=Grasp([0.1, 0.0, 0.5], [0, 0, 0, 1], 0.05, "cam"))
    array = result_markers(ok, stamp)
    kinds = [m.type for m in array.markers]
    assert array.markers[0].action == Marker.DELETEALL
    assert kinds[1:] == [Marker.SPHERE, Marker.ARROW, Marker.ARROW, Marker.ARROW,
                         Marker.TEXT_VIEW_FACING]
    x_axis = array.markers[2].points
    assert (x_axis[1].x - x_axis[0].x) == pytest.approx(0.06)  # identity grasp: x along x
    assert all(m.header.frame_id == "cam" and m.header.stamp == stamp for m in array.markers[1:])
    assert array.markers[-1].text == "the red cup"
    ok.grasp_approach = "side"  # the model's side-grasp head answered: the label says so
    assert result_markers(ok, stamp).markers[-1].text == "the red cup (side grasp)"
    ok.grasp_approach = "top"
    err = result_markers(PerceptionResult("2", "x", error="no frame"), stamp)
    assert [m.action for m in err.markers] == [Marker.DELETEALL]
    assert np.isfinite(array.markers[1].pose.position.z)
    ok.base_frame = "base_link"
    ok.footprint_base = {"center": [0.5, 0.1, 0.0], "extent": [0.16, 0.12], "top_z": 0.06,
                         "n_pixels": 400}
    box = result_markers(ok, stamp).markers[-1]
    assert box.type == Marker.CUBE and box.header.frame_id == "base_link"
    assert (box.scale.x, box.scale.y) == pytest.approx((0.16, 0.12))
    assert box.pose.position.z == pytest.approx(0.03) and box.scale.z == pytest.approx(0.06)
    ok.footprint_base.update(yaw=np.pi / 6, size=[0.15, 0.05])  # the object's own rectangle
    box = result_markers(ok, stamp).markers[-1]
    assert (box.scale.x, box.scale.y) == pytest.approx((0.15, 0.05))
    q = box.pose.orientation
    assert Rotation.from_quat([q.x, q.y, q.z, q.w]).as_euler("xyz")[2] == \
        pytest.approx(np.pi / 6)


@pytest.mark.ros
def test_ask_cli_without_a_perception_node_exits_2():
    import subprocess
    import sys

    from ros_harness import REPO

    cmd = [sys.executable, "-m", "spatial_ros.cli.main", "ask", "the red cup", "--timeout", "1",
           "--instruction-topic", "/nobody/listens"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert "no perception node answering on /nobody/listens" in out.stderr
