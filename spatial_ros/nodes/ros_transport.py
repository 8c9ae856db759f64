"""rclpy adapters the executor's backends and grounders need (the only ROS-aware part).

- ``RosArmTransport``: ``trajectory_msgs/JointTrajectory`` publisher (a ros2_control
  joint_trajectory_controller or the sim node), ``/joint_states`` subscriber, gripper
  command (``std_msgs/Float64`` opening in metres), "hold here" for cancel.
- ``PerceptionClient``: asks the perception node (``/spatial/instruction`` JSON with an id)
  and waits for the matching ``/spatial/result``.
- ``TruthListener``: the sim node's ground truth (``/sim/objects``, ``/sim/camera_pose``).
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, String
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg
from trajectory_msgs.msg import JointTrajectoryPoint

from spatial_ros.execution.motion import JointTrajectory

RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def _duration(t: float) -> Duration:
    sec = int(np.floor(t))
    return Duration(sec=sec, nanosec=round((t - sec) * 1e9) % 1_000_000_000)


def trajectory_msg(traj: JointTrajectory) -> JointTrajectoryMsg:
    """Our trajectory as a message; header stamp 0 means "start now" to the controller."""
    msg = JointTrajectoryMsg()
    msg.joint_names = list(traj.joint_names)
    for t, q, qd in zip(traj.times, traj.positions, traj.velocities, strict=True):
        msg.points.append(JointTrajectoryPoint(
            positions=[float(v) for v in q], velocities=[float(v) for v in qd],
            time_from_start=_duration(float(t))))
    return msg


class RosArmTransport:
    def __init__(self, node: Node, trajectory_topic: str, joint_states_topic: str,
                 gripper_topic: str, finger_joints: tuple[str, ...], callback_group=None
                 ) -> None:
        self.node = node
        self.finger_joints = tuple(finger_joints)
        self._lock = threading.Lock()
        self._positions: dict[str, float] = {}
        self._pub_traj = node.create_publisher(JointTrajectoryMsg, trajectory_topic, RELIABLE)
        self._pub_grip = node.create_publisher(Float64, gripper_topic, RELIABLE)
        node.create_subscription(JointState, joint_states_topic, self._on_joint_state,
                                 RELIABLE, callback_group=callback_group)

    def _on_joint_state(self, msg: JointState) -> None:
        if len(msg.position) != len(msg.name):
            return  # malformed: ignore, never raise in a callback
        with self._lock:
            self._positions.update(zip(msg.name, map(float, msg.position), strict=True))

    def send_trajectory(self, traj: JointTrajectory) -> None:
        self._pub_traj.publish(trajectory_msg(traj))

    def send_stop(self, joint_names: tuple[str, ...], q: np.ndarray) -> None:
        self._pub_traj.publish(trajectory_msg(JointTrajectory.hold(joint_names, q)))

    def joint_positions(self, joint_names: tuple[str, ...]) -> np.ndarray | None:
        with self._lock:
            if not all(j in self._positions for j in joint_names):
                return None
            return np.array([self._positions[j] for j in joint_names])

    def send_gripper(self, width: float) -> None:
        self._pub_grip.publish(Float64(data=float(width)))

    def gripper_width(self) -> float | None:
        q = self.joint_positions(self.finger_joints)
        return None if q is None else float(np.sum(q))

    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def pose_stamped(self, frame: str, position, quat_xyzw) -> PoseStamped:
        msg = PoseStamped()
        msg.header.frame_id = frame
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = map(float, position)
        o = msg.pose.orientation
        o.x, o.y, o.z, o.w = map(float, quat_xyzw)
        return msg


class PerceptionClient:
    """``ask(prompt) -> PerceptionResult | None`` through the perception node."""

    def __init__(self, node: Node, instruction_topic: str, result_topic: str,
                 timeout: float = 15.0, callback_group=None) -> None:
        self.node = node
        self.timeout = timeout
        self.instruction_topic, self.result_topic = instruction_topic, result_topic
        self._settled = False
        self._pub = node.create_publisher(String, instruction_topic, RELIABLE)
        self._cond = threading.Condition()
        self._results: dict[str, dict] = {}
        node.create_subscription(String, result_topic, self._on_result, RELIABLE,
                                 callback_group=callback_group)

    def _on_result(self, msg: String) -> None:
        try:
            data = json.loads(msg.data)
            rid = data["request_id"]
        except (json.JSONDecodeError, KeyError, TypeError):
            return
        with self._cond:
            self._results[rid] = data
            self._cond.notify_all()

    def _connected(self) -> bool:
        return (self._pub.get_subscription_count() > 0
                and self.node.count_publishers(self.result_topic) > 0)

    def ask(self, prompt: str):
        """The result for ``prompt``; ``None`` on timeout. Publishes only once the perception
        node's reader and writer are discovered: a volatile message sent before discovery
        completes is silently lost, which showed up as "no answer" on a loaded machine."""
        from spatial_ros.perception.result import PerceptionResult

        rid = f"exec-{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + self.timeout
        while not self._connected():
            if time.monotonic() > deadline:
                return PerceptionResult(rid, prompt, error=(
                    f"no perception node on {self.instruction_topic} / {self.result_topic} "
                    f"within {self.timeout:.1f} s"))
            time.sleep(0.05)
        if not self._settled:  # the graph sees the writer a moment before our reader matches
            time.sleep(0.2)
            self._settled = True
        self._pub.publish(String(data=json.dumps({"id": rid, "text": prompt})))
        with self._cond:
            while rid not in self._results:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return PerceptionResult.from_dict(self._results.pop(rid))


class TruthListener:
    """Latest ``/sim/objects`` records and ``/sim/camera_pose`` (base frame)."""

    def __init__(self, node: Node, objects_topic: str = "/sim/objects",
                 camera_pose_topic: str = "/sim/camera_pose", callback_group=None) -> None:
        self._lock = threading.Lock()
        self.truth: dict | None = None
        self.camera_pose: np.ndarray | None = None
        self.stamp = 0.0
        node.create_subscription(String, objects_topic, self._on_objects, RELIABLE,
                                 callback_group=callback_group)
        node.create_subscription(PoseStamped, camera_pose_topic, self._on_camera, RELIABLE,
                                 callback_group=callback_group)

    def _on_objects(self, msg: String) -> None:
        try:
            data = json.loads(msg.data)
            data["objects"]
        except (json.JSONDecodeError, KeyError, TypeError):
            return
        with self._lock:
            self.truth, self.stamp = data, time.monotonic()

    def _on_camera(self, msg: PoseStamped) -> None:
        p, o = msg.pose.position, msg.pose.orientation
        pose = np.eye(4)
        pose[:3, :3] = Rotation.from_quat([o.x, o.y, o.z, o.w]).as_matrix()
        pose[:3, 3] = [p.x, p.y, p.z]
        with self._lock:
            self.camera_pose = pose

    def objects(self, newer_than: float = 0.0, timeout: float = 5.0) -> list[dict]:
        """Object records received after ``newer_than`` (monotonic seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self.truth is not None and self.stamp > newer_than:
                    return list(self.truth["objects"])
            if time.monotonic() > deadline:
                raise TimeoutError("no fresh ground truth on /sim/objects")
            time.sleep(0.02)
