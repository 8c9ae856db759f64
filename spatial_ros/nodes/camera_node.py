"""RGB-D camera node: a RealSense (or its pyrealsense2 software_device) on realsense-ros topics.

Capture runs in a worker thread (the SDK calls block), publishing from there, so the executor
stays free for parameter and discovery traffic. Everything device-specific lives in
``spatial_ros.sensors.realsense``; this node maps frames to messages, stamps them on the ROS
clock, reconnects with back-off, and reports its rate and latency.
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String

from spatial_ros.geometry.intrinsics import Intrinsics, camera_info_fields
from spatial_ros.nodes.dds_profile import use_large_shm_profile
from spatial_ros.nodes.image_conv import numpy_to_image
from spatial_ros.nodes.runtime import qos_from_name, run_node
from spatial_ros.sensors.clock import Backoff, DeviceClockMapper
from spatial_ros.sensors.realsense import (
    CameraUnavailable,
    FrameSource,
    RealSenseCamera,
    RGBDFrame,
    SoftwareCamera,
    StreamConfig,
)

PARAMETERS = {
    "source": "realsense",  # realsense | software
    "serial_no": "",
    "width": 640,
    "height": 480,
    "fps": 30,
    "align_depth.enable": True,
    "spatial_filter.enable": False,
    "temporal_filter.enable": False,
    "hole_filling_filter.enable": False,
    "depth_scale": 0.0,  # metres per raw unit; 0 = the device's
    "initial_reset": False,
    "frame_timeout_ms": 2000,
    "reconnect_backoff_s": 1.0,
    "reconnect_backoff_max_s": 10.0,
    "qos": "sensor_data",
    "camera_namespace": "/camera/camera",
    "color_frame_id": "camera_color_optical_frame",
    "depth_frame_id": "camera_depth_optical_frame",
    "software_rgb": "",  # software source: RGB image file (empty = synthetic scene)
    "software_depth": "",  # software source: uint16 mm depth PNG registered to software_rgb
    "software_fx": 0.0,  # intrinsics for the image pair; 0 = D435-like default for its size
    "software_fy": 0.0,
    "software_cx": -1.0,  # < 0 = image centre
    "software_cy": -1.0,
    "diagnostics_period_s": 2.0,
    "publish_stats": True,
}


class CameraNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("camera", **kwargs)
        for name, default in PARAMETERS.items():
            self.declare_parameter(name, default)
        p = {name: self.get_parameter(name).value for name in PARAMETERS}
        self.params = p
        ns = p["camera_namespace"].rstrip("/") or "~"
        qos = qos_from_name(p["qos"])
        self.color_pub = self.create_publisher(Image, f"{ns}/color/image_raw", qos)
        self.color_info_pub = self.create_publisher(CameraInfo, f"{ns}/color/camera_info", qos)
        aligned = bool(p["align_depth.enable"])
        depth_topic = "aligned_depth_to_color" if aligned else "depth"
        self.depth_pub = self.create_publisher(
            Image, f"{ns}/{depth_topic}/image_raw" if aligned else f"{ns}/depth/image_rect_raw",
            qos)
        self.depth_info_pub = self.create_publisher(CameraInfo, f"{ns}/{depth_topic}/camera_info",
                                                    qos)
        self.sensor_depth_info_pub = (self.create_publisher(
            CameraInfo, f"{ns}/depth/camera_info", qos) if aligned else None)
        self.stats_pub = (self.create_publisher(String, f"{ns}/stats", qos_from_name("reliable"))
                          if p["publish_stats"] else None)
        self.stream_cfg = StreamConfig(
            serial=p["serial_no"], width=p["width"], height=p["height"], fps=p["fps"],
            align_depth=aligned, spatial_filter=p["spatial_filter.enable"],
            temporal_filter=p["temporal_filter.enable"],
            hole_filling_filter=p["hole_filling_filter.enable"], depth_scale=p["depth_scale"],
            initial_reset=p["initial_reset"], frame_timeout_ms=p["frame_timeout_ms"])
        self.backoff = Backoff(p["reconnect_backoff_s"], p["reconnect_backoff_max_s"])
        self.clock_map = DeviceClockMapper()
        self.source: FrameSource | None = None  # built in the worker: errors are retried
        self._info_cache: dict[tuple, CameraInfo] = {}
        self._stats = _Stats()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, name="camera-capture", daemon=True)
        self._worker.start()
        self.create_timer(float(p["diagnostics_period_s"]), self._report)
        self.get_logger().info(f"camera node: source={p['source']} "
                               f"{p['width']}x{p['height']}@{p['fps']} on {ns}/")

    # --- source -----------------------------------------------------------------------------
    def _make_source(self) -> FrameSource:
        p = self.params
        if p["source"] == "realsense":
            return RealSenseCamera(self.stream_cfg)
        if p["source"] != "software":
            raise ValueError(f"parameter source='{p['source']}': use 'realsense' or 'software'")
        from spatial_ros.sensors.synthetic_scene import (
            SyntheticSceneConfig,
            load_image_pair,
            render_synthetic_scene,
        )

        if bool(p["software_rgb"]) != bool(p["software_depth"]):
            raise ValueError("software source: set both software_rgb and software_depth "
                             "(or neither, for the synthetic scene)")
        if p["software_rgb"]:
            import imageio.v3 as iio

            h, w = iio.improps(p["software_depth"]).shape[:2]
            fx = p["software_fx"] or 615.0 * w / 640
            fy = p["software_fy"] or fx
            cx = p["software_cx"] if p["software_cx"] >= 0 else (w - 1) / 2
            cy = p["software_cy"] if p["software_cy"] >= 0 else (h - 1) / 2
            scene = load_image_pair(p["software_rgb"], p["software_depth"],
                                    Intrinsics(w, h, fx, fy, cx, cy))
        else:
            scene = render_synthetic_scene(SyntheticSceneConfig(width=p["width"],
                                                                height=p["height"]))
        return SoftwareCamera(self.stream_cfg, [scene])

    # --- capture loop -------------------------------------------------------------------------
    def _run(self) -> None:
        log = self.get_logger()
        opened = False
        while not self._stop.is_set():
            if not opened:
                try:
                    if self.source is None:
                        self.source = self._make_source()
                    self.source.open()
                    opened = True
                    self.backoff.reset()
                    self._stats.connected = True
                    log.info(f"streaming from {self.source.description}")
                except Exception as exc:  # any SDK failure means "retry later"
                    delay = self.backoff.next_delay()
                    log.warn(f"camera not available: {exc}; retrying in {delay:.1f} s")
                    self._stop.wait(delay)
                    continue
            try:
                frame = self.source.read()
                if frame is None:
                    self._stats.incomplete += 1
                    continue
                self._publish(frame)
            except Exception as exc:  # never let the capture thread die
                if self._stop.is_set() or not self.context.ok():
                    break  # shutting down: the context went away under the publisher
                kind = "lost" if isinstance(exc, CameraUnavailable) else "error"
                log.error(f"camera {kind}: {exc}; reconnecting")
                self._stats.connected = False
                self._stats.errors += 1
                self._close_source()
                opened = False
                self._stop.wait(self.backoff.next_delay())

    def _publish(self, frame: RGBDFrame) -> None:
        now_ns = self.get_clock().now().nanoseconds
        stamp_ns = self.clock_map.to_host_ns(frame.timestamp_ms, now_ns, frame.timestamp_domain)
        stamp = Time(nanoseconds=stamp_ns).to_msg()
        p = self.params
        depth_frame = p["color_frame_id"] if frame.aligned else p["depth_frame_id"]
        self.color_pub.publish(numpy_to_image(frame.color, "rgb8", stamp, p["color_frame_id"]))
        self.depth_pub.publish(numpy_to_image(frame.depth_mm, "16UC1", stamp, depth_frame))
        self.color_info_pub.publish(self._info(frame.color_intrinsics, stamp,
                                               p["color_frame_id"]))
        self.depth_info_pub.publish(self._info(frame.depth_intrinsics, stamp, depth_frame))
        if self.sensor_depth_info_pub is not None:
            self.sensor_depth_info_pub.publish(
                self._info(frame.sensor_depth_intrinsics, stamp, p["depth_frame_id"]))
        done_ns = self.get_clock().now().nanoseconds
        self._stats.frame(frame.frame_number, (done_ns - stamp_ns) * 1e-6)

    def _info(self, intr: Intrinsics, stamp, frame_id: str) -> CameraInfo:
        key = (intr, frame_id)
        msg = self._info_cache.get(key)
        if msg is None:
            msg = CameraInfo()
            for name, value in camera_info_fields(intr).items():
                setattr(msg, name, value)
            msg.header.frame_id = frame_id
            self._info_cache[key] = msg
        msg.header.stamp = stamp
        return msg

    # --- diagnostics --------------------------------------------------------------------------
    def _report(self) -> None:
        summary = self._stats.window_summary()
        summary["source"] = self.params["source"]
        summary["device"] = self.source.description if self.source else None
        if summary["frames"]:
            self.get_logger().info(
                f"{summary['rate_hz']:.1f} Hz, latency {summary['latency_ms_mean']:.1f} ms "
                f"(max {summary['latency_ms_max']:.1f}), device drops "
                f"{summary['device_dropped']}, published {summary['published_total']}")
        if self.stats_pub is not None:
            self.stats_pub.publish(String(data=json.dumps(summary)))

    def _close_source(self) -> None:
        if self.source is None:
            return
        try:
            self.source.close()
        except Exception as exc:  # closing a vanished device may fail
            self.get_logger().debug(f"closing camera: {exc}")

    def close(self) -> None:
        self._stop.set()
        self._worker.join(timeout=5.0)
        self._close_source()


class _Stats:
    """Frame counters, reset per diagnostics window; safe across the two threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.connected = False
        self.incomplete = 0
        self.errors = 0
        self.published_total = 0
        self._last_number: int | None = None
        self._reset_window()

    def _reset_window(self) -> None:
        self._t0 = time.monotonic()
        self._latencies: list[float] = []
        self._dropped = 0

    def frame(self, number: int, latency_ms: float) -> None:
        with self._lock:
            if self._last_number is not None and number > self._last_number + 1:
                self._dropped += number - self._last_number - 1
            self._last_number = number
            self._latencies.append(latency_ms)
            self.published_total += 1

    def window_summary(self) -> dict:
        with self._lock:
            lat = np.asarray(self._latencies) if self._latencies else np.zeros(1)
            dt = max(time.monotonic() - self._t0, 1e-9)
            out = {
                "connected": self.connected,
                "frames": len(self._latencies),
                "rate_hz": round(len(self._latencies) / dt, 2),
                "latency_ms_mean": round(float(lat.mean()), 2),
                "latency_ms_max": round(float(lat.max()), 2),
                "device_dropped": self._dropped,
                "published_total": self.published_total,
                "incomplete_framesets": self.incomplete,
                "errors": self.errors,
                "last_frame_number": self._last_number,
            }
            self._reset_window()
            return out


def main(argv: list[str] | None = None) -> int:
    use_large_shm_profile()  # before rclpy.init: see nodes/dds_profile.py
    return run_node(CameraNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
