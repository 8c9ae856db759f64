"""Approximate-time pairing of colour, aligned depth and camera_info.

message_filters has no PyPI wheel, so this is a small replacement: one bounded queue
per stream; a set is complete when all streams have a message within ``slop`` of a
colour stamp. Everything at or before a matched stamp is dropped, so memory stays bounded
and a late/stale frame never replaces a newer one; a stamp far older than the newest set
means the clock restarted (bag loop, simulator reset) and the synchroniser starts over.
No rclpy here: stamps are integers in nanoseconds, messages are opaque, so it is
unit-testable without ROS.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

STREAMS = ("color", "depth", "info")


@dataclass(frozen=True)
class SyncedFrame:
    stamp_ns: int  # the colour image's stamp
    color: Any
    depth: Any
    info: Any


class FrameSynchronizer:
    def __init__(self, slop_ns: int = 20_000_000, queue_size: int = 10,
                 jump_back_ns: int = 1_000_000_000) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if slop_ns < 0:
            raise ValueError(f"slop must be >= 0, got {slop_ns} ns")
        self.slop_ns = slop_ns
        self.jump_back_ns = jump_back_ns  # older than newest by this much: the clock restarted
        self._queues: dict[str, deque[tuple[int, Any]]] = {
            s: deque(maxlen=queue_size) for s in STREAMS
        }
        self._latest: SyncedFrame | None = None
        self._lock = threading.Lock()
        self.matched = 0
        self.dropped_stale = 0  # arrived older than the newest synchronised set
        self.clock_resets = 0  # time went backwards (bag loop, simulator reset)

    def add(self, stream: str, stamp_ns: int, msg: Any) -> SyncedFrame | None:
        """Queues one message; returns the new synchronised set if this completed one."""
        if stream not in self._queues:
            raise ValueError(f"unknown stream '{stream}', expected one of {STREAMS}")
        with self._lock:
            if self._latest is not None and stamp_ns <= self._latest.stamp_ns - self.slop_ns:
                if stamp_ns >= self._latest.stamp_ns - self.jump_back_ns:
                    self.dropped_stale += 1
                    return None
                self._latest = None  # clock jumped back: start over on the new timeline
                for q in self._queues.values():
                    q.clear()
                self.clock_resets += 1
            self._queues[stream].append((stamp_ns, msg))
            return self._match()

    def _match(self) -> SyncedFrame | None:
        for c_stamp, c_msg in reversed(self._queues["color"]):
            picks = {}
            for stream in ("depth", "info"):
                best = min(self._queues[stream], key=lambda e: abs(e[0] - c_stamp), default=None)
                if best is None or abs(best[0] - c_stamp) > self.slop_ns:
                    break
                picks[stream] = best
            else:
                frame = SyncedFrame(c_stamp, c_msg, picks["depth"][1], picks["info"][1])
                for stream, queue in self._queues.items():
                    cut = max(c_stamp, picks.get(stream, (c_stamp,))[0])
                    while queue and queue[0][0] <= cut:
                        queue.popleft()
                self._latest = frame
                self.matched += 1
                return frame
        return None

    def latest(self) -> SyncedFrame | None:
        with self._lock:
            return self._latest

    def pending(self) -> dict[str, int]:
        with self._lock:
            return {s: len(q) for s, q in self._queues.items()}
