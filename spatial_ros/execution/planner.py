"""Our own motion planning: IK to a pose, free joint moves, straight-line Cartesian moves.

Every plan is checked against the safety envelope before it is returned, so a plan that
exists is a plan that may be sent. Targets are checked first (cheap, and the error names
the target), then the whole timed trajectory. A free move whose joint-space path would dip
out of the envelope is retried through a raised waypoint above the start.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from spatial_ros.execution.config import MotionConfig
from spatial_ros.execution.kinematics import ArmKinematics
from spatial_ros.execution.motion import JointTrajectory, time_parameterize
from spatial_ros.execution.safety import EnvelopeViolation, SafetyEnvelope

LINE_TOLERANCE = 0.015  # m a Cartesian move's TCP may stray from its straight line


class PlanningError(RuntimeError):
    """No motion to the goal exists within the envelope (unreachable, IK failed, ...)."""


class MotionPlanner:
    def __init__(self, kin: ArmKinematics, envelope: SafetyEnvelope, motion: MotionConfig,
                 dt: float = 0.01) -> None:
        self.kin = kin
        self.envelope = envelope
        self.motion = motion
        self.dt = dt

    @property
    def joint_names(self) -> tuple[str, ...]:
        return self.kin.joint_names

    def _timed(self, waypoints: np.ndarray, speed_scale: float | None = None) -> JointTrajectory:
        scale = speed_scale or self.motion.speed_scale
        min_duration = 0.3
        limit = self.envelope.cfg.max_tcp_speed * 0.97
        for _ in range(8):  # stretch until the TCP speed limit holds too
            traj = time_parameterize(self.joint_names, waypoints, self.envelope.max_velocity,
                                     scale, self.dt, min_duration)
            tcp = np.array([self.kin.fk_position(q) for q in traj.positions])
            speed = np.linalg.norm(np.diff(tcp, axis=0), axis=1) / np.diff(traj.times)
            peak = float(speed.max()) if speed.size else 0.0
            if peak <= limit:
                return traj
            min_duration = traj.duration * peak / limit * 1.02
        return traj  # the envelope check names the remaining violation

    def ik(self, pose: np.ndarray, q_seed: np.ndarray, what: str = "goal") -> np.ndarray:
        self.envelope.check_point(pose[:3, 3], what)
        q = self.kin.solve(pose, q_seed)
        if q is None:
            raise PlanningError(f"{what}: no IK solution for TCP at "
                                f"{np.round(pose[:3, 3], 3).tolist()}")
        self.envelope.check_joints(q, what)
        return q

    def joint_move(self, q0: np.ndarray, q1: np.ndarray, what: str = "joint move"
                   ) -> JointTrajectory:
        self.envelope.check_joints(q1, what)
        try:
            traj = self._timed(np.stack([q0, q1]))
            self.envelope.check_trajectory(traj, current_q=q0, what=what)
            return traj
        except EnvelopeViolation as first:
            # detours: straight up first, or up and through the home configuration
            for via in self._detours(q0, q1):
                traj = self._timed(np.stack([q0, *via, q1]))
                try:
                    self.envelope.check_trajectory(traj, current_q=q0, what=what)
                    return traj
                except EnvelopeViolation:
                    continue
            raise first from None

    def _detours(self, q0: np.ndarray, q1: np.ndarray):
        up0 = self._raised_waypoint(q0)
        up1 = self._raised_waypoint(q1)
        if up0 is not None:
            yield [up0]
            if up1 is not None:
                yield [up0, up1]
        home = self.kin.home
        yield [v for v in (up0, home, up1) if v is not None]

    def _raised_waypoint(self, q0: np.ndarray) -> np.ndarray | None:
        pose = self.kin.fk(q0)
        pose[2, 3] = min(pose[2, 3] + 0.15, self.envelope.box_max[2] - 0.15)
        try:
            return self.ik(pose, q0, "raised waypoint")
        except (PlanningError, EnvelopeViolation):
            return None

    def pose_move(self, q0: np.ndarray, pose: np.ndarray, what: str = "move") -> JointTrajectory:
        return self.joint_move(q0, self.ik(pose, q0, what), what)

    def cartesian_move(self, q0: np.ndarray, pose: np.ndarray, what: str = "cartesian move"
                       ) -> JointTrajectory:
        """TCP on a straight line (orientation slerped) from its current pose to ``pose``.
        Where the line's IK would flip the arm, a direct joint move whose TCP path stays
        within ``LINE_TOLERANCE`` of the line is used instead."""
        try:
            return self._line(q0, pose, what)
        except PlanningError as exc:
            q1 = self.kin.solve(pose, q0)
            if q1 is None:
                raise
            traj = self._timed(np.stack([q0, q1]))
            a, b = self.kin.fk_position(q0), pose[:3, 3]
            tcp = np.array([self.kin.fk_position(q) for q in traj.positions])
            ab = b - a
            s = np.clip((tcp - a) @ ab / max(float(ab @ ab), 1e-12), 0.0, 1.0)
            dev = float(np.max(np.linalg.norm(tcp - (a + s[:, None] * ab), axis=1)))
            if dev > LINE_TOLERANCE:
                raise PlanningError(f"{exc} (a direct move strays {dev * 100:.1f} cm from "
                                    "the line)") from None
            self.envelope.check_trajectory(traj, current_q=q0, what=what)
            return traj

    def _line(self, q0: np.ndarray, pose: np.ndarray, what: str) -> JointTrajectory:
        start = self.kin.fk(q0)
        self.envelope.check_point(pose[:3, 3], what)
        dist = float(np.linalg.norm(pose[:3, 3] - start[:3, 3]))
        n = max(int(np.ceil(dist / self.motion.cartesian_step)), 1)
        slerp = Slerp([0.0, 1.0], Rotation.from_matrix(np.stack([start[:3, :3], pose[:3, :3]])))
        qs = [np.asarray(q0, float)]
        for k in range(1, n + 1):
            s = k / n
            p = np.eye(4)
            p[:3, :3] = slerp(s).as_matrix()
            p[:3, 3] = (1 - s) * start[:3, 3] + s * pose[:3, 3]
            q = self.kin.solve(p, qs[-1])
            if q is None:
                raise PlanningError(f"{what}: no IK solution along the line at "
                                    f"{np.round(p[:3, 3], 3).tolist()}")
            if np.max(np.abs(q - qs[-1])) > 0.35:
                raise PlanningError(f"{what}: the arm would flip configuration along the line "
                                    f"near {np.round(p[:3, 3], 3).tolist()}")
            qs.append(q)
        traj = self._timed(np.stack(qs))
        self.envelope.check_trajectory(traj, current_q=q0, what=what)
        return traj
