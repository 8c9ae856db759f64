"""Joint trajectories: the one thing every backend is finally asked to execute.

A trajectory is a dense, time-stamped joint path (``dt`` apart) so the safety envelope can
check exactly what will be commanded, sample by sample. Paths through joint waypoints are
timed with a minimum-jerk profile over a velocity-normalized arc length, which keeps every
joint at or below ``speed_scale`` times its own velocity limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: peak of d/dtau of the minimum-jerk profile 10 t^3 - 15 t^4 + 6 t^5.
MIN_JERK_PEAK = 1.875


@dataclass
class JointTrajectory:
    joint_names: tuple[str, ...]
    times: np.ndarray  # (N,) seconds from start, strictly increasing, times[0] == 0
    positions: np.ndarray  # (N, D)
    velocities: np.ndarray  # (N, D)

    def __post_init__(self) -> None:
        self.times = np.asarray(self.times, dtype=float)
        self.positions = np.atleast_2d(np.asarray(self.positions, dtype=float))
        self.velocities = np.atleast_2d(np.asarray(self.velocities, dtype=float))
        n, d = self.positions.shape
        if self.times.shape != (n,) or self.velocities.shape != (n, d):
            raise ValueError(f"trajectory shapes disagree: times {self.times.shape}, positions "
                             f"{self.positions.shape}, velocities {self.velocities.shape}")
        if d != len(self.joint_names):
            raise ValueError(f"{d} joint columns but {len(self.joint_names)} joint names")
        if n > 1 and np.any(np.diff(self.times) <= 0):
            raise ValueError("trajectory times must be strictly increasing")

    @property
    def duration(self) -> float:
        return float(self.times[-1])

    @property
    def final(self) -> np.ndarray:
        return self.positions[-1].copy()

    def sample(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Position and velocity at time ``t`` (clamped to the ends), linear between samples."""
        t = float(np.clip(t, 0.0, self.duration))
        q = np.array([np.interp(t, self.times, col) for col in self.positions.T])
        qd = np.array([np.interp(t, self.times, col) for col in self.velocities.T])
        if t >= self.duration:
            qd[:] = 0.0
        return q, qd

    def every(self, dt: float) -> JointTrajectory:
        """The same motion resampled every ``dt`` seconds (end point kept)."""
        if self.duration <= 0:
            return self
        times = np.append(np.arange(0.0, self.duration, dt), self.duration)
        times = np.unique(times)
        pos = np.stack([np.interp(times, self.times, c) for c in self.positions.T], axis=1)
        vel = np.stack([np.interp(times, self.times, c) for c in self.velocities.T], axis=1)
        return JointTrajectory(self.joint_names, times, pos, vel)

    @staticmethod
    def hold(joint_names: tuple[str, ...], q: np.ndarray) -> JointTrajectory:
        """A single point: stay where you are (used to stop)."""
        q = np.asarray(q, dtype=float)
        return JointTrajectory(joint_names, np.zeros(1), q[None], np.zeros((1, q.size)))


def time_parameterize(joint_names: tuple[str, ...], waypoints: np.ndarray,
                      max_velocity: np.ndarray, speed_scale: float = 0.5, dt: float = 0.01,
                      min_duration: float = 0.3) -> JointTrajectory:
    """Times a piecewise-linear joint path (``(K, D)`` waypoints) with a min-jerk profile."""
    wp = np.atleast_2d(np.asarray(waypoints, dtype=float))
    vmax = np.asarray(max_velocity, dtype=float)
    if wp.shape[1] != vmax.size or np.any(vmax <= 0):
        raise ValueError("max_velocity needs one positive entry per joint")
    if not np.all(np.isfinite(wp)):
        raise ValueError("joint waypoints contain NaN or inf")
    seg = np.max(np.abs(np.diff(wp, axis=0)) / vmax, axis=1) if len(wp) > 1 else np.zeros(0)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    total = float(arc[-1])
    duration = max(MIN_JERK_PEAK * total / speed_scale, min_duration)
    times = np.unique(np.append(np.arange(0.0, duration, dt), duration))
    tau = times / duration
    s = 10 * tau**3 - 15 * tau**4 + 6 * tau**5
    sdot = (30 * tau**2 - 60 * tau**3 + 30 * tau**4) / duration
    if total <= 0:
        pos = np.repeat(wp[:1], times.size, axis=0)
        return JointTrajectory(joint_names, times, pos, np.zeros_like(pos))
    u = s * total
    pos = np.stack([np.interp(u, arc, wp[:, j]) for j in range(wp.shape[1])], axis=1)
    # dq/du is constant on each segment; pick the segment each sample lies in.
    idx = np.clip(np.searchsorted(arc, u, side="right") - 1, 0, len(seg) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(seg[:, None] > 0, np.diff(wp, axis=0) / seg[:, None], 0.0)
    vel = slope[idx] * (sdot * total)[:, None]
    vel[-1] = 0.0
    return JointTrajectory(joint_names, times, pos, vel)
