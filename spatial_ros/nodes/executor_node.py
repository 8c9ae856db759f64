"""``executor_node``: language tasks in, robot motion out, status back.

Subscribes ``/spatial/task`` (std_msgs/String: plain text or JSON ``{"id", "text"}``) and
``/spatial/cancel`` (std_msgs/Empty); publishes ``/spatial/status`` (JSON: id, step, steps,
step_text, state, error), transient local with the last 20 kept, so a monitor that subscribes
late (or whose discovery finishes after a quick rejection) still reads them. A task runs in a
worker thread so callbacks (joint states, perception results, cancel) never wait behind
motion; cancel sets the task's stop flag and commands "hold here" at once. A second task
while one runs is refused with a status, not queued. Grounding is the perception node
(default) or the sim's ground truth.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from std_msgs.msg import Empty, String

from spatial_ros.nodes.ros_transport import RELIABLE, PerceptionClient, RosArmTransport
from spatial_ros.nodes.runtime import qos_from_name, run_node

NODE_NAME = "executor_node"
PARAMS: dict[str, Any] = {
    "robot": "ur5",
    "backend": "",  # empty: the robot config's backend (sim)
    "config_file": "",  # empty: config/executor_<robot>.yaml
    "grounding": "perception",  # perception | ground_truth (sim only)
    "speed_scale": 0.0,  # > 0 overrides motion.speed_scale
    "max_tcp_speed": 0.0,  # > 0 overrides envelope.max_tcp_speed (m/s)
    "base_frame": "",  # empty: the robot config's base frame
    "task_topic": "/spatial/task",
    "status_topic": "/spatial/status",
    "cancel_topic": "/spatial/cancel",
    "instruction_topic": "/spatial/instruction",
    "result_topic": "/spatial/result",
    "trajectory_topic": "/joint_trajectory_controller/joint_trajectory",
    "joint_states_topic": "/joint_states",
    "gripper_topic": "/gripper/command",
    "ground_truth_topic": "/sim/objects",
    "camera_pose_topic": "/sim/camera_pose",
    "perception_timeout": 20.0,
}


class ExecutorNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__(NODE_NAME, **kwargs)
        p = {k: self.declare_parameter(k, v).value for k, v in PARAMS.items()}
        self.p = p
        from spatial_ros.execution.assembly import build_arm_stack, link_undriven_arms
        from spatial_ros.execution.config import load_executor_config

        overrides: dict[str, Any] = {"robot": p["robot"]}
        if p["backend"]:
            overrides["backend"] = p["backend"]
        if p["speed_scale"] > 0:
            overrides["motion.speed_scale"] = p["speed_scale"]
        if p["max_tcp_speed"] > 0:
            overrides["envelope.max_tcp_speed"] = p["max_tcp_speed"]
        if p["base_frame"]:
            overrides["base_frame"] = p["base_frame"]
        cfg = load_executor_config(None if p["config_file"] else p["robot"],
                                   path=p["config_file"] or None, overrides=overrides)
        self.cfg = cfg
        group = ReentrantCallbackGroup()
        self.stack = build_arm_stack(cfg)
        fingers = tuple(self.stack.kin.group.gripper_joints)
        self.transport = RosArmTransport(self, p["trajectory_topic"], p["joint_states_topic"],
                                         p["gripper_topic"], fingers, group)
        self.stack.attach(self._backend())
        # G1: the waist this node turns also carries the arm it does not drive
        link_undriven_arms(self.stack, self.transport.joint_positions)
        self.grounder, self.observer = self._grounding(group)
        self.pub_status = self.create_publisher(String, p["status_topic"],
                                                qos_from_name("latched", depth=20))
        self.create_subscription(String, p["task_topic"], self._on_task, RELIABLE,
                                 callback_group=group)
        self.create_subscription(Empty, p["cancel_topic"], self._on_cancel, RELIABLE,
                                 callback_group=group)
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._cancel = threading.Event()
        self._task_id = ""
        self.get_logger().info(
            f"executor ready: robot={cfg.robot} backend={self.stack.backend.name} "
            f"grounding={p['grounding']} tasks on {p['task_topic']}")

    # ---- construction ----------------------------------------------------------------
    def _backend(self):
        from spatial_ros.execution.backends.sim import SimBackend
        from spatial_ros.execution.backends.trajectory import TrajectoryBackend

        cfg, st = self.cfg, self.stack
        if cfg.backend == "sim":
            return SimBackend(st.envelope, cfg.gripper, self.transport)
        if cfg.backend == "trajectory":
            return TrajectoryBackend(st.envelope, cfg.gripper, self.transport)
        if cfg.backend == "moveit":
            from spatial_ros.execution.backends.moveit import MoveItBackend, MoveItOptions

            o = cfg.backend_options
            opts = MoveItOptions(planning_group=o.get("planning_group", "ur_manipulator"),
                                 pose_link=o.get("pose_link", "tool0"),
                                 base_frame=cfg.base_frame)
            return MoveItBackend(st.envelope, cfg.gripper, self.transport,
                                 st.kin.tip_to_tcp(), opts)
        if cfg.backend == "unitree":
            from spatial_ros.execution.backends.unitree import UnitreeBackend, UnitreeOptions

            order = st.kin.robot.joint_order_29dof
            idx = {j: order.index(j) for j in st.kin.joint_names}
            o = cfg.backend_options
            opts = UnitreeOptions(network_interface=str(o.get("network_interface", "")),
                                  control_dt=float(o.get("control_dt", 0.02)),
                                  ramp_time=float(o.get("ramp_time", 2.0)))
            return UnitreeBackend(st.envelope, cfg.gripper, idx, opts)
        raise ValueError(f"backend '{cfg.backend}' cannot run in the node "
                         "(use sim, trajectory, moveit or unitree)")

    def _grounding(self, group):
        from spatial_ros.execution.grounding import PerceptionGrounder
        from spatial_ros.execution.outcome import NullObserver

        p = self.p
        if p["grounding"] == "perception":
            client = PerceptionClient(self, p["instruction_topic"], p["result_topic"],
                                      p["perception_timeout"], group)
            return PerceptionGrounder.from_config(client.ask, self.cfg), NullObserver()
        if p["grounding"] == "ground_truth":
            import numpy as np

            from spatial_ros.execution.grounding import GroundTruthGrounder, truth_scene
            from spatial_ros.execution.outcome import GroundTruthObserver
            from spatial_ros.nodes.ros_transport import TruthListener

            listener = TruthListener(self, p["ground_truth_topic"], p["camera_pose_topic"],
                                     group)
            table_z = self.cfg.envelope.table_height

            def scene():
                objs = listener.objects(newer_than=time.monotonic())  # a fresh one
                cam = listener.camera_pose if listener.camera_pose is not None else np.eye(4)
                return truth_scene(objs, cam, table_z)
            return (GroundTruthGrounder(scene, self.cfg.gripper.open_width),
                    GroundTruthObserver(scene))
        raise ValueError(f"grounding must be 'perception' or 'ground_truth', got "
                         f"'{p['grounding']}'")

    # ---- callbacks ---------------------------------------------------------------------
    def publish_status(self, status: dict[str, Any]) -> None:
        self.pub_status.publish(String(data=json.dumps(status)))

    def _on_task(self, msg: String) -> None:
        from spatial_ros.perception.request import parse_request

        request = parse_request(msg.data, f"task-{uuid.uuid4().hex[:8]}")
        error = request.error or ("" if request.text.strip() else "empty task")
        if error:
            self.publish_status({"id": request.request_id, "state": "rejected",
                                 "error": error, "step": 0})
            return
        with self._lock:
            if self._worker is not None and self._worker.is_alive():
                self.publish_status({"id": request.request_id, "state": "rejected",
                                     "error": f"busy with task {self._task_id}", "step": 0})
                return
            self._cancel = threading.Event()
            self._task_id = request.request_id
            self._worker = threading.Thread(target=self._run, name="executor-task",
                                            args=(request.request_id, request.text,
                                                  self._cancel), daemon=True)
            self._worker.start()

    def _run(self, task_id: str, text: str, cancel: threading.Event) -> None:
        from spatial_ros.execution.task_runner import TaskRunner

        runner = TaskRunner(self.stack, self.grounder, self.observer,
                            on_status=self.publish_status)
        try:
            report = runner.run(text, task_id=task_id, cancel=cancel)
            self.get_logger().info(f"task {task_id}: {report.state} {report.error}")
        except Exception as exc:  # the node outlives any task bug
            self.get_logger().error(f"task {task_id} crashed: {exc!r}")
            self.stack.backend.stop()
            self.publish_status({"id": task_id, "state": "failed", "step": 0,
                                 "error": f"{type(exc).__name__}: {exc}"})

    def _on_cancel(self, _msg: Empty) -> None:
        self._cancel.set()
        self.stack.backend.stop()  # hold here now, even between steps
        self.get_logger().warn(f"cancel: stopping task {self._task_id or '(none)'}")

    def close(self) -> None:
        self._cancel.set()
        if self.stack.backend is not None and self.context.ok():
            try:
                self.stack.backend.stop()
                self.stack.backend.close()
            except Exception as exc:  # shutting down: report, never raise
                self.get_logger().warn(f"stop at shutdown failed: {exc}")
        if self._worker is not None:
            self._worker.join(timeout=2.0)


def main(argv: list[str] | None = None) -> int:
    return run_node(ExecutorNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
