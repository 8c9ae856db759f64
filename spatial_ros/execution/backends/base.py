"""The interface every backend implements, with the safety envelope built in.

``execute`` and ``set_gripper`` are template methods: the envelope check runs here, in the
base class, before the subclass's ``_execute`` / ``_set_gripper`` can send anything, so no
backend can forget it. ``stop`` (hold the current position) is the one command that is not
checked: it never moves the arm.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from spatial_ros.execution.config import GripperConfig
from spatial_ros.execution.motion import JointTrajectory
from spatial_ros.execution.safety import SafetyEnvelope


class BackendUnavailable(RuntimeError):
    """The backend's library or robot connection is missing on this machine."""


@dataclass
class MotionResult:
    ok: bool
    reason: str = ""
    final_q: np.ndarray | None = None
    elapsed: float = 0.0  # seconds of robot (or sim) time

    @property
    def cancelled(self) -> bool:
        return self.reason == "cancelled"


class Backend(ABC):
    """One arm and its gripper."""

    name = "base"

    def __init__(self, envelope: SafetyEnvelope, gripper: GripperConfig) -> None:
        self.envelope = envelope
        self.gripper_cfg = gripper
        #: every trajectory that passed the envelope and was handed to ``_execute``.
        self.sent: list[JointTrajectory] = []
        self._lock = threading.Lock()

    @property
    def joint_names(self) -> tuple[str, ...]:
        return self.envelope.joint_names

    # ---- state ---------------------------------------------------------------------
    @abstractmethod
    def joint_positions(self) -> np.ndarray:
        """Measured arm joint positions in ``joint_names`` order."""

    @abstractmethod
    def gripper_width(self) -> float:
        """Measured jaw opening in metres."""

    def now(self) -> float:
        """Robot clock (sim time in simulation) in seconds."""
        import time

        return time.monotonic()

    def wait(self, seconds: float) -> None:
        """Lets the world settle (robot clock); the arm holds its last command."""
        import time

        time.sleep(seconds)

    # ---- commands (checked) ------------------------------------------------------------
    def execute(self, traj: JointTrajectory, cancel: threading.Event | None = None
                ) -> MotionResult:
        """Checks ``traj`` against the envelope, then runs it until done or cancelled.
        Already cancelled: nothing is sent (a cancel may land between two stages)."""
        if cancel is not None and cancel.is_set():
            return MotionResult(False, "cancelled", self.joint_positions())
        self.envelope.check_trajectory(traj, current_q=self.joint_positions())
        with self._lock:
            self.sent.append(traj)
        return self._execute(traj, cancel or threading.Event())

    def set_gripper(self, width: float, cancel: threading.Event | None = None) -> MotionResult:
        if cancel is not None and cancel.is_set():
            return MotionResult(False, "cancelled")
        g = self.gripper_cfg
        self.envelope.check_gripper(width, g.open_width, g.closed_width)
        return self._set_gripper(float(width), cancel or threading.Event())

    @abstractmethod
    def _execute(self, traj: JointTrajectory, cancel: threading.Event) -> MotionResult:
        """Runs an already checked trajectory; returns early with "cancelled"."""

    @abstractmethod
    def _set_gripper(self, width: float, cancel: threading.Event) -> MotionResult:
        """Moves the jaws to ``width`` (or until they close on an object)."""

    @abstractmethod
    def stop(self) -> None:
        """Stops the arm where it is, at once; safe to call from any thread."""

    def plan_to_pose(self, q_start: np.ndarray, pose: np.ndarray, cartesian: bool
                     ) -> JointTrajectory | None:
        """Backends with their own planner (MoveIt) return a trajectory; others None."""
        return None

    def close(self) -> None:
        """Releases the connection (ramps out of low-level control where that applies)."""
        return None
