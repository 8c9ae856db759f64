"""A running simulation: world + robot, stepped in time, commanded like ros2_control.

This is what the sim node wraps, kept free of ROS so it can be tested and scripted directly.
Trajectories follow ``joint_trajectory_controller`` semantics: ``time_from_start`` is
relative to the moment the command is accepted, the current commanded position is prepended
when the first point is not at t=0, joints not named keep their targets, and a new command
replaces the running one. Every point is checked against the actuator limits before anything
moves, so a bad command is rejected whole.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import mujoco
import numpy as np

from spatial_ros.sim.trajectory import JointTrajectory
from spatial_ros.sim.world import World


@dataclass
class _Active:
    actuators: np.ndarray  # actuator ids, aligned with the trajectory's columns
    traj: JointTrajectory
    t0: float  # sim time the trajectory started


@dataclass
class JointStateSample:
    stamp: float
    names: list[str]
    position: list[float]
    velocity: list[float]
    effort: list[float]


class Simulation:
    """Thread-safe stepping and commanding of one ``World`` (take ``lock`` to read state)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.lock = threading.RLock()
        self.controller = None
        self._active: _Active | None = None
        self._joint_act: dict[str, int] = {}
        self.joint_names: list[str] = []
        if world.robot is not None:
            from spatial_ros.sim.controller import RobotController

            self.controller = RobotController(world.model, world.data, world.robot)
            m = world.model
            for name in world.robot.joint_names:
                aid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_ACTUATOR, name)
                if aid >= 0:
                    self._joint_act[name] = aid
            fingers = [j for g in world.robot.groups.values() for j in g.gripper_joints]
            self.joint_names = list(world.robot.joint_names) + fingers
        m = world.model
        self._qadr = [int(m.joint(j).qposadr[0]) for j in self.joint_names]
        self._dofadr = [int(m.joint(j).dofadr[0]) for j in self.joint_names]

    @property
    def time(self) -> float:
        return float(self.world.data.time)

    @property
    def busy(self) -> bool:
        """True while a trajectory is being executed."""
        with self.lock:
            return self._active is not None

    # ------------------------------------------------------------------ stepping
    def step(self, n: int = 1) -> None:
        model, data = self.world.model, self.world.data
        with self.lock:
            for _ in range(n):
                active = self._active
                if active is not None:
                    t = data.time - active.t0 + model.opt.timestep
                    data.ctrl[active.actuators] = active.traj.sample(t)
                    if t >= active.traj.duration:
                        data.ctrl[active.actuators] = active.traj.positions[-1]
                        self._active = None
                mujoco.mj_step(model, data)

    # ------------------------------------------------------------------ commands
    def command_trajectory(self, joint_names: list[str], times: list[float],
                           positions: list[list[float]],
                           velocities: list[list[float]] | None = None) -> float:
        """Starts a trajectory; returns its duration (s). Raises ValueError on bad input."""
        if self.controller is None:
            raise ValueError("no robot in this simulation (robot: none): trajectory ignored")
        if not joint_names:
            raise ValueError("trajectory names no joints")
        if len(set(joint_names)) != len(joint_names):
            raise ValueError(f"trajectory names a joint twice: {joint_names}")
        unknown = [j for j in joint_names if j not in self._joint_act]
        if unknown:
            raise ValueError(f"unknown joint(s) {unknown}; this {self.world.robot.name} has "
                             f"{list(self._joint_act)}")
        if not times:
            raise ValueError("trajectory has no points")
        pos = np.asarray(positions, float)
        if pos.shape != (len(times), len(joint_names)):
            raise ValueError(f"each point needs {len(joint_names)} positions, got shape "
                             f"{pos.shape}")
        t = np.asarray(times, float)
        if not np.all(np.isfinite(pos)) or not np.all(np.isfinite(t)) or t[0] < 0:
            raise ValueError("trajectory times/positions must be finite, times >= 0")
        if np.any(np.diff(t) <= 0):
            raise ValueError(f"time_from_start must strictly increase, got {t.tolist()}")
        act = np.array([self._joint_act[j] for j in joint_names])
        ranges = self.world.model.actuator_ctrlrange[act]
        bad = (pos < ranges[:, 0] - 1e-6) | (pos > ranges[:, 1] + 1e-6)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(f"point {i}: {joint_names[j]} = {pos[i, j]:.4f} is outside its "
                             f"limits [{ranges[j, 0]:.4f}, {ranges[j, 1]:.4f}]")
        vel = None
        if velocities is not None and len(velocities) == len(times) and all(
                len(v) == len(joint_names) for v in velocities):
            vel = np.asarray(velocities, float)
        with self.lock:
            start = self.world.data.ctrl[act].copy()
            if t[0] > 0:  # JTC: start from where the joints are commanded now
                t = np.concatenate([[0.0], t])
                pos = np.vstack([start, pos])
                if vel is not None:
                    vel = np.vstack([np.zeros(len(act)), vel])
            if len(t) == 1:  # a single point at t=0: jump the target
                t = np.array([0.0, self.world.model.opt.timestep])
                pos = np.vstack([pos, pos])
                vel = None
            self._active = _Active(act, JointTrajectory(t, pos, vel), self.time)
            return float(t[-1])

    def command_gripper(self, width: float, group: str | None = None) -> None:
        if self.controller is None:
            raise ValueError("no robot in this simulation (robot: none): gripper ignored")
        with self.lock:
            self.controller.set_gripper(float(width), group)

    def cancel(self) -> None:
        """Stops a running trajectory and holds the joints where they are."""
        m, d = self.world.model, self.world.data
        with self.lock:
            if self._active is not None:
                act = self._active.actuators
                self._active = None
                d.ctrl[act] = d.qpos[m.jnt_qposadr[m.actuator_trnid[act, 0]]]

    # ------------------------------------------------------------------ state
    def joint_state(self) -> JointStateSample:
        d = self.world.data
        with self.lock:
            return JointStateSample(
                stamp=float(d.time), names=list(self.joint_names),
                position=[float(d.qpos[a]) for a in self._qadr],
                velocity=[float(d.qvel[a]) for a in self._dofadr],
                effort=[float(d.qfrc_actuator[a]) for a in self._dofadr])

    def new_snapshot(self) -> mujoco.MjData:
        """A private MjData for ``snapshot`` (one per reader thread)."""
        return mujoco.MjData(self.world.model)

    def snapshot(self, out: mujoco.MjData) -> mujoco.MjData:
        """Copies the physics state into ``out`` (a private MjData) and recomputes its
        kinematics, so a renderer can use it without holding the lock."""
        d = self.world.data
        with self.lock:
            out.time = d.time
            out.qpos[:] = d.qpos
            out.qvel[:] = d.qvel
            if d.mocap_pos.size:
                out.mocap_pos[:] = d.mocap_pos
                out.mocap_quat[:] = d.mocap_quat
        mujoco.mj_kinematics(self.world.model, out)
        mujoco.mj_camlight(self.world.model, out)
        return out
