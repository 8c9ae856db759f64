"""Records live topics into a rosbag2 bag, like ``ros2 bag record``: raw CDR straight from
DDS (no deserialization), receive-time stamps, and per-topic QoS adapted to the publishers
(best effort if any publisher is best effort, so nothing offered is refused)."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import rclpy
from rclpy.node import Node

from spatial_ros.bags.qos import merge_offered
from spatial_ros.bags.writer import BagWriter
from spatial_ros.nodes.bag_io import (
    message_class,
    profile_from_spec,
    spec_from_profile,
    spin_until,
)

log = logging.getLogger(__name__)


class BagRecorderNode(Node):
    def __init__(self, writer: BagWriter, topics: list[str], **kwargs) -> None:
        super().__init__("bag_recorder", **kwargs)
        self.writer = writer
        self.pending = list(dict.fromkeys(topics))
        self._subs = {}
        self._lock = threading.Lock()
        self.create_timer(0.2, self._discover)
        self._discover()

    def _discover(self) -> None:
        """Subscribes to requested topics as soon as a publisher appears."""
        if not self.pending:
            return
        types = dict(self.get_topic_names_and_types())
        for topic in list(self.pending):
            if topic not in types:
                continue
            msgtype = types[topic][0]
            publishers = self.get_publishers_info_by_topic(topic)
            if not publishers:
                continue
            spec = merge_offered([spec_from_profile(p.qos_profile) for p in publishers])
            try:
                cls = message_class(msgtype)
                self.writer.add_topic(topic, msgtype, spec)
            except ValueError as exc:
                self.get_logger().error(f"not recording {topic}: {exc}")
                self.pending.remove(topic)
                continue
            self._subs[topic] = self.create_subscription(
                cls, topic, lambda data, t=topic: self._on_message(t, data),
                profile_from_spec(spec, depth=max(spec.depth, 50)), raw=True)
            self.pending.remove(topic)
            self.get_logger().info(f"recording {topic} [{msgtype}] ({spec.reliability})")

    def _on_message(self, topic: str, data: bytes) -> None:
        try:
            self.writer.write(topic, self.get_clock().now().nanoseconds, data)
        except Exception as exc:  # a full disk must not kill the recorder's other topics
            self.get_logger().error(f"writing {topic}: {exc}")


def record(output: str | Path, topics: list[str], storage: str = "mcap",
           duration_s: float | None = None, argv: list[str] | None = None) -> dict:
    """Records until Ctrl-C / SIGTERM or ``duration_s``; returns per-topic counts."""
    writer = BagWriter(Path(output), storage)
    rclpy.init(args=argv if argv is not None else [])
    node = None
    try:
        node = BagRecorderNode(writer, topics)
        print(f"recording {len(topics)} topic(s) to {output} ({storage}); Ctrl-C to stop",
              flush=True)
        spin_until(node, threading.Event(), duration_s)
    finally:
        writer.close()
        if node is not None:
            if node.pending:
                node.get_logger().warn(f"never saw a publisher on {node.pending}: not in the bag")
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    counts = {t: s.count for t, s in writer.topics.items()}
    print(f"wrote {sum(counts.values())} messages to {output}: {counts}", flush=True)
    return counts


def main(argv: list[str] | None = None) -> int:
    from spatial_ros.cli.record import build, run

    return run(build().parse_args(argv if argv is not None else sys.argv[1:]))


if __name__ == "__main__":
    raise SystemExit(main())
