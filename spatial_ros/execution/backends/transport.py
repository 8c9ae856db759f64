"""What the ROS-facing backends need from the outside world, as a small protocol.

``spatial_ros.nodes.ros_transport.RosArmTransport`` implements it with rclpy (JointTrajectory
publisher, /joint_states subscriber, gripper command); the execution layer never imports
rclpy or message packages itself.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from spatial_ros.execution.motion import JointTrajectory


class ArmTransport(Protocol):
    def send_trajectory(self, traj: JointTrajectory) -> None:
        """Publishes the trajectory to the joint-trajectory controller (starts now)."""

    def send_stop(self, joint_names: tuple[str, ...], q: np.ndarray) -> None:
        """Replaces whatever runs by "hold ``q``" (the controller stops at once)."""

    def joint_positions(self, joint_names: tuple[str, ...]) -> np.ndarray | None:
        """Latest measured positions in that order, or None before the first message."""

    def send_gripper(self, width: float) -> None:
        """Commands the jaw opening in metres."""

    def gripper_width(self) -> float | None:
        """Latest measured jaw opening in metres, or None when unknown."""

    def now(self) -> float:
        """Seconds on the robot's clock (sim time under use_sim_time)."""

    def sleep(self, seconds: float) -> None:
        """Waits on that clock."""
