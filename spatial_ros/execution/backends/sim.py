"""The default backend: the ``sim`` node, spoken to exactly like a ros2_control controller.

The sim node accepts ``trajectory_msgs/JointTrajectory`` on the controller topic, a gripper
command, and publishes ``/joint_states``; so this is the trajectory backend with the sim
node's topic names (set by the transport) and its own name for status messages.
"""

from __future__ import annotations

from spatial_ros.execution.backends.trajectory import TrajectoryBackend


class SimBackend(TrajectoryBackend):
    name = "sim"
