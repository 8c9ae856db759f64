"""Time-parameterized joint trajectories: quintic time scaling within velocity/accel limits.

A path (one or many joint-space waypoints) is followed with a single quintic time scaling
s(t) (zero velocity and acceleration at both ends), and the duration is the shortest one
that keeps every joint under its velocity and acceleration limit. The result is a dense,
smooth ``JointTrajectory`` that the controller samples at every physics step; the same class
also interpolates sparse trajectories (e.g. from a ROS JointTrajectory message).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicHermiteSpline, PchipInterpolator

# Peak |ds/dt| and |d2s/dt2| of the quintic s(τ) = 10τ³ − 15τ⁴ + 6τ⁵ for a unit duration.
QUINTIC_PEAK_VEL = 15.0 / 8.0
QUINTIC_PEAK_ACC = 10.0 / np.sqrt(3.0)


class JointTrajectory:
    """Positions (and optionally velocities) at increasing times; ``sample(t)`` interpolates."""

    def __init__(self, times, positions, velocities=None):
        times = np.asarray(times, float)
        positions = np.asarray(positions, float)
        if positions.ndim != 2 or len(times) != len(positions):
            raise ValueError(f"need positions (N, dof) with N={len(times)} times, "
                             f"got {positions.shape}")
        if len(times) < 1 or np.any(np.diff(times) <= 0) or not np.all(np.isfinite(positions)):
            raise ValueError("trajectory times must strictly increase and positions be finite")
        self.times, self.positions = times, positions
        self.velocities = None if velocities is None else np.asarray(velocities, float)
        if len(times) == 1:
            self._interp = None
        elif self.velocities is not None:
            self._interp = CubicHermiteSpline(times, positions, self.velocities, axis=0)
        else:
            self._interp = PchipInterpolator(times, positions, axis=0)

    @property
    def duration(self) -> float:
        return float(self.times[-1])

    @property
    def dof(self) -> int:
        return self.positions.shape[1]

    def sample(self, t: float) -> np.ndarray:
        """Position at time ``t`` (held at the ends outside the time range)."""
        if self._interp is None or t <= self.times[0]:
            return self.positions[0].copy()
        if t >= self.times[-1]:
            return self.positions[-1].copy()
        return np.asarray(self._interp(t))

    def sample_velocity(self, t: float) -> np.ndarray:
        if self._interp is None or t <= self.times[0] or t >= self.times[-1]:
            return np.zeros(self.dof)
        return np.asarray(self._interp.derivative()(t))


def quintic(tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """s(τ) and ds/dτ of the rest-to-rest quintic on τ in [0, 1]."""
    tau = np.clip(tau, 0.0, 1.0)
    s = tau**3 * (10 - 15 * tau + 6 * tau**2)
    ds = 30 * tau**2 * (1 - tau) ** 2
    return s, ds


def time_parameterize(waypoints, max_velocity, max_acceleration, min_duration: float = 0.2,
                      sample_dt: float = 0.01) -> JointTrajectory:
    """Rest-to-rest trajectory through ``waypoints`` (N, dof), piecewise linear in joint space.

    ``max_velocity``/``max_acceleration``: per-joint limits (scalars broadcast).
    """
    wp = np.atleast_2d(np.asarray(waypoints, float))
    if wp.shape[0] < 1 or not np.all(np.isfinite(wp)):
        raise ValueError("waypoints must be a finite (N, dof) array with N >= 1")
    vmax = np.broadcast_to(np.asarray(max_velocity, float), wp.shape[1:])
    amax = np.broadcast_to(np.asarray(max_acceleration, float), wp.shape[1:])
    if np.any(vmax <= 0) or np.any(amax <= 0):
        raise ValueError("velocity and acceleration limits must be positive")
    if wp.shape[0] == 1:
        wp = np.vstack([wp, wp])
    seg = np.diff(wp, axis=0)
    seg_len = np.linalg.norm(seg, axis=1)
    total = float(seg_len.sum())
    if total < 1e-9:
        return JointTrajectory([0.0, min_duration], wp[[0, -1]], np.zeros((2, wp.shape[1])))
    s_knots = np.concatenate([[0.0], np.cumsum(seg_len) / total])
    # dq/ds on each segment; the worst segment sets the duration.
    slope = np.max(np.abs(seg) / np.maximum(seg_len[:, None] / total, 1e-12), axis=0)
    t_vel = QUINTIC_PEAK_VEL * np.max(slope / vmax)
    t_acc = np.sqrt(QUINTIC_PEAK_ACC * np.max(slope / amax))
    duration = max(float(t_vel), float(t_acc), min_duration)
    n = max(int(np.ceil(duration / sample_dt)), 2) + 1
    times = np.linspace(0.0, duration, n)
    s, ds = quintic(times / duration)
    positions = np.stack([np.interp(s, s_knots, wp[:, j]) for j in range(wp.shape[1])], axis=1)
    # velocity = dq/ds (segment slope) * ds/dt
    idx = np.clip(np.searchsorted(s_knots, s, side="right") - 1, 0, len(seg) - 1)
    dq_ds = seg[idx] / np.maximum(seg_len[idx, None] / total, 1e-12)
    velocities = dq_ds * (ds / duration)[:, None]
    return JointTrajectory(times, positions, velocities)


@dataclass
class MotionLimits:
    """Per-joint limits used for planning (a fraction of the vendor limits)."""

    velocity: np.ndarray
    acceleration: np.ndarray

    @classmethod
    def from_robot(cls, robot, group: str | None = None, velocity_scale: float = 0.5,
                   acceleration: float = 3.0) -> MotionLimits:
        if not 0 < velocity_scale <= 1:
            raise ValueError(f"velocity_scale must be in (0, 1], got {velocity_scale}")
        g = robot.groups[group or robot.default_group]
        p = robot.prefix
        vel = np.array([robot.tree.joint(j.removeprefix(p)).velocity for j in g.joints])
        return cls(vel * velocity_scale, np.full(len(g.joints), acceleration))
