"""Forward and inverse kinematics of the executing arm, in the robot base frame.

Wraps ``spatial_ros.sim.ik.ArmIK`` (mink on a robot-only MuJoCo model built from the same
kinematic description as the simulated and URDF robot) with a cached ``MjData`` so the
safety envelope can run FK on every trajectory sample cheaply.
"""

from __future__ import annotations

import threading

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from spatial_ros.sim.ik import ArmIK, IKConfig
from spatial_ros.sim.robots import RobotDescription, get_robot

LIMIT_MARGIN = 0.01  # rad kept from every joint limit by IK solutions


class ArmKinematics:
    def __init__(self, robot: str | RobotDescription, group: str | None = None,
                 ik_cfg: IKConfig | None = None,
                 joint_limits: dict[str, tuple[float, float]] | None = None) -> None:
        """``joint_limits``: the envelope's narrower ranges; IK solves inside them."""
        self.robot = get_robot(robot) if isinstance(robot, str) else robot
        self.group = self.robot.groups[group or self.robot.default_group]
        self.ik = ArmIK(self.robot, self.group.name, base_pose=np.eye(4),
                        cfg=ik_cfg or IKConfig(restarts=4), limits=joint_limits)
        self.joint_names = tuple(self.group.joints)
        self.lower = np.asarray(self.ik.lower, dtype=float)
        self.upper = np.asarray(self.ik.upper, dtype=float)
        model = self.ik.model
        self._data = mujoco.MjData(model)
        self._qadr = self.ik._qadr
        p = self.robot.prefix
        self._tcp = model.site(self.group.tcp_site.removeprefix(p)).id
        self._tip = model.site(self.group.tip_site.removeprefix(p)).id
        self._lock = threading.Lock()

    @property
    def home(self) -> np.ndarray:
        return self.ik.home

    def tucked(self, q: np.ndarray) -> np.ndarray | None:
        """``q`` with this arm's own joints at the robot's tuck pose and the shared ones
        (G1's waist) left alone; None when the robot has no tuck pose."""
        tuck = self.robot.tuck
        if not tuck:
            return None
        out = np.array(q, dtype=float)
        for i, name in enumerate(self.joint_names):
            if name in tuck:
                out[i] = tuck[name]
        return out

    def fk(self, q: np.ndarray, tip: bool = False) -> np.ndarray:
        """4x4 pose of the TCP (or the vendor tip link) in the base frame."""
        site = self._tip if tip else self._tcp
        with self._lock:
            self._data.qpos[self._qadr] = q
            mujoco.mj_kinematics(self.ik.model, self._data)
            pose = np.eye(4)
            pose[:3, :3] = self._data.site_xmat[site].reshape(3, 3)
            pose[:3, 3] = self._data.site_xpos[site]
        return pose

    def fk_position(self, q: np.ndarray) -> np.ndarray:
        return self.fk(q)[:3, 3]

    def tip_to_tcp(self) -> np.ndarray:
        """Fixed transform from the vendor tip link (tool0 / panda_link8) to the TCP."""
        q = self.home
        return np.linalg.inv(self.fk(q, tip=True)) @ self.fk(q)

    def solve(self, pose: np.ndarray, q_seed: np.ndarray) -> np.ndarray | None:
        """Joint positions putting the TCP at ``pose`` (4x4, base frame), or None."""
        with self._lock:
            # same answer for the same question: restarts draw from a fresh seeded stream
            self.ik._rng = np.random.default_rng(self.ik.cfg.seed)
            result = self.ik.solve(pose[:3, 3], pose[:3, :3], q_seed=np.asarray(q_seed, float))
            if not result.success:  # the home posture is a good second seed
                self.ik._rng = np.random.default_rng(self.ik.cfg.seed)
                result = self.ik.solve(pose[:3, 3], pose[:3, :3], q_seed=self.home)
        if not result.success:
            return None
        # keep a margin from the joint limits (the physical joint overshoots a little)
        q = np.clip(result.q, self.lower + LIMIT_MARGIN, self.upper - LIMIT_MARGIN)
        if np.any(q != result.q):
            got = self.fk(q)
            rot_err = np.linalg.norm(Rotation.from_matrix(got[:3, :3].T @ pose[:3, :3])
                                     .as_rotvec())
            if np.linalg.norm(got[:3, 3] - pose[:3, 3]) > 0.003 or rot_err > 0.05:
                return None
        return q
