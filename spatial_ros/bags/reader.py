"""Reads rosbag2 bags for replay: topic selection, remapping, a start offset, and a wall-clock
schedule that keeps the original timing scaled by ``rate``.

Problems a user can cause (a topic the bag lacks, a truncated or corrupt file, a folder that
is not a bag) become :class:`BagError` naming the bag and the problem.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rosbags.rosbag2 import Reader

from spatial_ros.bags.qos import QosSpec, merge_offered
from spatial_ros.bags.writer import BagError


def parse_remaps(items: list[str] | None) -> dict[str, str]:
    """``["/a:=/b", ...]`` -> ``{"/a": "/b"}``."""
    out: dict[str, str] = {}
    for item in items or []:
        old, sep, new = item.partition(":=")
        if not sep or not old or not new:
            raise BagError(f"bad remap '{item}': expected OLD:=NEW, e.g. /camera/x:=/replay/x")
        out[old] = new
    return out


@dataclass(frozen=True)
class TopicInfo:
    name: str
    msgtype: str
    count: int
    qos: QosSpec


@dataclass(frozen=True)
class BagMessage:
    topic: str  # after remapping
    source_topic: str
    msgtype: str
    timestamp_ns: int
    data: bytes


def _open(path: Path) -> Reader:
    if not path.exists():
        raise BagError(f"bag {path} does not exist")
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:  # ReaderError, or the storage plugin's own error types
        if path.is_dir() and not (path / "metadata.yaml").exists():
            hint = " (no metadata.yaml: not a rosbag2 folder, or the recorder was killed)"
        else:
            hint = " (is the file truncated or corrupt?)"
        raise BagError(f"cannot open bag {path}: {exc}{hint}") from exc
    return reader


class BagReplay:
    def __init__(self, path: str | Path, topics: list[str] | None = None,
                 remap: dict[str, str] | None = None, start_offset_s: float = 0.0) -> None:
        self.path = Path(path)
        self.remap = dict(remap or {})
        if start_offset_s < 0:
            raise BagError(f"start offset must be >= 0 s, got {start_offset_s}")
        reader = _open(self.path)
        try:
            self.start_ns, self.end_ns = reader.start_time, reader.end_time
            by_topic: dict[str, list] = {}
            for conn in reader.connections:
                by_topic.setdefault(conn.topic, []).append(conn)
            available = sorted(by_topic)
            wanted = topics or available
            missing = [t for t in wanted if t not in by_topic]
            if missing:
                raise BagError(f"topic(s) {missing} not in bag {self.path}; it has {available}")
            unknown_remap = [t for t in self.remap if t not in by_topic]
            if unknown_remap:
                raise BagError(f"remap of {unknown_remap}: not in bag {self.path}; it has "
                               f"{available}")
            self.topics: dict[str, TopicInfo] = {}
            for topic in wanted:
                conns = by_topic[topic]
                qos = merge_offered([QosSpec.from_rosbags(q) for c in conns
                                     for q in (getattr(c.ext, "offered_qos_profiles", None)
                                               or [])])
                self.topics[topic] = TopicInfo(topic, conns[0].msgtype,
                                               sum(c.msgcount for c in conns), qos)
        finally:
            reader.close()
        if start_offset_s * 1e9 > self.end_ns - self.start_ns:
            raise BagError(f"start offset {start_offset_s} s is past the end of bag {self.path} "
                           f"({(self.end_ns - self.start_ns) / 1e9:.2f} s long)")
        self.first_ns = self.start_ns + int(start_offset_s * 1e9)

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.first_ns) / 1e9

    def output_topic(self, topic: str) -> str:
        return self.remap.get(topic, topic)

    def messages(self) -> Iterator[BagMessage]:
        """Messages in bag-time order from the start offset on. Raises BagError when the file
        turns out to be truncated or corrupt part-way."""
        reader = _open(self.path)
        try:
            conns = [c for c in reader.connections if c.topic in self.topics]
            iterator = reader.messages(connections=conns, start=self.first_ns)
            while True:
                try:
                    conn, t_ns, data = next(iterator)
                except StopIteration:
                    return
                except Exception as exc:
                    raise BagError(f"bag {self.path} is truncated or corrupt: {exc}") from exc
                yield BagMessage(self.output_topic(conn.topic), conn.topic, conn.msgtype, t_ns,
                                 bytes(data))
        finally:
            reader.close()


class ReplaySchedule:
    """Maps bag time to wall-clock deadlines: message at bag time t is due at
    ``wall0 + (t - bag0) / rate``. Sleeping to deadlines (not between messages) keeps the
    original timing without accumulating drift."""

    def __init__(self, rate: float = 1.0) -> None:
        if not rate > 0:
            raise BagError(f"replay rate must be > 0, got {rate}")
        self.rate = rate
        self._bag0: int | None = None
        self._wall0 = 0.0

    def restart(self) -> None:
        self._bag0 = None

    def bag_time_ns(self, now: float | None = None) -> int | None:
        """The bag time being played at wall time ``now`` (None before the first message),
        what ``--clock`` publishes."""
        if self._bag0 is None:
            return None
        now = time.monotonic() if now is None else now
        return self._bag0 + int((now - self._wall0) * self.rate * 1e9)

    def delay_s(self, bag_ns: int, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        if self._bag0 is None:
            self._bag0, self._wall0 = bag_ns, now
        return max(self._wall0 + (bag_ns - self._bag0) / 1e9 / self.rate - now, 0.0)
