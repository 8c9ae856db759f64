"""Camera pipeline: frames injected into pyrealsense2's software_device go through the real SDK
(syncer, rs.align) and, in the node tests, over DDS from another process."""

from __future__ import annotations

import json
import os
import threading

import imageio.v3 as iio
import numpy as np
import pytest
from ros_harness import REPO, NodeProcess, wait_for
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String

from spatial_ros.geometry.intrinsics import Intrinsics
from spatial_ros.nodes.image_conv import image_to_numpy
from spatial_ros.nodes.runtime import qos_from_name
from spatial_ros.sensors.clock import Backoff, DeviceClockMapper
from spatial_ros.sensors.realsense import (
    SoftwareCamera,
    StreamConfig,
    depth_units_to_mm,
)
from spatial_ros.sensors.synthetic_scene import load_image_pair, render_synthetic_scene

NS = "/camera/camera"


@pytest.fixture(scope="module")
def scene():
    return render_synthetic_scene()


def read_frames(cam: SoftwareCamera, n: int):
    frames = []
    for _ in range(n + 5):
        frame = cam.read()
        if frame is not None:
            frames.append(frame)
        if len(frames) == n:
            break
    return frames


def assert_aligned_like_geometry(depth_mm: np.ndarray, truth_mm: np.ndarray) -> None:
    """The SDK's aligned depth agrees with depth ray-cast from the colour camera, except on a
    thin band of occlusion edges."""
    both = (depth_mm > 0) & (truth_mm > 0)
    assert both.mean() > 0.98, f"aligned depth covers only {both.mean():.1%} of the image"
    err = np.abs(depth_mm.astype(int) - truth_mm.astype(int))[both]
    assert np.median(err) <= 1
    assert (err > 5).mean() < 0.02, f"{(err > 5).mean():.2%} of pixels off by > 5 mm"


# --- plain Python: the SDK path without ROS ------------------------------------------------

def test_software_device_alignment_matches_raycast_geometry(scene):
    cam = SoftwareCamera(StreamConfig(), [scene])
    cam.open()
    try:
        frames = read_frames(cam, 3)
    finally:
        cam.close()
    assert len(frames) == 3
    f = frames[-1]
    assert f.aligned and f.timestamp_domain == "hardware_clock"
    assert f.color_intrinsics == scene.color_intrinsics
    assert f.depth_intrinsics == scene.color_intrinsics  # aligned to colour
    assert f.sensor_depth_intrinsics == scene.depth_intrinsics
    np.testing.assert_array_equal(f.color, scene.color)
    # The depth sensor sees the scene from another viewpoint with other intrinsics ...
    assert np.abs(scene.depth_mm.astype(int) - scene.color_depth_mm).max() > 50
    # ... and the SDK's alignment maps it onto the colour view.
    assert_aligned_like_geometry(f.depth_mm, scene.color_depth_mm)
    assert [fr.frame_number for fr in frames] == sorted({fr.frame_number for fr in frames})


def test_software_device_filters_and_unaligned_output(scene):
    holes = render_synthetic_scene()
    holes.depth_mm[200:204, 300:304] = 0  # a small hole the hole-filling filter must close
    cfg = StreamConfig(align_depth=False, hole_filling_filter=True, spatial_filter=True)
    cam = SoftwareCamera(cfg, [holes])
    cam.open()
    try:
        f = read_frames(cam, 1)[0]
    finally:
        cam.close()
    assert not f.aligned and f.depth_intrinsics == scene.depth_intrinsics
    assert np.all(f.depth_mm[200:204, 300:304] > 0)
    assert abs(int(f.depth_mm[300, 320]) - int(scene.depth_mm[300, 320])) <= 5


def test_depth_scale_override_converts_to_millimetres(scene):
    cam = SoftwareCamera(StreamConfig(depth_scale=0.0001), [scene])  # D405-style 0.1 mm units
    cam.open()
    try:
        f = read_frames(cam, 1)[0]
    finally:
        cam.close()
    truth = np.rint(scene.color_depth_mm / 10.0)
    both = (f.depth_mm > 0) & (truth > 0)
    assert np.median(np.abs(f.depth_mm[both] - truth[both])) <= 1
    np.testing.assert_array_equal(depth_units_to_mm(np.array([70000 // 2, 1000], np.uint16),
                                                    0.002), [0, 2000])


def test_image_pair_errors_name_the_problem(tmp_path):
    rgb, depth = tmp_path / "rgb.png", tmp_path / "depth.png"
    iio.imwrite(rgb, np.zeros((48, 64, 3), np.uint8))
    iio.imwrite(depth, np.zeros((40, 64), np.uint16))
    intr = Intrinsics(64, 48, 60, 60, 32, 24)
    with pytest.raises(ValueError, match=r"64x48 but depth .* is 64x40"):
        load_image_pair(str(rgb), str(depth), intr)
    iio.imwrite(depth, np.zeros((48, 64), np.uint8))
    with pytest.raises(ValueError, match="uint16"):
        load_image_pair(str(rgb), str(depth), intr)
    with pytest.raises(ValueError, match="positive"):
        StreamConfig(fps=0)


def test_device_clock_mapping_and_backoff():
    mapper = DeviceClockMapper()
    base = 1_700_000_000_000_000_000
    # device clock starts at 0; host receives frames 5-9 ms after capture
    stamps = [mapper.to_host_ns(k * 33.3, base + int((k * 33.3 + lat) * 1e6))
              for k, lat in enumerate([9, 5, 7, 6, 8])]
    # after the 5 ms sample, the offset estimate is (host - device) minimum
    assert stamps[-1] == base + round((4 * 33.3 + 5) * 1e6)
    assert mapper.to_host_ns(1000.0, 0, "system_time") == 1_000_000_000
    reset = mapper.to_host_ns(1.0, base + 10**9)  # device clock went back: re-synchronize
    assert reset == base + 10**9
    b = Backoff(0.5, 3.0)
    assert [b.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    b.reset()
    assert b.next_delay() == 0.5


# --- the node in another process -------------------------------------------------------------

class Collector:
    def __init__(self, node, topics: dict[str, type], qos: str = "sensor_data") -> None:
        self.lock = threading.Lock()
        self.msgs: dict[str, list] = {t: [] for t in topics}
        for topic, kind in topics.items():
            q = qos_from_name("reliable") if kind is String else qos_from_name(qos)
            node.create_subscription(kind, topic, lambda m, t=topic: self._add(t, m), q)

    def _add(self, topic, msg) -> None:
        with self.lock:
            self.msgs[topic].append(msg)

    def count(self, topic: str) -> int:
        with self.lock:
            return len(self.msgs[topic])

    def last(self, topic: str):
        with self.lock:
            return self.msgs[topic][-1]


TOPICS = {
    f"{NS}/color/image_raw": Image,
    f"{NS}/aligned_depth_to_color/image_raw": Image,
    f"{NS}/color/camera_info": CameraInfo,
    f"{NS}/aligned_depth_to_color/camera_info": CameraInfo,
    f"{NS}/depth/camera_info": CameraInfo,
    f"{NS}/stats": String,
}


@pytest.mark.ros
def test_node_publishes_sdk_aligned_frames_across_processes(ros, scene):
    node = ros.node("camera_listener")
    got = Collector(node, TOPICS)
    args = ["--ros-args", "--params-file", str(REPO / "config" / "camera.yaml"),
            "-p", "source:=software", "-p", "diagnostics_period_s:=1.0"]
    with NodeProcess("spatial_ros.nodes.camera_node", *args) as proc:
        ok = wait_for(lambda: all(got.count(t) >= 3 for t in TOPICS), timeout=40.0)
        assert ok, {t: got.count(t) for t in TOPICS} | {"log": proc.output()}

        def stats() -> list[dict]:
            with got.lock:
                return [json.loads(m.data) for m in got.msgs[f"{NS}/stats"]]

        assert wait_for(lambda: any(s["rate_hz"] > 5 for s in stats()), 20.0), stats()
        assert proc.alive()
    color, depth = got.last(f"{NS}/color/image_raw"), got.last(f"{NS}/aligned_depth_to_color/"
                                                                "image_raw")
    assert (color.encoding, depth.encoding) == ("rgb8", "16UC1")
    assert color.header.frame_id == depth.header.frame_id == "camera_color_optical_frame"
    np.testing.assert_array_equal(image_to_numpy(color), scene.color)
    assert_aligned_like_geometry(image_to_numpy(depth), scene.color_depth_mm)
    info = got.last(f"{NS}/color/camera_info")
    assert Intrinsics.from_camera_info(info) == scene.color_intrinsics
    assert Intrinsics.from_camera_info(got.last(f"{NS}/aligned_depth_to_color/camera_info")) \
        == scene.color_intrinsics
    depth_info = got.last(f"{NS}/depth/camera_info")
    assert Intrinsics.from_camera_info(depth_info) == scene.depth_intrinsics
    assert depth_info.header.frame_id == "camera_depth_optical_frame"
    # Stamps come from the device clock mapped onto ROS time: recent and increasing.
    now = node.get_clock().now().nanoseconds
    stamp = color.header.stamp.sec * 10**9 + color.header.stamp.nanosec
    assert 0 < now - stamp < 30 * 10**9
    last = stats()[-1]
    assert last["source"] == "software" and last["connected"]
    assert last["latency_ms_mean"] > 0 and last["published_total"] >= 3


@pytest.mark.ros
def test_node_streams_an_image_pair_with_given_intrinsics(ros, tmp_path):
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    depth = rng.integers(400, 2000, (120, 160)).astype(np.uint16)
    depth[10:20, 10:20] = 0
    iio.imwrite(tmp_path / "rgb.png", rgb)
    iio.imwrite(tmp_path / "depth.png", depth)
    node = ros.node("pair_listener")
    got = Collector(node, {f"{NS}/aligned_depth_to_color/image_raw": Image,
                           f"{NS}/color/camera_info": CameraInfo}, qos="reliable")
    args = ["--ros-args", "-p", "source:=software", "-p", "qos:=reliable", "-p", "fps:=15",
            "-p", f"software_rgb:={tmp_path / 'rgb.png'}",
            "-p", f"software_depth:={tmp_path / 'depth.png'}", "-p", "software_fx:=150.0"]
    with NodeProcess("spatial_ros.nodes.camera_node", *args) as proc:
        ok = wait_for(lambda: got.count(f"{NS}/aligned_depth_to_color/image_raw") >= 2, 40.0)
        assert ok, proc.output()
    info = Intrinsics.from_camera_info(got.last(f"{NS}/color/camera_info"))
    assert (info.width, info.height, info.fx, info.fy, info.cx) == (160, 120, 150, 150, 79.5)
    # A registered pair is published as aligned depth with its values intact.
    out = got.last(f"{NS}/aligned_depth_to_color/image_raw")
    assert out.header.frame_id == "camera_color_optical_frame"
    np.testing.assert_array_equal(image_to_numpy(out), depth)


@pytest.mark.ros
def test_node_survives_bad_sources_and_says_why(ros, tmp_path):
    """No hardware here: the realsense source reports it and keeps retrying; a broken image
    pair is reported with the file sizes; neither process dies."""
    iio.imwrite(tmp_path / "rgb.png", np.zeros((48, 64, 3), np.uint8))
    iio.imwrite(tmp_path / "depth.png", np.zeros((40, 64), np.uint16))
    fast = ["-p", "reconnect_backoff_s:=0.2", "-p", "reconnect_backoff_max_s:=0.4"]
    with NodeProcess("spatial_ros.nodes.camera_node", "--ros-args", *fast) as hw, \
            NodeProcess("spatial_ros.nodes.camera_node", "--ros-args", "-r", "__node:=cam2",
                        "-p", "source:=software", "-p", "camera_namespace:=/cam2", *fast,
                        "-p", f"software_rgb:={tmp_path / 'rgb.png'}",
                        "-p", f"software_depth:={tmp_path / 'depth.png'}") as bad:
        assert wait_for(lambda: hw.output().count("retrying") >= 2, 40.0), hw.output()
        assert wait_for(lambda: bad.output().count("retrying") >= 2, 40.0), bad.output()
        assert hw.alive() and bad.alive()
    assert "no RealSense camera connected" in hw.output()
    assert "is 64x48 but depth" in bad.output()


def test_large_shm_profile_respects_user_fastdds_settings(monkeypatch):
    from spatial_ros.nodes.dds_profile import use_large_shm_profile

    for name in ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE",
                 "FASTDDS_BUILTIN_TRANSPORTS", "RMW_IMPLEMENTATION", "SPATIAL_ROS_LARGE_SHM"):
        monkeypatch.delenv(name, raising=False)
    path = use_large_shm_profile()
    assert path is not None and "<segment_size>33554432</segment_size>" in path.read_text()
    assert os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] == str(path)
    monkeypatch.setenv("FASTDDS_DEFAULT_PROFILES_FILE", "/mine.xml")
    assert use_large_shm_profile() is None  # the user's own profile wins
    monkeypatch.delenv("FASTDDS_DEFAULT_PROFILES_FILE")
    monkeypatch.setenv("SPATIAL_ROS_LARGE_SHM", "0")
    assert use_large_shm_profile() is None
