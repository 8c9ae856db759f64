"""Position control of a simulated robot's arms and grippers in a MuJoCo model.

The controller only writes actuator targets (``data.ctrl``) and steps physics, exactly like a
ros2_control position interface: trajectories are sampled at every physics step. Targets are
checked against the joint limits first, so the robot is never commanded outside its envelope.
"""

from __future__ import annotations

from collections.abc import Callable

import mujoco
import numpy as np

from spatial_ros.sim.robots import RobotDescription
from spatial_ros.sim.trajectory import JointTrajectory, MotionLimits, time_parameterize


class RobotController:
    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData, robot: RobotDescription,
                 on_step: Callable[[], None] | None = None):
        self.model, self.data, self.robot = model, data, robot
        self.on_step = on_step  # called after every physics step (e.g. camera, ROS publish)
        self._act: dict[str, int] = {}
        for name in robot.actuator_names:
            aid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, name)
            if aid < 0:
                raise ValueError(f"model has no actuator {name!r}; was the robot attached "
                                 f"with attach_robot(..., {robot.name!r})?")
            self._act[name] = aid
        self._qadr = {j: int(model.joint(j).qposadr[0]) for j in robot.home_qpos}
        self._dofadr = {j: int(model.joint(j).dofadr[0]) for j in robot.home_qpos}
        self._active: dict[tuple[str, ...], tuple] = {}  # joints -> (traj, t0, ids, lo, hi)

    # ------------------------------------------------------------------ state
    def group(self, group: str | None = None):
        name = group or self.robot.default_group
        if name not in self.robot.groups:
            raise ValueError(f"unknown arm group {name!r}; {self.robot.name} has "
                             f"{sorted(self.robot.groups)}")
        return self.robot.groups[name]

    def joint_positions(self, group: str | None = None) -> np.ndarray:
        return np.array([self.data.qpos[self._qadr[j]] for j in self.group(group).joints])

    def joint_velocities(self, group: str | None = None) -> np.ndarray:
        return np.array([self.data.qvel[self._dofadr[j]] for j in self.group(group).joints])

    def gripper_width(self, group: str | None = None) -> float:
        j1, j2 = self.group(group).gripper_joints
        return float(self.data.qpos[self._qadr[j1]] + self.data.qpos[self._qadr[j2]])

    def site_pose(self, site: str) -> np.ndarray:
        pose = np.eye(4)
        pose[:3, :3] = self.data.site(site).xmat.reshape(3, 3)
        pose[:3, 3] = self.data.site(site).xpos
        return pose

    def tcp_pose(self, group: str | None = None) -> np.ndarray:
        return self.site_pose(self.group(group).tcp_site)

    def targets(self, group: str | None = None) -> np.ndarray:
        return np.array([self.data.ctrl[self._act[a]] for a in self.group(group).actuators])

    # ------------------------------------------------------------------ commands
    def reset_home(self) -> None:
        """Puts every robot joint at home (fingers open) and holds it there."""
        for j, q in self.robot.home_qpos.items():
            self.data.qpos[self._qadr[j]] = q
            self.data.qvel[self._dofadr[j]] = 0.0
        for a, u in self.robot.home_ctrl.items():
            self.data.ctrl[self._act[a]] = u
        mujoco.mj_forward(self.model, self.data)

    def set_joint_targets(self, q, group: str | None = None) -> None:
        g = self.group(group)
        q = np.asarray(q, float)
        if q.shape != (len(g.actuators),) or not np.all(np.isfinite(q)):
            raise ValueError(f"{g.name}: need {len(g.actuators)} finite joint targets, got {q}")
        for a, v in zip(g.actuators, q, strict=True):
            aid = self._act[a]
            lo, hi = self.model.actuator_ctrlrange[aid]
            if not lo - 1e-6 <= v <= hi + 1e-6:
                raise ValueError(f"target {v:.4f} for {a} is outside its limits [{lo:.4f}, "
                                 f"{hi:.4f}]")
            self.data.ctrl[aid] = np.clip(v, lo, hi)

    def set_gripper(self, width: float, group: str | None = None) -> None:
        """Commands the finger opening (metres between pads); 0 closes with full force."""
        g = self.group(group)
        if not np.isfinite(width):
            raise ValueError(f"gripper width must be finite, got {width}")
        self.data.ctrl[self._act[g.gripper_actuator]] = float(
            np.clip(width, g.gripper_closed, g.gripper_open))

    def open_gripper(self, group: str | None = None) -> None:
        self.set_gripper(self.group(group).gripper_open, group)

    def close_gripper(self, group: str | None = None) -> None:
        self.set_gripper(self.group(group).gripper_closed, group)

    def step(self, n: int = 1) -> None:
        """Steps physics ``n`` times, applying active trajectories before each step."""
        dt = self.model.opt.timestep
        for _ in range(n):
            for key, (traj, t0, ids, lo, hi) in list(self._active.items()):
                t = self.data.time - t0 + dt
                # knots are within limits; clip the spline's tiny overshoot between them
                self.data.ctrl[ids] = np.clip(traj.sample(t), lo, hi)
                if t >= traj.duration:
                    del self._active[key]
            mujoco.mj_step(self.model, self.data)
            if self.on_step is not None:
                self.on_step()

    def wait(self, seconds: float) -> None:
        self.step(max(round(seconds / self.model.opt.timestep), 0))

    def command(self, traj: JointTrajectory, group: str | None = None,
                joints: tuple[str, ...] | list[str] | None = None) -> None:
        """Starts ``traj`` without blocking; every later ``step`` advances it.

        ``joints``: the trajectory's joint names (any subset/order of the robot's arm joints,
        as in a ROS JointTrajectory); default: the group's joints. A new command replaces
        the running one on the same joints.
        """
        names = tuple(joints) if joints is not None else self.group(group).actuators
        unknown = [j for j in names if j not in self._act or j not in self.robot.joint_names]
        if unknown:
            raise ValueError(f"unknown arm joint(s) {unknown}; {self.robot.name} has "
                             f"{list(self.robot.joint_names)}")
        if traj.dof != len(names):
            raise ValueError(f"trajectory has {traj.dof} joints, need {len(names)}")
        ids = np.array([self._act[a] for a in names])
        lo, hi = self.model.actuator_ctrlrange[ids].T
        bad = (traj.positions < lo - 1e-6) | (traj.positions > hi + 1e-6)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(f"trajectory point {traj.positions[i, j]:.4f} for "
                             f"{names[j]} is outside [{lo[j]:.4f}, {hi[j]:.4f}]")
        for key in [k for k, v in self._active.items() if set(v[2]) & set(ids)]:
            del self._active[key]
        self._active[names] = (traj, self.data.time, ids, lo, hi)

    def cancel(self) -> None:
        """Stops all trajectories; the arm holds its current position."""
        for _, _, ids, lo, hi in self._active.values():
            qadr = [self._qadr[self.model.actuator(int(i)).name] for i in ids]
            self.data.ctrl[ids] = np.clip(self.data.qpos[qadr], lo, hi)
        self._active.clear()

    @property
    def busy(self) -> bool:
        return bool(self._active)

    def follow(self, traj: JointTrajectory, group: str | None = None,
               settle: float = 0.1) -> float:
        """Tracks ``traj`` step by step, then waits ``settle`` s; returns the final error (rad)."""
        g = self.group(group)
        self.command(traj, group)
        self.step(int(np.ceil(traj.duration / self.model.opt.timestep)) + 1)
        self.set_joint_targets(traj.positions[-1], group)
        self.wait(settle)
        return float(np.max(np.abs(self.joint_positions(g.name) - traj.positions[-1])))

    def move_to(self, q_goal, group: str | None = None, velocity_scale: float = 0.5,
                settle: float = 0.1) -> float:
        """Quintic joint-space move from the current targets to ``q_goal``."""
        limits = MotionLimits.from_robot(self.robot, group, velocity_scale)
        traj = time_parameterize([self.targets(group), np.asarray(q_goal, float)],
                                 limits.velocity, limits.acceleration)
        return self.follow(traj, group, settle)
