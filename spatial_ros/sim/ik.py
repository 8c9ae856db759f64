"""Inverse kinematics for one arm group with mink (differential IK, QP with joint limits).

Why a separate small model: IK works on a model holding only this robot with every joint
outside the group frozen at its current value, so objects' free joints, fingers and (for G1)
the waist and the other arm never move and never slow the solver down.
"""

from __future__ import annotations

from dataclasses import dataclass

import mink
import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from spatial_ros.sim.robots import RobotDescription, build_robot_model


@dataclass
class IKConfig:
    position_tolerance: float = 1e-3  # metres
    orientation_tolerance: float = 1e-2  # radians
    max_iters: int = 300
    dt: float = 0.1  # integration step of the differential IK
    damping: float = 1e-3
    posture_cost: float = 1e-3  # pull towards the seed: picks the solution nearest the seed
    orientation_cost: float = 1.0
    restarts: int = 6  # random restarts when the seed does not converge
    solver: str = "daqp"
    seed: int = 0


@dataclass
class IKResult:
    q: np.ndarray  # group joint positions (group.joints order)
    success: bool
    position_error: float
    orientation_error: float
    iterations: int


class ArmIK:
    """IK for ``robot``'s arm ``group`` mounted at ``base_pose`` (4x4 world pose of the base)."""

    def __init__(self, robot: RobotDescription, group: str | None = None,
                 base_pose: np.ndarray | None = None, fixed: dict[str, float] | None = None,
                 cfg: IKConfig | None = None,
                 limits: dict[str, tuple[float, float]] | None = None):
        """``limits``: per group joint ``(lower, upper)`` radians that narrow the model's range
        (a configured envelope), so solutions are searched inside it, not rejected after."""
        self.robot = robot
        self.group = robot.groups[group or robot.default_group]
        self.cfg = cfg or IKConfig()
        base_pose = np.eye(4) if base_pose is None else np.asarray(base_pose, float)
        if base_pose.shape != (4, 4):
            raise ValueError(f"base_pose must be 4x4, got {base_pose.shape}")
        p = robot.prefix
        lock = {k.removeprefix(p): v for k, v in robot.home_qpos.items()
                if k not in self.group.joints}
        for k, v in (fixed or {}).items():
            if k not in robot.home_qpos:
                raise ValueError(f"fixed: unknown joint {k!r}")
            if k not in self.group.joints:
                lock[k.removeprefix(p)] = float(v)
        x, y, z, w = Rotation.from_matrix(base_pose[:3, :3]).as_quat()
        self.model, _ = build_robot_model(robot.name, base_pose[:3, 3], (w, x, y, z), lock=lock,
                                          actuators=False)
        self._qadr = np.array([self.model.joint(j.removeprefix(p)).qposadr[0]
                               for j in self.group.joints])
        for name, (lo, hi) in (limits or {}).items():
            if name not in self.group.joints:
                raise ValueError(f"limits: {name!r} is not a joint of {self.group.name}")
            rng = self.model.jnt_range[self.model.joint(name.removeprefix(p)).id]
            rng[:] = max(rng[0], float(lo)), min(rng[1], float(hi))
            if rng[0] >= rng[1]:
                raise ValueError(f"limits: empty range for {name!r}")
        self.lower = self.model.jnt_range[[self.model.joint(j.removeprefix(p)).id
                                           for j in self.group.joints], 0]
        self.upper = self.model.jnt_range[[self.model.joint(j.removeprefix(p)).id
                                           for j in self.group.joints], 1]
        self.configuration = mink.Configuration(self.model)
        self._limits = [mink.ConfigurationLimit(self.model)]
        self._posture = mink.PostureTask(self.model, cost=self.cfg.posture_cost)
        self._rng = np.random.default_rng(self.cfg.seed)
        self._sites = {s: s.removeprefix(p) for s in (self.group.tcp_site, self.group.tip_site)}

    def fk(self, q: np.ndarray, site: str | None = None) -> np.ndarray:
        """4x4 world pose of ``site`` (default: the TCP) at group joints ``q``."""
        site = self._sites[site or self.group.tcp_site]
        data = mujoco.MjData(self.model)
        data.qpos[self._qadr] = q
        mujoco.mj_kinematics(self.model, data)
        pose = np.eye(4)
        pose[:3, :3] = data.site(site).xmat.reshape(3, 3)
        pose[:3, 3] = data.site(site).xpos
        return pose

    def solve(self, position, rotation, q_seed: np.ndarray | None = None,
              site: str | None = None, restarts: int | None = None) -> IKResult:
        """Joint positions putting ``site`` (default TCP) at ``position`` with ``rotation``.

        Starts from ``q_seed`` (default home), then from ``restarts`` random configurations.
        """
        position = np.asarray(position, float)
        rotation = np.asarray(rotation, float)
        if position.shape != (3,) or not np.all(np.isfinite(position)):
            raise ValueError(f"IK target position must be 3 finite numbers, got {position}")
        if rotation.shape != (3, 3):
            raise ValueError(f"IK target rotation must be 3x3, got {rotation.shape}")
        seed = np.asarray(self.home if q_seed is None else q_seed, float)
        if seed.shape != self._qadr.shape:
            raise ValueError(f"q_seed needs {len(self._qadr)} values, got {seed.shape}")
        target = mink.SE3.from_rotation_and_translation(mink.SO3.from_matrix(rotation), position)
        best = None
        seeds = [seed] + [self._rng.uniform(self.lower, self.upper)
                          for _ in range(self.cfg.restarts if restarts is None else restarts)]
        for s in seeds:
            result = self._solve_from(target, np.clip(s, self.lower, self.upper), seed,
                                      self._sites[site or self.group.tcp_site])
            if best is None or _score(result) < _score(best):
                best = result
            if result.success:
                break
        return best

    @property
    def qpos_indices(self) -> np.ndarray:
        """Where the group's joints sit in ``self.model``'s qpos."""
        return self._qadr.copy()

    @property
    def home(self) -> np.ndarray:
        home = dict(zip(self.robot.joint_names, self.robot.home, strict=True))
        return np.array([home[j] for j in self.group.joints])

    def _solve_from(self, target, q0: np.ndarray, posture_q: np.ndarray, site: str) -> IKResult:
        cfg = self.cfg
        q_full = self.model.qpos0.copy()
        q_full[self._qadr] = q0
        self.configuration.update(q_full)
        task = mink.FrameTask(site, "site", position_cost=1.0,
                              orientation_cost=cfg.orientation_cost, lm_damping=1e-3)
        task.set_target(target)
        posture_full = self.model.qpos0.copy()
        posture_full[self._qadr] = posture_q
        self._posture.set_target(posture_full)
        pos_err = rot_err = np.inf
        n_iter = 0
        for it in range(1, cfg.max_iters + 1):
            n_iter = it
            err = task.compute_error(self.configuration)
            pos_err, rot_err = float(np.linalg.norm(err[:3])), float(np.linalg.norm(err[3:]))
            if pos_err < cfg.position_tolerance and rot_err < cfg.orientation_tolerance:
                break
            vel = mink.solve_ik(self.configuration, [task, self._posture], cfg.dt, cfg.solver,
                                cfg.damping, limits=self._limits)
            self.configuration.integrate_inplace(vel, cfg.dt)
        q = self.configuration.q[self._qadr].copy()
        ok = pos_err < cfg.position_tolerance and rot_err < cfg.orientation_tolerance
        return IKResult(q, bool(ok), pos_err, rot_err, n_iter)


def _score(r: IKResult) -> float:
    return r.position_error + 0.1 * r.orientation_error
