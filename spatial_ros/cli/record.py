"""``spatial-ros record``: camera topics (+ the /spatial instruction and result) to rosbag2."""

from __future__ import annotations

import argparse
import time

CAMERA_TOPICS = ("color/image_raw", "color/camera_info", "aligned_depth_to_color/image_raw",
                 "aligned_depth_to_color/camera_info")
SPATIAL_TOPICS = ("/spatial/instruction", "/spatial/result")


def default_topics(camera_namespace: str = "/camera/camera") -> list[str]:
    ns = camera_namespace.rstrip("/")
    return [f"{ns}/{t}" for t in CAMERA_TOPICS] + list(SPATIAL_TOPICS)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", default=None,
                   help="bag folder to create (default: rosbag2_<date>_<time>)")
    p.add_argument("-s", "--storage", choices=("mcap", "sqlite3"), default="mcap",
                   help="storage plugin (default mcap, as ros2 bag since Iron)")
    p.add_argument("--topics", nargs="+", default=None,
                   help="topics to record (default: camera topics + /spatial/instruction, "
                        "/spatial/result)")
    p.add_argument("--camera-namespace", default="/camera/camera")
    p.add_argument("--duration", type=float, default=None,
                   help="stop after this many seconds (default: until Ctrl-C)")


def build() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spatial-ros record", description=__doc__)
    _add_arguments(p)
    return p


def run(args: argparse.Namespace) -> int:
    from spatial_ros.bags.writer import BagError
    from spatial_ros.nodes.bag_recorder import record

    output = args.output or time.strftime("rosbag2_%Y_%m_%d-%H_%M_%S")
    topics = args.topics or default_topics(args.camera_namespace)
    try:
        record(output, topics, args.storage, args.duration)
    except BagError as exc:
        print(f"error: {exc}")
        return 2
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("record", help="record camera and /spatial topics to a rosbag2",
                              description=__doc__)
    _add_arguments(p)
    p.set_defaults(func=run)
