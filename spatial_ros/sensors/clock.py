"""Device timestamps -> host (ROS) time, and reconnect back-off.

A RealSense ``hardware_clock`` timestamp is milliseconds on the camera's own clock. The host
receives a frame some (variable, positive) transport latency after it was stamped, so
``host - device`` is the clock offset plus that latency; its *minimum* over a sliding window
is the best estimate of the offset, which makes the mapped stamps smooth and as early as the
evidence allows. ``system_time``/``global_time`` stamps are already host epoch milliseconds.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass


class DeviceClockMapper:
    def __init__(self, window: int = 120, jump_ms: float = 1000.0) -> None:
        self._offsets: collections.deque[int] = collections.deque(maxlen=window)
        self._last_device_ms: float | None = None
        self._jump_ms = jump_ms

    def to_host_ns(self, device_ms: float, host_ns: int, domain: str = "hardware_clock") -> int:
        """Host-clock nanoseconds at which the frame was captured; ``host_ns`` is "now"."""
        if domain in ("system_time", "global_time"):
            return round(device_ms * 1e6)
        last = self._last_device_ms
        if last is not None and (device_ms < last or device_ms - last > self._jump_ms):
            self._offsets.clear()  # device reset or wrapped: old offsets are meaningless
        self._last_device_ms = device_ms
        device_ns = round(device_ms * 1e6)  # integer ns: epoch ns exceed float precision
        self._offsets.append(int(host_ns) - device_ns)
        return device_ns + min(self._offsets)


@dataclass
class Backoff:
    """Exponential back-off for reconnect attempts: initial, x factor, capped at ``max_s``."""

    initial_s: float = 1.0
    max_s: float = 10.0
    factor: float = 2.0
    _next: float = 0.0

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s or self.factor < 1:
            raise ValueError(f"bad back-off: initial {self.initial_s}s, max {self.max_s}s, "
                             f"factor {self.factor}")
        self._next = self.initial_s

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * self.factor, self.max_s)
        return delay

    def reset(self) -> None:
        self._next = self.initial_s
