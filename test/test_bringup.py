"""Front door: `spatial-ros demo` and `spatial-ros up --sim` really run the product."""

from __future__ import annotations

import json
import threading

import psutil
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_harness import NodeProcess, wait_for
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from spatial_ros.bringup.demo import DemoConfig, run_demo


def test_demo_pick_succeeds_and_writes_a_report(tmp_path):
    """The README's main command as configured by default: the shipped model perceives."""
    cfg = DemoConfig(robot="ur5", seed=0, out_dir=str(tmp_path), tasks=("pick",))
    assert cfg.referrer == "model"
    outcomes = run_demo(cfg)
    assert len(outcomes) == 1
    assert outcomes[0].success, outcomes[0]
    report = (tmp_path / "report.md").read_text()
    assert "1/1 tasks succeeded" in report
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["tasks"][0]["success"] is True
    assert (tmp_path / "demo.gif").stat().st_size > 10_000
    assert outcomes[0].overlays and (tmp_path / outcomes[0].overlays[0]).is_file()


def test_demo_rejects_unknown_task_kind(tmp_path):
    with pytest.raises(ValueError, match="unknown task kind"):
        run_demo(DemoConfig(out_dir=str(tmp_path), tasks=("juggle",)))


@pytest.mark.ros
def test_up_sim_brings_up_the_graph_in_processes(ros):
    """sim + perception + executor as separate processes; perception answers on sim frames."""
    node = ros.node("up_probe")
    reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    joints: list[JointState] = []
    results: list[dict] = []
    statuses: list[str] = []
    lock = threading.Lock()

    def on_result(msg: String) -> None:
        with lock:
            results.append(json.loads(msg.data))

    node.create_subscription(JointState, "/joint_states", joints.append, 10)
    node.create_subscription(String, "/spatial/result", on_result, reliable)
    node.create_subscription(String, "/spatial/status", lambda m: statuses.append(m.data),
                             reliable)
    instr = node.create_publisher(String, "/spatial/instruction", reliable)
    args = ["up", "--sim", "--robot", "ur5", "--referrer", "geometric", "--device", "cpu",
            "--duration", "170"]
    with NodeProcess("spatial_ros.cli.main", *args) as up:
        assert wait_for(lambda: len(joints) > 5, 90.0), up.output()[-4000:]
        assert "sim_node" in up.output() or "[sim]" in up.output()
        assert wait_for(lambda: instr.get_subscription_count() > 0, 60.0), up.output()[-4000:]

        def answered() -> bool:
            instr.publish(String(data=json.dumps({"id": "probe", "text": "the red object"})))
            return wait_for(lambda: any(r.get("request_id") == "probe"
                                        for r in results), 10.0)

        assert wait_for(answered, 90.0, period=0.5), up.output()[-4000:]
        assert up.alive(), up.output()[-4000:]
        # `up` killed outright (no chance to stop its nodes): the kernel takes them down too
        nodes = psutil.Process(up.proc.pid).children(recursive=True)
        assert len(nodes) >= 3, [n.cmdline() for n in nodes]
        up.proc.kill()
        # SIGTERM from the kernel; a node that cannot stop in 10 s ends itself (runtime.py)
        _, alive = psutil.wait_procs(nodes, timeout=25)
        assert not alive, [n.cmdline() for n in alive]
    assert {j for msg in joints for j in msg.name} >= {"shoulder_pan_joint", "wrist_3_joint"}
