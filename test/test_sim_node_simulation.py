"""The ROS-free core of the sim node: joint_trajectory_controller semantics, params file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spatial_ros.common.config import ConfigError
from spatial_ros.sim.sim_params import SimParams, load_sim_params
from spatial_ros.sim.simulation import Simulation
from spatial_ros.sim.world import WorldConfig, build_world

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sim():
    return Simulation(build_world(WorldConfig(n_objects=3), robot="franka", seed=2))


def _arm(sim):
    js = sim.joint_state()
    names = list(sim.world.robot.group.joints)
    return names, np.array([js.position[js.names.index(j)] for j in names])


def test_trajectory_is_interpolated_by_time_from_start(sim):
    names, q0 = _arm(sim)
    target = q0 + np.linspace(0.1, 0.3, len(names))
    t_start = sim.time
    duration = sim.command_trajectory(names, [1.0], [target.tolist()])
    assert duration == pytest.approx(1.0)  # current position prepended at t=0
    assert sim.busy
    sim.step(250)  # 0.5 s: half-way in time, so between start and target
    _, q_half = _arm(sim)
    frac = (q_half - q0) / (target - q0)
    assert np.all((frac > 0.2) & (frac < 0.8)), frac
    sim.step(400)
    _, q_end = _arm(sim)
    assert not sim.busy and sim.time - t_start > 1.0
    np.testing.assert_allclose(q_end, target, atol=0.01)


def test_gripper_and_cancel(sim):
    sim.command_gripper(0.0)
    sim.step(400)
    js = sim.joint_state()
    fingers = [js.position[js.names.index(j)] for j in sim.world.robot.group.gripper_joints]
    assert sum(fingers) < 0.004
    names, q0 = _arm(sim)
    sim.command_trajectory(names, [2.0], [(q0 + 0.4).tolist()])
    sim.step(100)
    sim.cancel()
    _, q_cancel = _arm(sim)
    sim.step(300)
    _, q_after = _arm(sim)
    assert not sim.busy
    np.testing.assert_allclose(q_after, q_cancel, atol=0.01)  # holds where it was stopped
    assert np.max(np.abs(q_after - (q0 + 0.4))) > 0.2


def test_bad_trajectories_are_rejected_whole(sim):
    names, q0 = _arm(sim)
    ctrl_before = sim.world.data.ctrl.copy()
    cases = [
        (["elbow"], [1.0], [[0.0]], "unknown joint"),
        (names, [1.0, 0.5], [q0.tolist(), q0.tolist()], "strictly increase"),
        (names, [1.0], [(q0 + 10.0).tolist()], "outside its limits"),
        (names, [1.0], [[0.0, 1.0]], "positions"),
        (names, [], [], "no points"),
        (names + names[:1], [1.0], [[0.0] * (len(names) + 1)], "twice"),
        (names, [1.0], [[float("nan")] * len(names)], "finite"),
    ]
    for joints, times, positions, message in cases:
        with pytest.raises(ValueError, match=message):
            sim.command_trajectory(joints, times, positions)
    np.testing.assert_array_equal(sim.world.data.ctrl, ctrl_before)


def test_camera_only_simulation_refuses_robot_commands():
    sim = Simulation(build_world(WorldConfig(n_objects=2), seed=0, settle=False))
    assert sim.joint_state().names == []
    with pytest.raises(ValueError, match="no robot"):
        sim.command_trajectory(["a"], [1.0], [[0.0]])
    with pytest.raises(ValueError, match="no robot"):
        sim.command_gripper(0.01)
    snap = sim.snapshot(sim.new_snapshot())
    np.testing.assert_array_equal(snap.qpos, sim.world.data.qpos)


def test_params_file_is_valid_and_typos_are_errors(tmp_path):
    params = load_sim_params(REPO / "config" / "sim.yaml")
    assert params.robot in ("ur5", "none") and params.camera_namespace == "/camera/camera"
    bad = tmp_path / "sim.yaml"
    bad.write_text("sim:\n  ros__parameters:\n    robt: ur5\n")
    with pytest.raises(ConfigError, match="robt"):
        load_sim_params(bad)
    bad.write_text("sim:\n  ros__parameters:\n    robot: kuka\n")
    with pytest.raises(ValueError, match="robot must be one of"):
        load_sim_params(bad)
    with pytest.raises(ValueError, match="wrist"):
        SimParams(robot="none", camera_mount="wrist").validate()
