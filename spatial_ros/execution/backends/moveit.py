"""MoveIt 2 through ``moveit_py``: MoveIt plans, our envelope checks, the controller executes.

Free moves use the configured pipeline (OMPL RRTConnect by default); Cartesian moves (the
approach, lift, lower and retreat stages) use the Pilz industrial motion planner's ``LIN``.
The planned ``RobotTrajectory`` is converted into our ``JointTrajectory`` (reordered to the
arm's joint order, resampled), checked against the safety envelope like every other
command, and sent through the same joint-trajectory transport as the ``trajectory``
backend, which keeps cancel immediate. Goals are given for the planning group's tip link
(``tool0`` / ``panda_link8``): the TCP target is converted with the fixed tip->TCP offset.

moveit_py is not installable here (no wheel): ``MoveItBackend`` raises ``BackendUnavailable``;
the conversion helpers below are plain numpy and tested.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from spatial_ros.execution.backends.base import BackendUnavailable
from spatial_ros.execution.backends.trajectory import TrajectoryBackend, TrajectoryOptions
from spatial_ros.execution.backends.transport import ArmTransport
from spatial_ros.execution.config import GripperConfig
from spatial_ros.execution.motion import JointTrajectory
from spatial_ros.execution.safety import SafetyEnvelope

GROUPS = {"ur5": ("ur_manipulator", "tool0"), "franka": ("panda_arm", "panda_link8")}


@dataclass
class MoveItOptions:
    planning_group: str = "ur_manipulator"
    pose_link: str = "tool0"
    base_frame: str = "base_link"
    node_name: str = "spatial_executor_moveit"
    free_pipeline: str = "ompl"
    free_planner: str = "RRTConnectkConfigDefault"
    cartesian_pipeline: str = "pilz_industrial_motion_planner"
    cartesian_planner: str = "LIN"
    velocity_scaling: float = 0.3
    acceleration_scaling: float = 0.3
    planning_time: float = 5.0


def tip_goal(tcp_pose: np.ndarray, tip_to_tcp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The tip link pose (position, quaternion x y z w) that puts the TCP at ``tcp_pose``."""
    tip = np.asarray(tcp_pose, dtype=float) @ np.linalg.inv(tip_to_tcp)
    return tip[:3, 3].copy(), Rotation.from_matrix(tip[:3, :3]).as_quat()


def plan_parameters(opts: MoveItOptions, cartesian: bool) -> dict[str, object]:
    """Attribute values for ``moveit.planning.PlanRequestParameters``."""
    return {
        "planning_pipeline": opts.cartesian_pipeline if cartesian else opts.free_pipeline,
        "planner_id": opts.cartesian_planner if cartesian else opts.free_planner,
        "planning_time": opts.planning_time,
        "planning_attempts": 1,
        "max_velocity_scaling_factor": opts.velocity_scaling,
        "max_acceleration_scaling_factor": opts.acceleration_scaling,
    }


def trajectory_from_points(arm_joints: Sequence[str], msg_joint_names: Sequence[str],
                           times: Sequence[float], positions: Sequence[Sequence[float]],
                           velocities: Sequence[Sequence[float]] | None = None,
                           dt: float = 0.01) -> JointTrajectory:
    """A MoveIt ``joint_trajectory`` (any joint order, sparse points) as our dense trajectory."""
    missing = [j for j in arm_joints if j not in msg_joint_names]
    if missing:
        raise ValueError(f"planned trajectory lacks joints {missing}")
    order = [list(msg_joint_names).index(j) for j in arm_joints]
    t = np.asarray(times, dtype=float)
    pos = np.asarray(positions, dtype=float)[:, order]
    if len(t) == 0:
        raise ValueError("planned trajectory is empty")
    vel = None
    if velocities is not None and len(velocities) == len(t) and len(velocities[0]):
        vel = np.asarray(velocities, dtype=float)[:, order]
    t = t - t[0]
    keep = np.concatenate([[True], np.diff(t) > 1e-9])  # MoveIt may repeat a stamp
    t, pos = t[keep], pos[keep]
    if vel is not None:
        vel = vel[keep]
    else:
        vel = np.gradient(pos, t, axis=0) if len(t) > 1 else np.zeros_like(pos)
    traj = JointTrajectory(tuple(arm_joints), t, pos, vel)
    return traj.every(dt) if traj.duration > 0 else traj


class MoveItBackend(TrajectoryBackend):
    name = "moveit"

    def __init__(self, envelope: SafetyEnvelope, gripper: GripperConfig,
                 transport: ArmTransport, tip_to_tcp: np.ndarray,
                 opts: MoveItOptions | None = None, traj_opts: TrajectoryOptions | None = None
                 ) -> None:
        try:
            from moveit.planning import MoveItPy, PlanRequestParameters
        except ImportError as exc:
            raise BackendUnavailable(
                "backend 'moveit' needs moveit_py (apt: ros-<distro>-moveit-py, with a running "
                f"move_group config for the robot); it is not installable here ({exc})") from exc
        super().__init__(envelope, gripper, transport, traj_opts)
        self.opts = opts or MoveItOptions()
        self.tip_to_tcp = np.asarray(tip_to_tcp, dtype=float)
        self._params_cls = PlanRequestParameters
        self._moveit = MoveItPy(node_name=self.opts.node_name)
        self._group = self._moveit.get_planning_component(self.opts.planning_group)

    def plan_to_pose(self, q_start: np.ndarray, pose: np.ndarray, cartesian: bool
                     ) -> JointTrajectory | None:
        position, quat = tip_goal(pose, self.tip_to_tcp)
        goal = self.transport.pose_stamped(self.opts.base_frame, position, quat)
        self._group.set_start_state_to_current_state()
        self._group.set_goal_state(pose_stamped_msg=goal, pose_link=self.opts.pose_link)
        params = self._params_cls(self._moveit)
        for key, value in plan_parameters(self.opts, cartesian).items():
            setattr(params, key, value)
        result = self._group.plan(single_plan_parameters=params)
        if not result:
            return None
        msg = result.trajectory.get_robot_trajectory_msg().joint_trajectory
        times = [p.time_from_start.sec + 1e-9 * p.time_from_start.nanosec for p in msg.points]
        return trajectory_from_points(self.joint_names, msg.joint_names, times,
                                      [p.positions for p in msg.points],
                                      [p.velocities for p in msg.points])
