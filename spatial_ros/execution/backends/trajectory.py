"""A ros2_control joint_trajectory_controller driven directly, with our own IK and timing.

The executor plans (IK + min-jerk timing), the envelope checks, and this backend publishes
the checked trajectory on ``/<controller>/joint_trajectory`` through an ``ArmTransport``,
then watches ``/joint_states`` until the goal is reached, the time runs out, or a cancel
arrives (then it sends "hold here" at once).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from spatial_ros.execution.backends.base import Backend, MotionResult
from spatial_ros.execution.backends.transport import ArmTransport
from spatial_ros.execution.config import GripperConfig
from spatial_ros.execution.motion import JointTrajectory
from spatial_ros.execution.safety import SafetyEnvelope


@dataclass
class TrajectoryOptions:
    #: spacing of the points sent to the controller (it interpolates between them).
    send_dt: float = 0.05
    goal_tolerance: float = 0.02
    #: extra time after the nominal duration before a move counts as failed.
    goal_time_tolerance: float = 2.0
    poll_period: float = 0.005
    state_timeout: float = 5.0


class TrajectoryBackend(Backend):
    name = "trajectory"

    def __init__(self, envelope: SafetyEnvelope, gripper: GripperConfig,
                 transport: ArmTransport, opts: TrajectoryOptions | None = None) -> None:
        super().__init__(envelope, gripper)
        self.transport = transport
        self.opts = opts or TrajectoryOptions()
        self._stop = threading.Event()

    def wait_for_state(self, timeout: float | None = None) -> np.ndarray:
        timeout = self.opts.state_timeout if timeout is None else timeout
        t_end = self.transport.now() + timeout
        while True:
            q = self.transport.joint_positions(self.joint_names)
            if q is not None:
                return q
            if self.transport.now() > t_end:
                raise TimeoutError(f"no joint state for {list(self.joint_names)} within "
                                   f"{timeout:.1f}s: is /joint_states published?")
            self.transport.sleep(0.02)

    def joint_positions(self) -> np.ndarray:
        return self.wait_for_state()

    def gripper_width(self) -> float:
        width = self.transport.gripper_width()
        if width is None:
            raise RuntimeError("gripper width unknown: no finger joint state received")
        return width

    def now(self) -> float:
        return self.transport.now()

    def wait(self, seconds: float) -> None:
        t_end = self.transport.now() + seconds
        while self.transport.now() < t_end:
            self.transport.sleep(0.02)

    def _execute(self, traj: JointTrajectory, cancel: threading.Event) -> MotionResult:
        self._stop.clear()
        self.transport.send_trajectory(traj.every(self.opts.send_dt))
        t0 = self.transport.now()
        deadline = t0 + traj.duration + self.opts.goal_time_tolerance
        goal = traj.final
        while True:
            if cancel.is_set() or self._stop.is_set():
                self.stop()
                return MotionResult(False, "cancelled", self.joint_positions(),
                                    self.transport.now() - t0)
            q = self.joint_positions()
            now = self.transport.now()
            err = float(np.max(np.abs(q - goal)))
            if now - t0 >= traj.duration and err <= self.opts.goal_tolerance:
                return MotionResult(True, "", q, now - t0)
            if now > deadline:
                return MotionResult(False, f"goal not reached: joint error {err:.3f} rad after "
                                    f"{now - t0:.1f}s", q, now - t0)
            self.transport.sleep(self.opts.poll_period)

    def _set_gripper(self, width: float, cancel: threading.Event) -> MotionResult:
        self.transport.send_gripper(width)
        t0 = self.transport.now()
        last, still_since = None, t0
        while self.transport.now() - t0 < self.gripper_cfg.settle_time * 4:
            if cancel.is_set():
                return MotionResult(False, "cancelled", elapsed=self.transport.now() - t0)
            w = self.transport.gripper_width()
            now = self.transport.now()
            if w is not None and last is not None and abs(w - last) > 1e-4:
                still_since = now
            last = w
            if w is not None and (abs(w - width) < 2e-3 or (
                    now - t0 >= self.gripper_cfg.settle_time and now - still_since > 0.2)):
                break
            self.transport.sleep(0.02)
        return MotionResult(True, "", elapsed=self.transport.now() - t0)

    def stop(self) -> None:
        self._stop.set()
        q = self.transport.joint_positions(self.joint_names)
        if q is not None:
            self.transport.send_stop(self.joint_names, q)
