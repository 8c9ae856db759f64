"""Replays a rosbag2 bag onto DDS like ``ros2 bag play``: the recorded CDR bytes are published
unchanged, at the original timing scaled by ``rate``, from a start offset, optionally looped,
with topic remapping and the QoS the original publishers offered."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import replace

import rclpy
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.time import Time
from rosgraph_msgs.msg import Clock

from spatial_ros.bags.reader import BagReplay, ReplaySchedule
from spatial_ros.bags.writer import BagError
from spatial_ros.nodes.bag_io import message_class, profile_from_spec, spin_until
from spatial_ros.nodes.dds_profile import use_large_shm_profile


class BagPlayerNode(Node):
    def __init__(self, replay: BagReplay, rate: float = 1.0, loop: bool = False,
                 wait_for_subscribers_s: float = 0.0, delay_s: float = 0.0,
                 reliability: str = "auto", clock_hz: float = 0.0, **kwargs) -> None:
        super().__init__("bag_player", **kwargs)
        self.replay = replay
        self.schedule = ReplaySchedule(rate)
        self.loop = loop
        self.done = threading.Event()
        self.published = 0
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._pubs = {}
        for topic, info in replay.topics.items():
            out = replay.output_topic(topic)
            spec = info.qos if reliability == "auto" else replace(info.qos,
                                                                  reliability=reliability)
            self._pubs[out] = self.create_publisher(message_class(info.msgtype), out,
                                                    profile_from_spec(spec))
        self._wait_s, self._delay_s = wait_for_subscribers_s, delay_s
        if clock_hz > 0:  # like `ros2 bag play --clock`: bag time on /clock for use_sim_time
            self._clock_pub = self.create_publisher(Clock, "/clock", 10)
            self.create_timer(1.0 / clock_hz, self._publish_clock)
        self._thread = threading.Thread(target=self._run, name="bag-play", daemon=True)
        self._thread.start()

    def _publish_clock(self) -> None:
        bag_ns = self.schedule.bag_time_ns()
        if bag_ns is not None and not self.done.is_set():
            # between loops (or when the player thread is starved) the clock holds at the
            # bag's end instead of running past it; a new loop jumps back like ros2 bag play
            bag_ns = min(bag_ns, self.replay.end_ns)
            self._clock_pub.publish(Clock(clock=Time(nanoseconds=bag_ns).to_msg()))

    def _wait_for_subscribers(self) -> None:
        deadline = time.monotonic() + self._wait_s
        while time.monotonic() < deadline and not self._stop.is_set():
            if all(p.get_subscription_count() > 0 for p in self._pubs.values()):
                return
            time.sleep(0.05)
        missing = [t for t, p in self._pubs.items() if p.get_subscription_count() == 0]
        if missing:
            self.get_logger().warn(f"no subscribers on {missing} after {self._wait_s:.1f} s; "
                                   f"playing anyway")

    def _run(self) -> None:
        try:
            if self._wait_s > 0:
                self._wait_for_subscribers()
            self._stop.wait(self._delay_s)
            while not self._stop.is_set():
                self.schedule.restart()
                for msg in self.replay.messages():
                    if self._stop.wait(self.schedule.delay_s(msg.timestamp_ns)):
                        return
                    self._pubs[msg.topic].publish(msg.data)
                    self.published += 1
                if not self.loop:
                    break
            # Let reliable readers receive the tail before the process exits.
            for pub in self._pubs.values():
                pub.wait_for_all_acked(Duration(seconds=3))
        except BagError as exc:
            self.error = exc
            self.get_logger().error(str(exc))
        except Exception as exc:  # publishing after shutdown, etc.
            if not self._stop.is_set() and self.context.ok():
                self.error = exc
                self.get_logger().error(f"replay stopped: {exc}")
        finally:
            self.done.set()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)


def play(path: str, topics: list[str] | None = None, remap: dict[str, str] | None = None,
         rate: float = 1.0, loop: bool = False, start_offset_s: float = 0.0,
         wait_for_subscribers_s: float = 0.0, delay_s: float = 0.0, reliability: str = "auto",
         clock_hz: float = 0.0, argv: list[str] | None = None) -> int:
    """Plays the bag to the end (or forever with ``loop``); returns messages published.
    Bag problems raise :class:`BagError` before any DDS participant is created."""
    replay = BagReplay(path, topics, remap, start_offset_s)
    use_large_shm_profile()  # recorded images are as large as live ones
    rclpy.init(args=argv if argv is not None else [])
    node = None
    try:
        if reliability not in ("auto", "reliable", "best_effort"):
            raise BagError(f"reliability '{reliability}': use auto, reliable or best_effort")
        node = BagPlayerNode(replay, rate, loop, wait_for_subscribers_s, delay_s, reliability,
                             clock_hz)
        names = ", ".join(f"{t}->{replay.output_topic(t)}" if t in replay.remap else t
                          for t in replay.topics)
        print(f"playing {path} ({replay.duration_s:.2f} s at x{rate}): {names}", flush=True)
        spin_until(node, node.done)
        if node.error is not None:
            raise node.error
        print(f"published {node.published} messages", flush=True)
        return node.published
    finally:
        if node is not None:
            node.close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


def main(argv: list[str] | None = None) -> int:
    from spatial_ros.cli.replay import build, run

    return run(build().parse_args(argv if argv is not None else sys.argv[1:]))


if __name__ == "__main__":
    raise SystemExit(main())
