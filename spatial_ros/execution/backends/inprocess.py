"""Drives a ``spatial_ros.sim`` MuJoCo world directly: fast, hermetic tests and benchmarks.

Same ``Backend`` contract (and so the same envelope check) as the ROS backends: a checked
trajectory is played into the arm's position actuators once per ``control_dt`` of sim time,
the gripper actuator takes the jaw opening in metres. Cancel is polled every control step,
so the arm is told to hold within one control period (10 ms of sim time by default).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import mujoco
import numpy as np

from spatial_ros.execution.backends.base import Backend, MotionResult
from spatial_ros.execution.config import GripperConfig
from spatial_ros.execution.motion import JointTrajectory
from spatial_ros.execution.safety import SafetyEnvelope


class InProcessSimBackend(Backend):
    name = "inprocess"

    def __init__(self, envelope: SafetyEnvelope, gripper: GripperConfig, world,
                 group: str | None = None, control_dt: float = 0.01,
                 settle_time: float = 1.0, goal_tolerance: float = 0.02,
                 on_control_step: Callable[[float], None] | None = None) -> None:
        super().__init__(envelope, gripper)
        self.world = world
        model = world.model
        robot = world.robot
        self.group = robot.groups[group or robot.default_group]
        if tuple(self.group.joints) != self.joint_names:
            raise ValueError(f"envelope joints {self.joint_names} are not group "
                             f"{self.group.name}'s {self.group.joints}")
        self._qadr = np.array([model.joint(j).qposadr[0] for j in self.group.joints])
        self._dadr = np.array([model.joint(j).dofadr[0] for j in self.group.joints])
        self._act = np.array([model.actuator(a).id for a in self.group.actuators])
        self._grip_act = model.actuator(self.group.gripper_actuator).id
        self._finger_qadr = np.array([model.joint(j).qposadr[0]
                                      for j in self.group.gripper_joints])
        self._finger_dadr = np.array([model.joint(j).dofadr[0]
                                      for j in self.group.gripper_joints])
        self.steps_per_control = max(1, round(control_dt / model.opt.timestep))
        self.control_dt = self.steps_per_control * model.opt.timestep
        self.settle_time = settle_time
        self.goal_tolerance = goal_tolerance
        self.on_control_step = on_control_step
        #: every arm position command written to the actuators (for audits and tests).
        self.commanded: list[np.ndarray] = []
        self._stop = threading.Event()
        self.cancel_seen_at: float | None = None

    # ---- state ---------------------------------------------------------------------
    def joint_positions(self) -> np.ndarray:
        return self.world.data.qpos[self._qadr].copy()

    def joint_velocities(self) -> np.ndarray:
        return self.world.data.qvel[self._dadr].copy()

    def gripper_width(self) -> float:
        return float(np.sum(self.world.data.qpos[self._finger_qadr]))

    def now(self) -> float:
        return float(self.world.data.time)

    # ---- stepping ------------------------------------------------------------------
    def _command(self, q: np.ndarray) -> None:
        self.world.data.ctrl[self._act] = q
        self.commanded.append(np.asarray(q, dtype=float).copy())

    def _tick(self) -> None:
        mujoco.mj_step(self.world.model, self.world.data, nstep=self.steps_per_control)
        if self.on_control_step is not None:
            self.on_control_step(self.now())

    def wait(self, seconds: float) -> None:
        self.idle(seconds)

    def idle(self, seconds: float) -> None:
        """Lets physics run with the current commands (e.g. for objects to settle)."""
        for _ in range(int(np.ceil(seconds / self.control_dt))):
            self._tick()

    def _execute(self, traj: JointTrajectory, cancel: threading.Event) -> MotionResult:
        self._stop.clear()
        t0 = self.now()
        goal = traj.final
        while True:
            t = self.now() - t0
            if cancel.is_set() or self._stop.is_set():
                self.cancel_seen_at = self.now()
                self._hold()
                return MotionResult(False, "cancelled", self.joint_positions(), t)
            q, _ = traj.sample(t)
            self._command(q)
            self._tick()
            if t >= traj.duration:
                err = float(np.max(np.abs(self.joint_positions() - goal)))
                if err <= self.goal_tolerance:
                    return MotionResult(True, "", self.joint_positions(), t)
                if t > traj.duration + self.settle_time:
                    return MotionResult(False, f"goal not reached: joint error {err:.3f} rad",
                                        self.joint_positions(), t)

    def _hold(self) -> None:
        self._command(self.joint_positions())

    def _set_gripper(self, width: float, cancel: threading.Event) -> MotionResult:
        self.world.data.ctrl[self._grip_act] = width
        t0 = self.now()
        g = self.gripper_cfg
        while self.now() - t0 < g.settle_time * 3:
            if cancel.is_set() or self._stop.is_set():
                return MotionResult(False, "cancelled", elapsed=self.now() - t0)
            self._tick()
            speed = float(np.max(np.abs(self.world.data.qvel[self._finger_dadr])))
            if abs(self.gripper_width() - width) < 1e-3 or (
                    self.now() - t0 >= g.settle_time and speed < 1e-3):
                break
        return MotionResult(True, "", elapsed=self.now() - t0)

    def stop(self) -> None:
        self._stop.set()
