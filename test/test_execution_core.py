"""Executor logic that needs no simulation: parser, config, envelope, timing, Unitree and
MoveIt message logic."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from spatial_ros.common.config import ConfigError
from spatial_ros.execution.backends.base import BackendUnavailable
from spatial_ros.execution.backends.moveit import (
    MoveItOptions,
    plan_parameters,
    tip_goal,
    trajectory_from_points,
)
from spatial_ros.execution.backends.unitree import ArmSdkStreamer, SdkArmLink, UnitreeOptions
from spatial_ros.execution.backends.unitree_msgs import (
    ARM_SDK_WEIGHT_INDEX,
    HG_LOWCMD_SIZE,
    ArmGains,
    HgLowCmd,
    build_arm_sdk_cmd,
    crc32_words,
    hg_lowcmd_crc,
    pack_hg_lowcmd,
    weight_ramp,
)
from spatial_ros.execution.config import EnvelopeConfig, load_executor_config
from spatial_ros.execution.motion import JointTrajectory, time_parameterize
from spatial_ros.execution.safety import EnvelopeViolation, SafetyEnvelope
from spatial_ros.execution.task_parser import ParseError, parse_task


# ---------------------------------------------------------------- task parser
@pytest.mark.parametrize("text, steps", [
    ("pick the red cube and put it in the bowl", ["pick the red cube", "place in the bowl"]),
    ("stack the blue block on the green one, then put the cup next to them",
     ["pick the blue block", "place on the green block", "pick the cup",
      "place next to the blue block"]),
    ("put all the red objects in the box", ["for all red objects: place in the box"]),
    ("Please pick up the banana.", ["pick the banana"]),
    ("put the red cup left of the bowl into the box",
     ["pick the red cup left of the bowl", "place in the box"]),
    ("put the cup to the left of the bowl", ["pick the cup", "place to the left of the bowl"]),
    ("pick the yellow block, put it on the red block and then go home",
     ["pick the yellow block", "place on the red block", "home"]),
    ("put the red cube and the blue cube in the box",
     ["pick the red cube", "place in the box", "pick the blue cube", "place in the box"]),
])
def test_parser_splits_multi_step_instructions(text, steps):
    assert parse_task(text).describe() == steps


@pytest.mark.parametrize("text, words", [
    ("", "empty"), ("dance a little", "cannot understand"),
    ("put it in the box", "refers to nothing"), ("pick all the red objects", "say where"),
])
def test_parser_rejects_with_a_reason(text, words):
    with pytest.raises(ParseError, match=words):
        parse_task(text)


# ---------------------------------------------------------------- config
def test_every_robot_config_loads_and_typos_fail(tmp_path):
    for robot in ("ur5", "franka", "g1"):
        cfg = load_executor_config(robot)
        assert cfg.robot == robot and cfg.gripper.open_width > cfg.gripper.closed_width
    cfg = load_executor_config("ur5", overrides={"motion.speed_scale": 0.2, "backend": "moveit"})
    assert cfg.motion.speed_scale == 0.2 and cfg.backend == "moveit"
    bad = tmp_path / "bad.yaml"
    bad.write_text("executor_node:\n  ros__parameters:\n    robot: ur5\n    gripper:\n"
                   "      open_widht: 0.1\n")
    with pytest.raises(ConfigError, match="open_widht"):
        load_executor_config(path=bad)
    with pytest.raises(ConfigError, match="speed_scale"):
        load_executor_config("ur5", overrides={"motion.speed_scale": 1.5})


def test_configured_joint_limits_reach_the_ik():
    from spatial_ros.execution.assembly import build_arm_stack

    cfg = load_executor_config("ur5")
    cfg.envelope.joint_limits = {"shoulder_pan_joint": (-0.5, 0.5)}
    stack = build_arm_stack(cfg)
    i = stack.kin.joint_names.index("shoulder_pan_joint")
    assert (stack.kin.lower[i], stack.kin.upper[i]) == (-0.5, 0.5)
    assert (stack.envelope.lower[i], stack.envelope.upper[i]) == (-0.5, 0.5)


# ---------------------------------------------------------------- envelope + timing
def _planar_envelope(**kw) -> SafetyEnvelope:
    """A 2-link planar arm (1 m links) in the x-z plane: real FK, known answers."""
    def fk(q):
        a, b = q
        return np.array([np.cos(a) + np.cos(a + b), 0.0, np.sin(a) + np.sin(a + b)])
    cfg = EnvelopeConfig(workspace_min=(-0.5, -0.5, 0.0), workspace_max=(2.5, 0.5, 2.5),
                         table_height=0.1, table_clearance=0.05, default_max_velocity=1.0,
                         max_tcp_speed=2.0, **kw)
    return SafetyEnvelope(cfg, ("a", "b"), (-3, -3), (3, 3), fk)


def test_envelope_rejects_each_kind_of_violation():
    env = _planar_envelope(joint_limits={"b": (-2.0, 2.0)})
    env.check_point(np.array([1.0, 0.0, 1.0]))
    with pytest.raises(EnvelopeViolation, match="workspace box"):
        env.check_point(np.array([3.0, 0.0, 1.0]))
    with pytest.raises(EnvelopeViolation, match="table clearance"):
        env.check_point(np.array([1.0, 0.0, 0.12]))
    with pytest.raises(EnvelopeViolation, match="joint b"):
        env.check_joints(np.array([0.5, 2.5]))
    ok = time_parameterize(("a", "b"), [[0.5, 0.5], [1.0, 0.2]], env.max_velocity, 0.5)
    env.check_trajectory(ok, current_q=np.array([0.5, 0.5]))
    with pytest.raises(EnvelopeViolation, match="starts"):
        env.check_trajectory(ok, current_q=np.array([0.0, 0.5]))
    fast = JointTrajectory(("a", "b"), [0.0, 0.1], [[0.5, 0.5], [0.8, 0.5]], np.zeros((2, 2)))
    with pytest.raises(EnvelopeViolation, match="rad/s"):
        env.check_trajectory(fast)
    dip = time_parameterize(("a", "b"), [[0.5, 0.5], [-0.3, 0.3]], env.max_velocity, 0.5)
    with pytest.raises(EnvelopeViolation, match="TCP"):
        env.check_trajectory(dip)
    with pytest.raises(EnvelopeViolation, match="gripper"):
        env.check_gripper(0.2, 0.08, 0.0)
    with pytest.raises(ValueError, match="unknown joints"):
        _planar_envelope(joint_limits={"c": (0, 1)})


def test_a_hand_carried_by_shared_joints_stays_in_or_comes_back_into_the_envelope():
    """A rider (another hand moved by this arm's joints, G1's waist) is checked on every
    sample: it may not leave the box; one physics already pushed out may only come back."""
    env = _planar_envelope()
    offset = {"x": 0.0}

    def other_hand(q):  # turns with joint a around the origin at radius 1 m
        return np.array([np.cos(q[0]) + offset["x"], 0.0, np.sin(q[0]) + 1.0])

    env.add_rider("other hand", other_hand)
    small = time_parameterize(("a", "b"), [[0.5, 0.5], [0.8, 0.2]], env.max_velocity, 0.5)
    env.check_trajectory(small)
    far = time_parameterize(("a", "b"), [[0.5, 0.5], [2.2, -1.2]], env.max_velocity, 0.5)
    with pytest.raises(EnvelopeViolation, match="carries the other hand point"):
        env.check_trajectory(far)  # the rider reaches x = cos(2.2) = -0.59 < -0.5
    assert env.riders_problem(np.array([0.5, 0.5]), np.array([0.5, 0.5])) is None
    assert "within 0.3 m" in env.riders_problem(np.array([1.9, 0.0]), np.array([0.5, 0.5]),
                                                margin=0.3)
    offset["x"] = -1.2  # pushed out: x = cos(a) - 1.2 < -0.5 for small a
    env.check_trajectory(time_parameterize(("a", "b"), [[1.5, 0.5], [0.2, 0.5]],
                                           env.max_velocity, 0.5))  # x -1.13 -> -0.22: back in
    with pytest.raises(EnvelopeViolation, match="other hand"):
        env.check_trajectory(time_parameterize(("a", "b"), [[1.0, 0.5], [1.5, 0.5]],
                                               env.max_velocity, 0.5))  # farther out


def test_a_node_driving_one_g1_arm_still_checks_the_hand_its_waist_carries():
    """The executor node drives one G1 arm; the other arm's hand, at its measured joints,
    rides on the shared waist and is checked. Single-arm robots have nothing to carry."""
    from spatial_ros.execution.assembly import build_arm_stack, link_undriven_arms

    stack = build_arm_stack(load_executor_config("g1"))
    asked = []

    def measured(names):  # what the node's joint-state cache answers (None before any)
        asked.append(names)
        return None

    link_undriven_arms(stack, measured)
    assert [name for name, _ in stack.envelope.riders] == ["right_arm hand"]
    q0 = stack.kin.home.copy()
    q1 = q0.copy()
    q1[stack.kin.joint_names.index("waist_yaw_joint")] = -1.75
    with pytest.raises(EnvelopeViolation, match="carries the right_arm hand"):
        stack.planner.joint_move(q0, q1, "turn")
    assert asked and all(n.startswith(("waist", "right_")) for n in asked[0])
    q1[stack.kin.joint_names.index("waist_yaw_joint")] = -0.4
    stack.planner.joint_move(q0, q1, "turn")  # a small turn keeps that hand inside
    ur5 = build_arm_stack(load_executor_config("ur5"))
    link_undriven_arms(ur5, measured)
    assert ur5.envelope.riders == []


def test_time_parameterization_respects_scaled_limits_and_ends_at_rest():
    vmax = np.array([1.0, 2.0, 0.5])
    wp = np.array([[0, 0, 0], [0.5, -1.0, 0.2], [1.0, 0.0, 0.0]], dtype=float)
    traj = time_parameterize(("a", "b", "c"), wp, vmax, speed_scale=0.5, dt=0.005)
    assert np.allclose(traj.positions[0], wp[0]) and np.allclose(traj.final, wp[-1])
    assert np.all(np.abs(traj.velocities) <= 0.5 * vmax + 1e-9)
    fd = np.abs(np.diff(traj.positions, axis=0)) / np.diff(traj.times)[:, None]
    assert np.all(fd <= 0.5 * vmax * 1.01)
    assert np.allclose(traj.velocities[-1], 0.0)
    q, qd = traj.sample(traj.duration / 2)
    assert q.shape == (3,) and np.all(np.isfinite(qd))


# ---------------------------------------------------------------- Unitree arm_sdk
def _unitree_reference_crc(words) -> int:
    """Unitree's crc32_core, bit by bit as their SDK documents it."""
    crc, poly = 0xFFFFFFFF, 0x04C11DB7
    for w in words:
        bit = 1 << 31
        for _ in range(32):
            crc = ((crc << 1) & 0xFFFFFFFF) ^ (poly if crc & 0x80000000 else 0)
            if int(w) & bit:
                crc ^= poly
            bit >>= 1
    return crc


def test_unitree_crc_matches_reference_and_mpeg2_check_value():
    rng = np.random.default_rng(3)
    words = rng.integers(0, 2**32, size=40, dtype=np.uint64).astype(np.uint32)
    assert crc32_words(words) == _unitree_reference_crc(words)
    # CRC-32/MPEG-2 of the bytes "12345678" (as two big-endian words): 0x... from the spec
    w = np.frombuffer(b"12345678", dtype=">u4").astype("<u4")
    assert crc32_words(w) == _unitree_reference_crc(w)


def test_unitree_lowcmd_layout_and_arm_sdk_command():
    assert HG_LOWCMD_SIZE == 4 + 35 * 28 + 4 * 4 + 4
    cmd = build_arm_sdk_cmd({15: 0.3, 22: -0.4}, 0.5, ArmGains(60.0, 1.5))
    raw = pack_hg_lowcmd(cmd)
    assert len(raw) == HG_LOWCMD_SIZE
    words = np.frombuffer(raw, dtype="<u4")
    assert cmd.crc == words[-1] == _unitree_reference_crc(words[:-1])
    # motor 22: mode u8 + 3 pad, then q, dq, tau, kp, kd as float32
    off = 4 + 22 * 28
    q, dq, tau, kp, _kd = struct.unpack_from("<5f", raw, off + 4)
    assert np.isclose(q, -0.4) and (dq, tau) == (0.0, 0.0) and np.isclose(kp, 60.0)
    weight = struct.unpack_from("<f", raw, 4 + ARM_SDK_WEIGHT_INDEX * 28 + 4)[0]
    assert weight == 0.5
    cmd.motor_cmd[3].q = 1.0  # any change must change the crc
    assert hg_lowcmd_crc(cmd) != cmd.crc
    with pytest.raises(ValueError, match="weight"):
        build_arm_sdk_cmd({15: 0.0}, 1.2, ArmGains())
    with pytest.raises(ValueError, match="not a G1 joint"):
        build_arm_sdk_cmd({30: 0.0}, 1.0, ArmGains())


def test_unitree_weight_ramps_in_streams_and_ramps_out():
    opts = UnitreeOptions(control_dt=0.02, ramp_time=1.0)
    names = ("left_shoulder_pitch_joint", "left_elbow_joint")
    streamer = ArmSdkStreamer({names[0]: 15, names[1]: 18}, opts)
    traj = time_parameterize(names, [[0.0, 0.5], [0.3, 0.8]], np.array([1.0, 1.0]), 0.5)
    with pytest.raises(RuntimeError, match="ramp"):
        next(streamer.stream(traj))
    ramp_in = list(streamer.ramp(names, np.array([0.0, 0.5]), 1.0))
    weights = [c.motor_cmd[ARM_SDK_WEIGHT_INDEX].q for c in ramp_in]
    assert len(ramp_in) == 50 and np.all(np.diff(weights) > 0) and weights[-1] == 1.0
    assert all(c.motor_cmd[18].q == 0.5 for c in ramp_in)  # holds the measured pose
    streamed = list(streamer.stream(traj))
    times = [t for t, _ in streamed]
    assert np.allclose(np.diff(times)[:-1], 0.02) and np.isclose(times[-1], traj.duration)
    assert np.isclose(streamed[-1][1].motor_cmd[15].q, 0.3, atol=1e-6)
    assert all(c.crc == hg_lowcmd_crc(c) for _, c in streamed)
    ramp_out = [c.motor_cmd[ARM_SDK_WEIGHT_INDEX].q for c in
                streamer.ramp(names, np.array([0.3, 0.8]), 0.0)]
    assert np.all(np.diff(ramp_out) < 0) and ramp_out[-1] == 0.0
    assert np.allclose(weight_ramp(0.0, 1.0, 0.1, 0.02), [0.2, 0.4, 0.6, 0.8, 1.0])


def test_unitree_and_moveit_backends_fail_clearly_without_their_libraries():
    with pytest.raises(BackendUnavailable, match="unitree_sdk2py"):
        SdkArmLink(UnitreeOptions())
    from spatial_ros.execution.backends.moveit import MoveItBackend
    with pytest.raises(BackendUnavailable, match="moveit_py"):
        MoveItBackend(None, None, None, np.eye(4))
    assert isinstance(HgLowCmd().motor_cmd, list)


# ---------------------------------------------------------------- MoveIt helpers
def test_moveit_goal_parameters_and_trajectory_conversion():
    tip_to_tcp = np.eye(4)
    tip_to_tcp[2, 3] = 0.15
    tcp = np.eye(4)
    tcp[:3, :3] = np.diag([1.0, -1.0, -1.0])
    tcp[:3, 3] = [0.5, 0.1, 0.2]
    pos, quat = tip_goal(tcp, tip_to_tcp)
    assert np.allclose(pos, [0.5, 0.1, 0.35]) and np.isclose(np.linalg.norm(quat), 1.0)
    opts = MoveItOptions()
    lin = plan_parameters(opts, cartesian=True)
    assert lin["planning_pipeline"] == "pilz_industrial_motion_planner"
    assert lin["planner_id"] == "LIN"
    assert plan_parameters(opts, cartesian=False)["planner_id"] == "RRTConnectkConfigDefault"
    traj = trajectory_from_points(("a", "b"), ("b", "a"), [0.0, 0.5, 0.5, 1.0],
                                  [[0.0, 1.0], [0.1, 1.2], [0.1, 1.2], [0.2, 1.4]])
    assert traj.joint_names == ("a", "b")
    assert np.allclose(traj.positions[0], [1.0, 0.0]) and np.allclose(traj.final, [1.4, 0.2])
    assert np.isclose(traj.duration, 1.0)
    with pytest.raises(ValueError, match="lacks joints"):
        trajectory_from_points(("a", "c"), ("a", "b"), [0.0], [[0.0, 0.0]])


def test_drop_into_a_part_filled_box_stays_near_the_robot_and_clear_of_its_contents():
    """A box already holding a cube at its near end: the drop spot keeps the held cube clear
    of it, inside the opening, and is no farther from the robot than it has to be (the spot
    farthest from the contents was on the far side, out of the G1's reach)."""
    from spatial_ros.data.placement import footprint_distance
    from spatial_ros.data.scene_graph import ObjectNode, SceneGraph
    from spatial_ros.execution.grounding import GroundTruthGrounder

    box = ObjectNode(0, "box", "brown", (0.30, 0.20, 0.08), [0.55, 0.0, 0.04],
                     graspable=False, is_container=True, pixels=3000)
    inside = ObjectNode(1, "cube", "red", (0.05, 0.05, 0.05), [0.45, 0.0, 0.025], pixels=500)
    held = ObjectNode(2, "cube", "blue", (0.05, 0.05, 0.05), [0.3, 0.3, 0.2], pixels=500)
    eye = np.array([1.2, 0.0, 0.6])
    z = np.array([0.55, 0.0, 0.0]) - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = np.column_stack([x, np.cross(z, x), z]), eye
    graph = SceneGraph([box, inside, held], pose, 640, 480)
    grounder = GroundTruthGrounder(lambda: graph)
    spot = grounder.place_target("in", "the brown box", held_id=2).position

    assert np.all(np.abs(spot[:2] - box.position[:2]) < np.asarray(box.size[:2]) / 2)
    assert footprint_distance(spot[:2], inside) >= 0.025 + grounder.drop_clearance - 1e-9
    far_end = 0.55 + 0.15 - 0.025 - 0.012  # what the farthest-from-contents rule chose
    assert np.linalg.norm(spot[:2]) < far_end - 0.05, spot
    target = grounder.place_target("in", "the brown box", held_id=2)
    reach = [np.linalg.norm(p[:2]) for p in (spot, *target.spots)]
    assert target.spots and reach == sorted(reach)  # fallbacks when the arm cannot reach
    assert all(footprint_distance(p[:2], inside) >= 0.035 - 1e-9 for p in target.spots)
    # beside the box: every alternative spot keeps "left of" true in the camera's view
    from spatial_ros.data import relations
    left = grounder.place_target("left_of", "the brown box", held_id=2)
    assert left.spots
    for p in (left.position, *left.spots):
        probe = ObjectNode(9, "cube", "blue", (0.05, 0.05, 0.05), p, pixels=500)
        assert relations.left_of(graph, probe, box, "camera"), p
    # a box too full for the clearance still gets the freest spot, never an error
    grounder.drop_clearance = 1.0
    crowded = grounder.place_target("in", "the brown box", held_id=2).position
    assert np.all(np.abs(crowded[:2] - box.position[:2]) < np.asarray(box.size[:2]) / 2)
    assert crowded[0] > spot[0]
