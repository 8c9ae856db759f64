"""RGB-D frames to and from rosbag2 files with the ``rosbags`` library (no ROS install).

Topics follow realsense-ros under a namespace (default ``/camera/camera``):
``color/image_raw`` (rgb8/bgr8), ``aligned_depth_to_color/image_raw`` (16UC1 mm) and
``color/camera_info``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spatial_ros.common.image_codec import image_to_numpy
from spatial_ros.geometry.intrinsics import Intrinsics, camera_info_fields

COLOR = "color/image_raw"
DEPTH = "aligned_depth_to_color/image_raw"
INFO = "color/camera_info"


@dataclass
class BagFrame:
    stamp_ns: int
    rgb: np.ndarray  # HxWx3 uint8
    depth_mm: np.ndarray  # HxW uint16
    intrinsics: Intrinsics


def _typestore():
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_KILTED)


def _topic(namespace: str, name: str) -> str:
    return f"{namespace.rstrip('/')}/{name}"


def write_rgbd_bag(path: str | Path, frames: Iterable[BagFrame],
                   namespace: str = "/camera/camera", frame_id: str = "camera_color_optical_frame"
                   ) -> Path:
    """Writes frames as a rosbag2 (sqlite3) directory, the way realsense-ros records them."""
    from spatial_ros.bags.writer import BagWriter

    ts = _typestore()
    T = ts.types
    Header, Time = T["std_msgs/msg/Header"], T["builtin_interfaces/msg/Time"]
    Image, Info = T["sensor_msgs/msg/Image"], T["sensor_msgs/msg/CameraInfo"]
    Roi = T["sensor_msgs/msg/RegionOfInterest"]
    path = Path(path)
    topics = {kind: _topic(namespace, kind) for kind in (COLOR, DEPTH, INFO)}
    with BagWriter(path, storage="sqlite3") as writer:
        for kind, topic in topics.items():
            writer.add_topic(topic, (Info if kind == INFO else Image).__msgtype__)
        for f in frames:
            h, w = f.depth_mm.shape
            header = Header(stamp=Time(sec=int(f.stamp_ns // 10**9),
                                       nanosec=int(f.stamp_ns % 10**9)), frame_id=frame_id)
            rgb = Image(header=header, height=h, width=w, encoding="rgb8", is_bigendian=0,
                        step=w * 3, data=np.frombuffer(np.ascontiguousarray(f.rgb).tobytes(),
                                                       np.uint8))
            depth = Image(header=header, height=h, width=w, encoding="16UC1", is_bigendian=0,
                          step=w * 2,
                          data=np.frombuffer(f.depth_mm.astype("<u2").tobytes(), np.uint8))
            fields = camera_info_fields(f.intrinsics)
            info = Info(header=header, height=h, width=w,
                        distortion_model=fields["distortion_model"],
                        **{k: np.asarray(fields[k], float) for k in ("d", "k", "r", "p")},
                        binning_x=0, binning_y=0,
                        roi=Roi(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
            for kind, msg in ((INFO, info), (COLOR, rgb), (DEPTH, depth)):
                writer.write(topics[kind], f.stamp_ns, ts.serialize_cdr(msg, msg.__msgtype__))
    return path


_BAG_ENCODINGS = ("rgb8", "bgr8", "16UC1", "mono16")


def _image(msg) -> np.ndarray:
    if msg.encoding not in _BAG_ENCODINGS:
        raise ValueError(f"unsupported image encoding '{msg.encoding}' (want rgb8/bgr8/16UC1)")
    img = image_to_numpy(msg)
    return img[..., ::-1].copy() if msg.encoding == "bgr8" else img


def read_rgbd_bag(path: str | Path, namespace: str = "/camera/camera",
                  max_skew_ns: int = 50_000_000) -> Iterator[BagFrame]:
    """Colour frames paired with the nearest-in-time aligned depth (within ``max_skew_ns``)
    and the latest camera info; frames without a partner are skipped."""
    from rosbags.highlevel import AnyReader

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"bag not found: {path}")
    topics = {_topic(namespace, t): t for t in (COLOR, DEPTH, INFO)}
    with AnyReader([path], default_typestore=_typestore()) as reader:
        conns = [c for c in reader.connections if c.topic in topics]
        have = {topics[c.topic] for c in conns}
        missing = [t for t in (COLOR, DEPTH, INFO) if t not in have]
        if missing:
            found = sorted({c.topic for c in reader.connections})
            raise ValueError(f"{path}: topics {[_topic(namespace, m) for m in missing]} "
                             f"missing; the bag has {found}")
        colour: list[tuple[int, np.ndarray]] = []
        depth: list[tuple[int, np.ndarray]] = []
        infos: list[tuple[int, Intrinsics]] = []
        for conn, _t, raw in reader.messages(connections=conns):
            msg = reader.deserialize(raw, conn.msgtype)
            stamp = int(msg.header.stamp.sec) * 10**9 + int(msg.header.stamp.nanosec)
            kind = topics[conn.topic]
            if kind == INFO:
                infos.append((stamp, Intrinsics.from_camera_info(msg)))
            elif kind == COLOR:
                colour.append((stamp, _image(msg)))
            else:
                depth.append((stamp, _image(msg)))
    if not infos or not depth:
        return
    d_stamps = np.array([s for s, _ in depth])
    i_stamps = np.array([s for s, _ in infos])
    for stamp, rgb in colour:
        j = int(np.argmin(np.abs(d_stamps - stamp)))
        if abs(int(d_stamps[j]) - stamp) > max_skew_ns:
            continue
        k = int(np.searchsorted(i_stamps, stamp, side="right")) - 1
        intr = infos[max(k, 0)][1]
        d = depth[j][1]
        if d.shape != rgb.shape[:2] or (intr.height, intr.width) != d.shape:
            continue
        yield BagFrame(stamp, rgb, d, intr)
