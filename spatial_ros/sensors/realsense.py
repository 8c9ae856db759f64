"""RealSense RGB-D capture through pyrealsense2, hardware or ``software_device``.

Both sources end in the same :class:`FrameProcessor` (SDK post-processing filters, then
``rs.align`` of depth to colour, then conversion to millimetres), so frames injected into a
software device take exactly the SDK path a D435 would. No ROS here: the camera node wraps a
:class:`FrameSource` and publishes what it returns.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyrealsense2 as rs

from spatial_ros.geometry.intrinsics import Intrinsics
from spatial_ros.sensors.synthetic_scene import RGBDScene

log = logging.getLogger(__name__)


class CameraUnavailable(RuntimeError):
    """The camera cannot deliver frames now (absent, wrong serial, unplugged, stalled);
    the caller should close the source and retry with back-off."""


@dataclass
class StreamConfig:
    serial: str = ""  # empty: the first device found
    width: int = 640
    height: int = 480
    fps: int = 30
    align_depth: bool = True
    spatial_filter: bool = False
    temporal_filter: bool = False
    hole_filling_filter: bool = False
    depth_scale: float = 0.0  # metres per raw depth unit; 0 = read it from the device
    initial_reset: bool = False
    frame_timeout_ms: int = 2000

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.fps <= 0:
            raise ValueError(f"stream: width/height/fps must be positive, got "
                             f"{self.width}x{self.height}@{self.fps}")
        if self.depth_scale < 0:
            raise ValueError(f"stream: depth_scale must be >= 0 (0 = device), got "
                             f"{self.depth_scale}")


@dataclass
class RGBDFrame:
    color: np.ndarray  # (H, W, 3) uint8 RGB
    depth_mm: np.ndarray  # (H, W) uint16 millimetres, 0 = no depth
    color_intrinsics: Intrinsics
    depth_intrinsics: Intrinsics  # of ``depth_mm``: the colour intrinsics when aligned
    sensor_depth_intrinsics: Intrinsics  # the depth sensor's own
    aligned: bool
    timestamp_ms: float  # device timestamp
    timestamp_domain: str  # "hardware_clock", "system_time" or "global_time"
    frame_number: int


class FrameSource(Protocol):
    description: str

    def open(self) -> None: ...
    def read(self) -> RGBDFrame | None: ...
    def close(self) -> None: ...


def _intrinsics_of(frame: rs.frame) -> Intrinsics:
    return Intrinsics.from_rs(frame.profile.as_video_stream_profile().get_intrinsics())


def depth_units_to_mm(raw: np.ndarray, depth_scale: float) -> np.ndarray:
    """Raw Z16 units -> uint16 mm (the 16UC1 convention); saturates to 0 (= no depth) rather
    than wrapping when a sub-millimetre unit overflows 65535 mm."""
    if abs(depth_scale - 0.001) < 1e-12:
        return np.array(raw, dtype=np.uint16, copy=True)
    mm = np.rint(raw.astype(np.float64) * (depth_scale * 1000.0))
    mm[mm > 65535] = 0
    return mm.astype(np.uint16)


class FrameProcessor:
    """rs.frameset -> RGBDFrame: filters (realsense-ros order: spatial, temporal, hole
    filling), alignment of depth to colour, unit conversion."""

    def __init__(self, cfg: StreamConfig, depth_scale: float, registered: bool = False) -> None:
        """``registered``: depth already shares the colour viewpoint and intrinsics (an
        aligned image pair), so ``rs.align`` - whose pixel-footprint splatting leaves a few
        percent of speckle holes even for an identity mapping - is skipped."""
        self.depth_scale = depth_scale
        self.registered = registered
        self.filters: list[rs.filter] = []
        if cfg.spatial_filter:
            self.filters.append(rs.spatial_filter())
        if cfg.temporal_filter:
            self.filters.append(rs.temporal_filter())
        if cfg.hole_filling_filter:
            self.filters.append(rs.hole_filling_filter())
        self.align = rs.align(rs.stream.color) if cfg.align_depth and not registered else None

    def process(self, frames: rs.composite_frame) -> RGBDFrame | None:
        """None for an incomplete frameset (the syncer may emit a lone frame at start-up)."""
        depth, color = frames.get_depth_frame(), frames.get_color_frame()
        if not depth or not color:
            return None
        sensor_depth_intr = _intrinsics_of(depth)
        for flt in self.filters:
            frames = flt.process(frames).as_frameset()
        if self.align is not None:
            frames = self.align.process(frames)
            depth, color = frames.get_depth_frame(), frames.get_color_frame()
            if not depth or not color:
                return None
        else:
            depth = frames.get_depth_frame()
        color_np = np.asanyarray(color.get_data())
        fmt = color.profile.format()
        if fmt == rs.format.bgr8:
            color_np = color_np[..., ::-1]
        elif fmt not in (rs.format.rgb8,):
            raise ValueError(f"unsupported colour format {fmt}; configure rgb8 or bgr8")
        return RGBDFrame(
            color=np.ascontiguousarray(color_np),
            depth_mm=depth_units_to_mm(np.asanyarray(depth.get_data()), self.depth_scale),
            color_intrinsics=_intrinsics_of(color),
            depth_intrinsics=_intrinsics_of(color) if self.registered else _intrinsics_of(depth),
            sensor_depth_intrinsics=sensor_depth_intr,
            aligned=self.align is not None or self.registered,
            timestamp_ms=float(color.get_timestamp()),
            timestamp_domain=str(color.get_frame_timestamp_domain()).split(".")[-1],
            frame_number=int(color.get_frame_number()),
        )


def list_devices() -> list[dict[str, str]]:
    """Connected RealSense devices: name, serial, firmware, USB type."""
    out = []
    for dev in rs.context().query_devices():
        info = {}
        for key, field in (("name", rs.camera_info.name),
                           ("serial", rs.camera_info.serial_number),
                           ("firmware", rs.camera_info.firmware_version),
                           ("usb", rs.camera_info.usb_type_descriptor)):
            info[key] = dev.get_info(field) if dev.supports(field) else ""
        out.append(info)
    return out


class RealSenseCamera:
    """A physical RealSense (D4xx) opened by serial number through ``rs.pipeline``."""

    def __init__(self, cfg: StreamConfig) -> None:
        self.cfg = cfg
        self.description = f"RealSense {cfg.serial or '(first found)'}"
        self._pipeline: rs.pipeline | None = None
        self._processor: FrameProcessor | None = None
        self._reset_done = False
        self.depth_scale = 0.0

    def _find_device(self, ctx: rs.context) -> rs.device:
        devices = list(ctx.query_devices())
        if not devices:
            raise CameraUnavailable("no RealSense camera connected (check the USB cable, "
                                    "udev rules and that libusb-1.0 is installed)")
        if not self.cfg.serial:
            return devices[0]
        for dev in devices:
            if dev.get_info(rs.camera_info.serial_number) == self.cfg.serial:
                return dev
        found = [d.get_info(rs.camera_info.serial_number) for d in devices]
        raise CameraUnavailable(f"RealSense with serial '{self.cfg.serial}' not found; "
                                f"connected: {found}")

    def open(self) -> None:
        ctx = rs.context()
        dev = self._find_device(ctx)
        serial = dev.get_info(rs.camera_info.serial_number)
        if self.cfg.initial_reset and not self._reset_done:
            log.info("hardware reset of %s (initial_reset)", serial)
            dev.hardware_reset()
            self._reset_done = True
            deadline = time.monotonic() + 15.0
            time.sleep(2.0)
            while time.monotonic() < deadline:
                serials = [d.get_info(rs.camera_info.serial_number)
                           for d in rs.context().query_devices()]
                if serial in serials:
                    break
                time.sleep(0.5)
            else:
                raise CameraUnavailable(f"RealSense {serial} did not come back after reset")
        cfg = rs.config()
        cfg.enable_device(serial)
        c = self.cfg
        cfg.enable_stream(rs.stream.depth, c.width, c.height, rs.format.z16, c.fps)
        cfg.enable_stream(rs.stream.color, c.width, c.height, rs.format.rgb8, c.fps)
        pipeline = rs.pipeline(ctx)
        try:
            profile = pipeline.start(cfg)
        except RuntimeError as exc:
            raise CameraUnavailable(f"cannot start RealSense {serial} at "
                                    f"{c.width}x{c.height}@{c.fps}: {exc}") from exc
        device_scale = profile.get_device().first_depth_sensor().get_depth_scale()
        self.depth_scale = c.depth_scale or device_scale
        self._processor = FrameProcessor(c, self.depth_scale)
        self._pipeline = pipeline
        self.description = f"RealSense {dev.get_info(rs.camera_info.name)} #{serial}"
        log.info("%s streaming %dx%d@%d, depth scale %.6g m/unit (device %.6g)",
                 self.description, c.width, c.height, c.fps, self.depth_scale, device_scale)

    def read(self) -> RGBDFrame | None:
        if self._pipeline is None or self._processor is None:
            raise CameraUnavailable("camera is not open")
        try:
            frames = self._pipeline.wait_for_frames(self.cfg.frame_timeout_ms)
        except RuntimeError as exc:
            raise CameraUnavailable(f"{self.description}: no frames for "
                                    f"{self.cfg.frame_timeout_ms} ms ({exc})") from exc
        return self._processor.process(frames)

    def close(self) -> None:
        if self._pipeline is not None:
            try:
                self._pipeline.stop()
            except RuntimeError as exc:  # already stopped / device gone
                log.debug("pipeline.stop: %s", exc)
        self._pipeline = None


class SoftwareCamera:
    """A ``pyrealsense2.software_device`` with a depth and a colour sensor, fed from
    :class:`RGBDScene` frames at ``fps`` on its own device clock. Frames go through the SDK
    syncer, filters and ``rs.align`` like a real camera's."""

    def __init__(self, cfg: StreamConfig, scenes: list[RGBDScene]) -> None:
        if not scenes:
            raise ValueError("software camera needs at least one scene")
        first = scenes[0]
        for s in scenes:
            if (s.color.shape[:2] != (s.color_intrinsics.height, s.color_intrinsics.width) or
                    s.depth_mm.shape != (s.depth_intrinsics.height, s.depth_intrinsics.width)):
                raise ValueError("software camera: image sizes do not match their intrinsics")
            if (s.color_intrinsics, s.depth_intrinsics) != (first.color_intrinsics,
                                                            first.depth_intrinsics):
                raise ValueError("software camera: all scenes must share intrinsics")
        self.cfg = cfg
        self.scenes = scenes
        self.depth_scale = cfg.depth_scale or 0.001
        self.description = "software_device (pyrealsense2)"
        self._lock = threading.Lock()
        self._dev: rs.software_device | None = None
        self._n = 0
        self._t0 = 0.0

    def open(self) -> None:
        s = self.scenes[0]
        dev = rs.software_device()
        dev.register_info(rs.camera_info.name, "Software RealSense")
        dev.register_info(rs.camera_info.serial_number, self.cfg.serial or "software")
        self._depth_sensor = dev.add_sensor("Stereo Module")
        self._color_sensor = dev.add_sensor("RGB Camera")
        self._depth_profile = self._add_stream(self._depth_sensor, rs.stream.depth, 0,
                                               s.depth_intrinsics, rs.format.z16, 2)
        self._color_profile = self._add_stream(self._color_sensor, rs.stream.color, 1,
                                               s.color_intrinsics, rs.format.rgb8, 3)
        self._depth_sensor.add_read_only_option(rs.option.depth_units, self.depth_scale)
        ext = rs.extrinsics()
        ext.rotation = s.depth_to_color.rotation.T.reshape(-1).tolist()  # column-major
        ext.translation = s.depth_to_color.translation.tolist()
        self._depth_profile.register_extrinsics_to(self._color_profile, ext)
        self._syncer = rs.syncer(4)
        self._depth_sensor.open(self._depth_profile)
        self._color_sensor.open(self._color_profile)
        self._depth_sensor.start(self._syncer)
        self._color_sensor.start(self._syncer)
        registered = (s.color_intrinsics == s.depth_intrinsics
                      and np.allclose(s.depth_to_color.as_matrix(), np.eye(4)))
        self._processor = FrameProcessor(self.cfg, self.depth_scale, registered)
        self._dev = dev
        self._n = 0
        self._t0 = time.monotonic()
        self._next_due = self._t0

    def _add_stream(self, sensor, kind, uid: int, intr: Intrinsics, fmt, bpp: int):
        vs = rs.video_stream()
        vs.type, vs.index, vs.uid = kind, 0, uid
        vs.width, vs.height, vs.fps, vs.bpp, vs.fmt = intr.width, intr.height, self.cfg.fps, \
            bpp, fmt
        vs.intrinsics = intr.to_rs()
        return sensor.add_video_stream(vs, True)

    def _inject(self, scene: RGBDScene, n: int, device_ms: float) -> None:
        for sensor, profile, pixels, bpp in (
                (self._depth_sensor, self._depth_profile, scene.depth_mm, 2),
                (self._color_sensor, self._color_profile, scene.color, 3)):
            frame = rs.software_video_frame()
            frame.pixels = np.ascontiguousarray(pixels)
            frame.bpp = bpp
            frame.stride = pixels.shape[1] * bpp
            frame.timestamp = device_ms
            frame.domain = rs.timestamp_domain.hardware_clock
            frame.frame_number = n
            frame.profile = profile.as_video_stream_profile()
            if bpp == 2:
                frame.depth_units = self.depth_scale
            sensor.on_video_frame(frame)

    def read(self) -> RGBDFrame | None:
        """Waits for the next frame time, injects one frame pair, returns the processed
        frame (None while the syncer is still pairing its first frames)."""
        if self._dev is None:
            raise CameraUnavailable("software camera is not open")
        now = time.monotonic()
        if self._next_due > now:
            time.sleep(self._next_due - now)
        # Fixed-rate schedule that does not try to catch up after a stall.
        self._next_due = max(self._next_due + 1.0 / self.cfg.fps, time.monotonic())
        n = self._n
        self._n += 1
        scene = self.scenes[n % len(self.scenes)]
        self._inject(scene, n, (time.monotonic() - self._t0) * 1000.0)
        frames = self._syncer.try_wait_for_frames(self.cfg.frame_timeout_ms)
        ok, frames = frames if isinstance(frames, tuple) else (bool(frames), frames)
        if not ok:
            raise CameraUnavailable(f"software device produced no frames for "
                                    f"{self.cfg.frame_timeout_ms} ms")
        while True:  # the syncer may hold an older (e.g. start-up, unpaired) set: skip to newest
            newer = self._syncer.poll_for_frames()
            if not newer:
                break
            frames = newer
        return self._processor.process(frames)

    def close(self) -> None:
        if self._dev is None:
            return
        for sensor in (self._color_sensor, self._depth_sensor):
            try:
                sensor.stop()
                sensor.close()
            except RuntimeError as exc:
                log.debug("software sensor stop: %s", exc)
        self._dev = None
