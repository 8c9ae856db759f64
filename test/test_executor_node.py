"""The executor node and the sim node as separate processes over real DDS: a task runs
end to end, bad and concurrent tasks are refused with a status, cancel stops motion."""

from __future__ import annotations

import json
import re
import threading

import numpy as np
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_harness import NodeProcess, wait_for
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Empty, String

from spatial_ros.nodes.runtime import qos_from_name

pytestmark = pytest.mark.ros

SIM_ARGS = ("--ros-args", "-p", "robot:=ur5", "-p", "seed:=0", "-p", "real_time_factor:=1.0",
            "-p", "camera_fps:=0.5", "-p", "camera_width:=160", "-p", "camera_height:=120",
            "-p", "publish_clock:=false")
EXEC_ARGS = ("--ros-args", "-p", "robot:=ur5", "-p", "grounding:=ground_truth")


class _Probe:
    def __init__(self, ros) -> None:
        node = ros.node("executor_probe")
        qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.lock = threading.Lock()
        self.truth: dict = {}
        self.status: list[dict] = []
        self.joints: list[tuple[float, np.ndarray]] = []
        node.create_subscription(String, "/sim/objects", self._on_truth, qos)
        # transient local like the executor's status: a rejection published before discovery
        # reached this end is still delivered
        self.status_sub = node.create_subscription(String, "/spatial/status", self._on_status,
                                                   qos_from_name("latched", depth=50))
        node.create_subscription(JointState, "/joint_states", self._on_joints, qos)
        self.task = node.create_publisher(String, "/spatial/task", qos)
        self.cancel = node.create_publisher(Empty, "/spatial/cancel", qos)
        self.node = node

    def _on_truth(self, msg):
        with self.lock:
            self.truth = json.loads(msg.data)

    def _on_status(self, msg):
        with self.lock:
            self.status.append(json.loads(msg.data))

    def _on_joints(self, msg):
        with self.lock:
            stamp = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
            self.joints.append((stamp, np.array(msg.position[:6])))

    def states(self, task_id: str) -> list[str]:
        with self.lock:
            return [s["state"] for s in self.status if s.get("id") == task_id]

    def last(self, task_id: str) -> dict:
        with self.lock:
            return [s for s in self.status if s.get("id") == task_id][-1]

    def send(self, task_id: str, text: str) -> None:
        self.task.publish(String(data=json.dumps({"id": task_id, "text": text})))


def _objects(probe) -> list[dict]:
    with probe.lock:
        return list(probe.truth["objects"])


def _scene_ready(probe, sim, ex) -> tuple[dict, dict]:
    """Waits for the sim's ground truth and the executor's task topic; returns a container
    and a cube/block to pick from the scene."""
    ok = wait_for(lambda: probe.truth and probe.task.get_subscription_count() > 0
                  and probe.status_sub.get_publisher_count() > 0, timeout=60.0)
    assert ok, f"sim:\n{sim.output()}\nexecutor:\n{ex.output()}"
    objs = _objects(probe)
    box = next(o for o in objs if o["is_container"])
    item = next(o for o in objs if o["graspable"] and o["category"] in ("cube", "block"))
    return box, item


def test_executor_runs_a_task_against_the_sim_node_and_handles_bad_input(ros):
    probe = _Probe(ros)
    with NodeProcess("spatial_ros.nodes.sim_node", *SIM_ARGS) as sim, \
            NodeProcess("spatial_ros.nodes.executor_node", *EXEC_ARGS) as ex:
        box, item = _scene_ready(probe, sim, ex)

        probe.task.publish(String(data='{"id": "bad", "text": 3}'))  # no text
        probe.send("empty", "   ")
        assert wait_for(lambda: probe.states("bad") and probe.states("empty"), timeout=30.0)
        text = (f"pick the {item['colour']} {item['category']} and put it in the "
                f"{box['colour']} {box['category']}")
        probe.send("t1", text)
        assert wait_for(lambda: "running" in probe.states("t1"), timeout=20.0), ex.output()
        probe.send("t2", "pick the red cube")  # while t1 runs: refused, not queued
        assert wait_for(lambda: "done" in probe.states("t1") or "failed" in probe.states("t1"),
                        timeout=90.0), ex.output()
        assert probe.last("t1")["state"] == "done", (probe.last("t1"), ex.output())
        assert probe.states("t2") == ["rejected"] and "busy" in probe.last("t2")["error"]
        assert probe.last("bad")["state"] == "rejected" and "text" in probe.last("bad")["error"]
        assert probe.states("empty") == ["rejected"]

        # ground truth a moment later: the item lies inside the box
        with probe.lock:
            probe.truth = {}
        assert wait_for(lambda: bool(probe.truth), timeout=10.0)
        objs = {o["id"]: o for o in _objects(probe)}
        p, b = np.array(objs[item["id"]]["position"]), np.array(objs[box["id"]]["position"])
        assert np.all(np.abs(p[:2] - b[:2]) < np.array(box["size"][:2]) / 2), (p, b)
        assert ex.alive() and sim.alive()


def test_cancel_stops_the_arm_over_ros(ros):
    probe = _Probe(ros)
    with NodeProcess("spatial_ros.nodes.sim_node", *SIM_ARGS) as sim, \
            NodeProcess("spatial_ros.nodes.executor_node", *EXEC_ARGS) as ex:
        ok = wait_for(lambda: probe.truth and probe.task.get_subscription_count() > 0
                      and probe.cancel.get_subscription_count() > 0
                      and probe.status_sub.get_publisher_count() > 0, timeout=60.0)
        assert ok, f"sim:\n{sim.output()}\nexecutor:\n{ex.output()}"
        objs = _objects(probe)
        box = next(o for o in objs if o["is_container"])
        item = next(o for o in objs if o["graspable"])
        probe.send("c1", f"put the {item['colour']} {item['category']} in the "
                         f"{box['colour']} {box['category']}")
        assert wait_for(lambda: "running" in probe.states("c1"), timeout=30.0), ex.output()

        def moving() -> bool:
            with probe.lock:
                recent = probe.joints[-3:]
            return len(recent) == 3 and np.max(np.abs(recent[-1][1] - recent[0][1])) > 1e-3
        assert wait_for(moving, timeout=20.0), "the arm never started moving"
        probe.cancel.publish(Empty())
        assert wait_for(lambda: "cancelled" in probe.states("c1"), timeout=10.0), ex.output()
        with probe.lock:
            n = len(probe.joints)
        assert wait_for(lambda: len(probe.joints) > n + 45, timeout=10.0)  # ~0.9 s of states
        # the last thing the sim accepted is a one-point hold: no trajectory followed it
        accepted = re.findall(r"trajectory accepted: (\d+) points", sim.output())
        assert accepted and accepted[-1] == "1", sim.output()
        # and the arm is at rest once it has settled on the hold: the hold is a step to the
        # last measured joints, which a moving arm overshoots by a few centiradians for
        # ~0.3 s (a CI run measured 0.06 rad from 0.2 s on, with only holds sent; once 0.18)
        with probe.lock:
            tail = [q for _, q in probe.joints[n + 25:]]
        drift = np.max(np.abs(tail[-1] - tail[0]))
        assert drift < 0.01, (f"arm still moving after cancel: {drift:.4f} rad\n"
                              f"sim:\n{sim.output()[-3000:]}\nexecutor:\n{ex.output()[-3000:]}")
        assert "cancelled" in probe.last("c1")["state"] and ex.alive()


def test_perception_grounded_task_across_three_processes(ros):
    """sim node -> perception node (geometric baseline, extrinsics from /sim/camera_pose)
    -> executor node: the pick is grounded by perception results matched by request id."""
    probe = _Probe(ros)
    perception_args = ("--ros-args", "-p", "referrer:=geometric", "-p", "use_tf:=false",
                       "-p", "extrinsics_topic:=/sim/camera_pose", "-p", "use_sim_time:=true",
                       "-p", "image_qos:=reliable", "-p", "publish_debug_image:=false")
    sim_args = ("--ros-args", "-p", "robot:=ur5", "-p", "seed:=0", "-p", "camera_fps:=2.0")
    exec_args = ("--ros-args", "-p", "robot:=ur5", "-p", "grounding:=perception",
                 "-p", "use_sim_time:=true")
    with NodeProcess("spatial_ros.nodes.sim_node", *sim_args) as sim, \
            NodeProcess("spatial_ros.nodes.perception_node", *perception_args) as per, \
            NodeProcess("spatial_ros.nodes.executor_node", *exec_args) as ex:
        box, item = _scene_ready(probe, sim, ex)
        start = np.array(item["position"])
        images: list = []
        probe.node.create_subscription(Image, "/camera/camera/color/image_raw",
                                       images.append, 10)
        assert wait_for(lambda: len(images) > 0, timeout=30.0), sim.output()
        probe.send("p1", f"put the {item['colour']} {item['category']} in the "
                         f"{box['colour']} {box['category']}")
        finished = wait_for(lambda: any(s in probe.states("p1")
                                        for s in ("done", "failed", "cancelled")), 120.0)
        assert finished, f"executor:\n{ex.output()}\nperception:\n{per.output()}"
        states = probe.states("p1")
        assert "timed out" not in probe.last("p1")["error"]
        with probe.lock:
            steps = [s["step"] for s in probe.status if s.get("id") == "p1"
                     and s["state"] == "running"]
        last = probe.last("p1")
        assert 2 in steps, (last.get("error"), states, ex.output()[-3000:],
                            per.output()[-2000:])  # pick done
        with probe.lock:
            probe.truth = {}
        assert wait_for(lambda: bool(probe.truth), timeout=10.0)
        moved = np.array({o["id"]: o for o in _objects(probe)}[item["id"]]["position"])
        assert np.linalg.norm(moved[:2] - start[:2]) > 0.05, (start, moved)  # it was carried
