"""The safety envelope: every command is checked here before any backend may send it.

Checks (robot base frame): the TCP stays inside the workspace box and above the table plus a
clearance, joints stay inside their limits, joint speeds stay under their limits, the TCP
stays under a Cartesian speed limit, and a trajectory starts where the robot is. Violations
raise ``EnvelopeViolation`` naming what and where; nothing is ever clipped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from spatial_ros.execution.config import EnvelopeConfig
from spatial_ros.execution.motion import JointTrajectory

_EPS = 1e-6


class EnvelopeViolation(RuntimeError):
    """A command would leave the configured safety envelope; it was not sent."""


class SafetyEnvelope:
    """Built from an ``EnvelopeConfig`` plus the arm's joint names, model ranges and FK.

    ``fk(q)`` returns the TCP position (3,) in the base frame for joint vector ``q``.
    """

    def __init__(self, cfg: EnvelopeConfig, joint_names: Sequence[str],
                 model_lower: Sequence[float], model_upper: Sequence[float],
                 fk: Callable[[np.ndarray], np.ndarray]) -> None:
        self.cfg = cfg
        self.joint_names = tuple(joint_names)
        unknown = set(cfg.joint_limits) | set(cfg.max_joint_velocity)
        unknown -= set(self.joint_names)
        if unknown:
            raise ValueError(f"envelope names unknown joints {sorted(unknown)}; "
                             f"arm joints are {list(self.joint_names)}")
        lower = np.asarray(model_lower, dtype=float).copy()
        upper = np.asarray(model_upper, dtype=float).copy()
        for i, name in enumerate(self.joint_names):
            if name in cfg.joint_limits:
                lo, hi = cfg.joint_limits[name]
                # the configured range may only shrink what the model allows
                lower[i], upper[i] = max(lower[i], lo), min(upper[i], hi)
        if np.any(lower >= upper):
            raise ValueError("envelope joint limits are empty for some joint")
        self.lower, self.upper = lower, upper
        self.max_velocity = np.array([cfg.max_joint_velocity.get(n, cfg.default_max_velocity)
                                      for n in self.joint_names], dtype=float)
        self.box_min = np.asarray(cfg.workspace_min, dtype=float)
        self.box_max = np.asarray(cfg.workspace_max, dtype=float)
        self.min_z = max(self.box_min[2], cfg.table_height + cfg.table_clearance)
        self._fk = fk
        #: other TCPs this arm's joints carry along (G1: the waist moves both hands), as
        #: (name, q -> that TCP's position); see ``add_rider``
        self.riders: list[tuple[str, Callable[[np.ndarray], np.ndarray]]] = []

    def add_rider(self, name: str, tcp: Callable[[np.ndarray], np.ndarray]) -> None:
        """Checks another hand that this arm's joints move (a shared waist turns the idle
        arm with it) on every trajectory: it must stay in the workspace box and above the
        table, or, when physics already pushed it out, get no farther out."""
        self.riders.append((name, tcp))

    def _outside_by(self, p: np.ndarray, margin: float = 0.0) -> float:
        """How far ``p`` is outside the box and table clearance shrunk by ``margin``."""
        p = np.asarray(p, dtype=float)
        below = self.min_z + margin - p[2]
        return float(max(np.max(self.box_min + margin - p), np.max(p - self.box_max + margin),
                         below, 0.0))

    def riders_along(self, qs: Sequence[np.ndarray], q_start: np.ndarray, margin: float = 0.0
                     ) -> tuple[int, str] | None:
        """(index into ``qs``, what is wrong) for the first joint vector of a motion from
        ``q_start`` that carries another hand out (``margin`` > 0: also closer than that to
        leaving); None when every one keeps them in."""
        q_start = np.asarray(q_start, dtype=float)
        for name, tcp in self.riders:
            start = self._outside_by(tcp(q_start), margin)  # once per hand, not per sample
            for k, q in enumerate(qs):
                p = tcp(np.asarray(q, dtype=float))
                out = self._outside_by(p, margin)
                if out > _EPS and out > start + 1e-3:
                    problem = self.point_problem(p) or f"comes within {margin} m of leaving"
                    return k, f"{name} {problem}"
        return None

    def riders_problem(self, q: np.ndarray, q_start: np.ndarray, margin: float = 0.0
                       ) -> str | None:
        """What is wrong with the other hands at joints ``q`` of a motion from ``q_start``."""
        found = self.riders_along([q], q_start, margin)
        return None if found is None else found[1]

    # ---- single checks -------------------------------------------------------------
    def point_problem(self, p: np.ndarray) -> str | None:
        p = np.asarray(p, dtype=float)
        if p.shape != (3,) or not np.all(np.isfinite(p)):
            return f"point {p} is not a finite 3-vector"
        if np.any(p < self.box_min - _EPS) or np.any(p > self.box_max + _EPS):
            return (f"point {np.round(p, 3).tolist()} is outside the workspace box "
                    f"{self.box_min.tolist()}..{self.box_max.tolist()}")
        if p[2] < self.min_z - _EPS:
            return (f"point {np.round(p, 3).tolist()} is below the table clearance "
                    f"(z >= {self.min_z:.3f})")
        return None

    def check_point(self, p: np.ndarray, what: str = "target") -> None:
        problem = self.point_problem(p)
        if problem:
            raise EnvelopeViolation(f"{what}: {problem}")

    def joints_problem(self, q: np.ndarray) -> str | None:
        q = np.asarray(q, dtype=float)
        if q.shape != self.lower.shape or not np.all(np.isfinite(q)):
            return f"joint vector {q} is not {self.lower.size} finite values"
        bad = np.flatnonzero((q < self.lower - _EPS) | (q > self.upper + _EPS))
        if bad.size:
            i = int(bad[0])
            return (f"joint {self.joint_names[i]} = {q[i]:.3f} outside "
                    f"[{self.lower[i]:.3f}, {self.upper[i]:.3f}]")
        return None

    def check_joints(self, q: np.ndarray, what: str = "joint target") -> None:
        problem = self.joints_problem(q)
        if problem:
            raise EnvelopeViolation(f"{what}: {problem}")
        self.check_point(self._fk(np.asarray(q, dtype=float)), f"{what} TCP")

    def check_gripper(self, width: float, open_width: float, closed_width: float) -> None:
        if not np.isfinite(width) or not closed_width - _EPS <= width <= open_width + _EPS:
            raise EnvelopeViolation(
                f"gripper width {width} outside [{closed_width}, {open_width}]")

    # ---- whole trajectories --------------------------------------------------------
    def check_trajectory(self, traj: JointTrajectory, current_q: np.ndarray | None = None,
                         what: str = "trajectory") -> None:
        """Every sample, the velocities between samples and the TCP path."""
        if tuple(traj.joint_names) != self.joint_names:
            raise EnvelopeViolation(f"{what}: joint names {list(traj.joint_names)} are not the "
                                    f"arm's {list(self.joint_names)}")
        pos, vel, t = traj.positions, traj.velocities, traj.times
        if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(vel)) and np.all(np.isfinite(t))):
            raise EnvelopeViolation(f"{what}: contains NaN or inf")
        if current_q is not None:
            jump = np.max(np.abs(pos[0] - np.asarray(current_q, dtype=float)))
            if jump > self.cfg.start_tolerance:
                raise EnvelopeViolation(f"{what}: starts {jump:.3f} rad away from the measured "
                                        f"state (limit {self.cfg.start_tolerance})")
        for k in range(len(t)):
            problem = self.joints_problem(pos[k])
            if problem:
                raise EnvelopeViolation(f"{what} at t={t[k]:.2f}s: {problem}")
        limit = self.max_velocity * (1 + 1e-3) + _EPS
        if np.any(np.abs(vel) > limit):
            k, j = np.argwhere(np.abs(vel) > limit)[0]
            raise EnvelopeViolation(f"{what} at t={t[k]:.2f}s: {self.joint_names[j]} velocity "
                                    f"{vel[k, j]:.3f} > {self.max_velocity[j]:.3f} rad/s")
        tcp = np.array([self._fk(q) for q in pos])
        if len(t) > 1:
            dt = np.diff(t)[:, None]
            fd = np.abs(np.diff(pos, axis=0)) / dt
            if np.any(fd > limit):
                k, j = np.argwhere(fd > limit)[0]
                raise EnvelopeViolation(f"{what} at t={t[k]:.2f}s: {self.joint_names[j]} moves "
                                        f"{fd[k, j]:.3f} > {self.max_velocity[j]:.3f} rad/s")
            speed = np.linalg.norm(np.diff(tcp, axis=0), axis=1) / dt[:, 0]
            if np.any(speed > self.cfg.max_tcp_speed * (1 + 1e-3)):
                k = int(np.argmax(speed))
                raise EnvelopeViolation(f"{what} at t={t[k]:.2f}s: TCP speed {speed[k]:.3f} > "
                                        f"{self.cfg.max_tcp_speed} m/s")
        for k, p in enumerate(tcp):
            problem = self.point_problem(p)
            if problem:
                raise EnvelopeViolation(f"{what} at t={t[k]:.2f}s: TCP {problem}")
        found = self.riders_along(pos, pos[0])
        if found is not None:
            k, problem = found
            raise EnvelopeViolation(f"{what} at t={t[k]:.2f}s: it carries the {problem}")
