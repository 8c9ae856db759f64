"""Robot models: vendor kinematics, URDF/MJCF agreement, attach, IK, trajectories, control."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from spatial_ros.sim.controller import RobotController
from spatial_ros.sim.ik import ArmIK
from spatial_ros.sim.robots import ROBOT_NAMES, attach_robot, build_robot_model, get_robot
from spatial_ros.sim.robots.urdf import (
    mujoco_site_pose,
    robot_urdf,
    urdf_fk,
    urdf_joint_names,
)
from spatial_ros.sim.trajectory import (
    QUINTIC_PEAK_VEL,
    JointTrajectory,
    MotionLimits,
    time_parameterize,
)

REPO = Path(__file__).resolve().parents[1]


def _set_q(model, data, q: dict[str, float]) -> None:
    for name, value in q.items():
        data.qpos[model.joint(name).qposadr[0]] = value
    mujoco.mj_kinematics(model, data)


def _random_q(model, names, rng) -> dict[str, float]:
    return {j: float(rng.uniform(*model.jnt_range[model.joint(j).id])) for j in names}


# ------------------------------------------------------------------ vendor kinematics


def _dh_std(q, d, a, alpha):
    """Standard DH, written out independently of the package."""
    ct, st, ca, sa = np.cos(q), np.sin(q), np.cos(alpha), np.sin(alpha)
    return np.array([[ct, -st * ca, st * sa, a * ct], [st, ct * ca, -ct * sa, a * st],
                     [0, sa, ca, d], [0, 0, 0, 1]])


def _dh_craig(q, a, alpha, d):
    """Modified (Craig) DH, as in Franka's documentation."""
    ct, st, ca, sa = np.cos(q), np.sin(q), np.cos(alpha), np.sin(alpha)
    return np.array([[ct, -st, 0, a], [st * ca, ct * ca, -sa, -d * sa],
                     [st * sa, ct * sa, ca, d * ca], [0, 0, 0, 1]])


def test_ur5_matches_published_dh():
    model, robot = build_robot_model("ur5")
    data = mujoco.MjData(model)
    dh = [(0.089159, 0, np.pi / 2), (0, -0.425, 0), (0, -0.39225, 0),
          (0.10915, 0, np.pi / 2), (0.09465, 0, -np.pi / 2), (0.0823, 0, 0)]
    rng = np.random.default_rng(0)
    base = np.diag([-1.0, -1.0, 1.0, 1.0])  # ur_description: base_link is the DH base turned by π
    for _ in range(20):
        q = _random_q(model, robot.joint_names, rng)
        _set_q(model, data, q)
        expected = base.copy()
        for qi, p in zip(q.values(), dh, strict=True):
            expected = expected @ _dh_std(qi, *p)
        got = mujoco_site_pose(model, data, "tool0")
        np.testing.assert_allclose(got, expected, atol=1e-6)
    # published home: tool0 0.487 m forward (d5 + |a3|), d4 to the side, d1 - a2 - d6 up
    _set_q(model, data, dict(zip(robot.joint_names, robot.home, strict=True)))
    np.testing.assert_allclose(data.site("tool0").xpos, [0.48690, 0.10915, 0.43182], atol=1e-4)


def test_franka_matches_published_dh_and_limits():
    model, robot = build_robot_model("franka")
    data = mujoco.MjData(model)
    dh = [(0, 0, 0.333), (0, -np.pi / 2, 0), (0, np.pi / 2, 0.316), (0.0825, np.pi / 2, 0),
          (-0.0825, -np.pi / 2, 0.384), (0, np.pi / 2, 0), (0.088, np.pi / 2, 0)]
    rng = np.random.default_rng(1)
    for _ in range(20):
        q = _random_q(model, robot.joint_names, rng)
        _set_q(model, data, q)
        expected = np.eye(4)
        for qi, p in zip(q.values(), dh, strict=True):
            expected = expected @ _dh_craig(qi, *p)
        expected = expected @ _dh_craig(0.0, 0, 0, 0.107)  # flange
        np.testing.assert_allclose(mujoco_site_pose(model, data, "panda_link8"), expected,
                                   atol=1e-6)
    lo = model.jnt_range[[model.joint(j).id for j in robot.joint_names]]
    np.testing.assert_allclose(lo[:, 0], [-2.8973, -1.7628, -2.8973, -3.0718, -2.8973,
                                          -0.0175, -2.8973])
    np.testing.assert_allclose(lo[:, 1], [2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525,
                                          2.8973])
    np.testing.assert_allclose(model.jnt_range[model.joint("panda_finger_joint1").id], [0, 0.04])


def test_vendor_joint_names():
    ur5, panda, g1 = (get_robot(n) for n in ROBOT_NAMES)
    assert ur5.joint_names == ("shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint",
                               "wrist_1_joint", "wrist_2_joint", "wrist_3_joint")
    assert ur5.group.name == "ur_manipulator" and ur5.tip_site == "tool0"
    assert panda.joint_names == tuple(f"panda_joint{i}" for i in range(1, 8))
    assert panda.group.gripper_joints == ("panda_finger_joint1", "panda_finger_joint2")
    assert panda.group.name == "panda_arm" and panda.tip_site == "panda_link8"
    order = g1.joint_order_29dof
    assert len(order) == 29 and order[12:15] == ("waist_yaw_joint", "waist_roll_joint",
                                                 "waist_pitch_joint")
    assert order[15] == "left_shoulder_pitch_joint" and order[28] == "right_wrist_yaw_joint"
    for side, idx in (("left", slice(15, 22)), ("right", slice(22, 29))):
        assert g1.groups[f"{side}_arm"].joints[3:] == order[idx]
    model, _ = build_robot_model("g1")
    for j in order[12:]:  # waist and arm joints are real hinges; legs are rigid (fixed base)
        assert model.joint(j).type == mujoco.mjtJoint.mjJNT_HINGE
    assert model.jnt_range[model.joint("left_shoulder_roll_joint").id][1] == pytest.approx(2.2515)
    assert model.jnt_range[model.joint("right_shoulder_roll_joint").id][0] == pytest.approx(
        -2.2515)
    with pytest.raises(ValueError, match="unknown robot"):
        get_robot("kuka")


# ------------------------------------------------------------------ URDF


@pytest.mark.parametrize("name", ROBOT_NAMES)
def test_urdf_agrees_with_mujoco(name):
    text = (REPO / "urdf" / f"{name}.urdf").read_text()
    assert text == robot_urdf(name), f"urdf/{name}.urdf is stale: regenerate it"
    model, robot = build_robot_model(name)
    data = mujoco.MjData(model)
    names = urdf_joint_names(text)
    assert set(robot.home_qpos) == set(names)
    rng = np.random.default_rng(2)
    for _ in range(25):
        q = _random_q(model, names, rng)
        for g in robot.groups.values():  # URDF mimic: finger 2 follows finger 1
            q[g.gripper_joints[1]] = q[g.gripper_joints[0]]
        _set_q(model, data, q)
        for g in robot.groups.values():
            for site in (g.tip_site, g.tcp_site):
                a, b = urdf_fk(text, q, site), mujoco_site_pose(model, data, site)
                assert np.linalg.norm(a[:3, 3] - b[:3, 3]) < 1e-3
                assert Rotation.from_matrix(a[:3, :3].T @ b[:3, :3]).magnitude() < 1e-3
        # an independent parser: MuJoCo's own URDF importer reads the file the same way
        m2 = mujoco.MjModel.from_xml_string(text)
        d2 = mujoco.MjData(m2)
        _set_q(m2, d2, q)
        for b in range(1, m2.nbody):
            name = m2.body(b).name
            np.testing.assert_allclose(d2.xpos[b], data.body(name).xpos, atol=1e-6)
            np.testing.assert_allclose(d2.xmat[b], data.body(name).xmat, atol=1e-6)


# ------------------------------------------------------------------ attach / IK / control


def test_attach_robot_into_a_world_spec():
    spec = mujoco.MjSpec()  # default compiler reads angles in degrees: ranges must convert
    spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_PLANE, size=[2, 2, 0.1])
    robot = attach_robot(spec, "franka", pos=(0.1, 0.2, 0.75), quat=(1, 0, 0, 0))
    with pytest.raises(ValueError, match="already has a body"):
        attach_robot(spec, "franka")
    model = spec.compile()
    assert model.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC and model.opt.impratio >= 10
    assert model.jnt_range[model.joint("panda_joint4").id][0] == pytest.approx(-3.0718)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    np.testing.assert_allclose(data.body(robot.base_body).xpos, [0.1, 0.2, 0.75])
    robot_geoms = [g for g in range(model.ngeom) if model.geom_bodyid[g] != 0
                   and model.geom_contype[g]]
    assert robot_geoms and all(model.geom_contype[g] == 2 and model.geom_conaffinity[g] == 1
                               for g in robot_geoms)
    assert model.neq == 1 and model.eq_type[0] == mujoco.mjtEq.mjEQ_JOINT  # finger symmetry
    assert set(robot.actuator_names) == {model.actuator(i).name for i in range(model.nu)}


@pytest.mark.parametrize("name", ROBOT_NAMES)
def test_ik_reaches_poses_from_fk(name):
    robot = get_robot(name)
    base = np.eye(4)
    base[:3, 3] = (0.2, -0.1, 0.75)
    for group in robot.groups:
        ik = ArmIK(robot, group, base)
        rng = np.random.default_rng(3)
        for _ in range(4):
            q_true = ik.home + rng.uniform(-0.3, 0.3, len(ik.home))
            q_true = np.clip(q_true, ik.lower, ik.upper)
            target = ik.fk(q_true)
            res = ik.solve(target[:3, 3], target[:3, :3], ik.home)
            assert res.success, (name, group, res)
            got = ik.fk(res.q)
            assert np.linalg.norm(got[:3, 3] - target[:3, 3]) < 1e-3
            assert np.all(res.q >= ik.lower - 1e-9) and np.all(res.q <= ik.upper + 1e-9)
    ik = ArmIK(robot, base_pose=base)
    far = ik.solve(base[:3, 3] + [3.0, 0, 0], np.eye(3), restarts=0)
    assert not far.success and far.position_error > 1.0
    with pytest.raises(ValueError, match="position"):
        ik.solve([np.nan, 0, 0], np.eye(3))


def test_ik_solves_inside_configured_limits():
    """An envelope's narrower joint range is searched, not just checked afterwards: a pose
    the home posture reaches by turning the waist is found with the waist kept in range."""
    robot = get_robot("g1")
    free = ArmIK(robot, "left_arm")
    i = list(free.group.joints).index("waist_yaw_joint")
    q = free.home.copy()
    q[i] = 0.3
    target = free.fk(q)
    narrow = ArmIK(robot, "left_arm", limits={"waist_yaw_joint": (-0.1, 0.1)})
    assert narrow.lower[i] == -0.1 and narrow.upper[i] == 0.1
    res = narrow.solve(target[:3, 3], target[:3, :3], narrow.home)
    assert res.success
    assert -0.1 - 1e-9 <= res.q[i] <= 0.1 + 1e-9
    assert np.linalg.norm(narrow.fk(res.q)[:3, 3] - target[:3, 3]) < 1e-3
    with pytest.raises(ValueError, match="not a joint"):
        ArmIK(robot, "left_arm", limits={"right_elbow_joint": (0.0, 1.0)})
    with pytest.raises(ValueError, match="empty"):
        ArmIK(robot, "left_arm", limits={"waist_yaw_joint": (1.0, 0.5)})


def test_quintic_trajectory_respects_limits():
    q0, q1 = np.zeros(3), np.array([1.0, -0.5, 0.2])
    vmax, amax = np.array([1.0, 1.0, 0.1]), np.full(3, 4.0)
    traj = time_parameterize([q0, q1], vmax, amax)
    # the slow third joint sets the duration: peak velocity 15/8 * 0.2 / T = 0.1
    assert traj.duration == pytest.approx(QUINTIC_PEAK_VEL * 0.2 / 0.1, rel=1e-6)
    ts = np.linspace(0, traj.duration, 400)
    vel = np.array([traj.sample_velocity(t) for t in ts])
    assert np.all(np.abs(vel) <= vmax * 1.001)
    np.testing.assert_allclose(traj.sample(0.0), q0)
    np.testing.assert_allclose(traj.sample(traj.duration + 1), q1)
    np.testing.assert_allclose(traj.sample_velocity(0.0), 0.0)
    acc = np.gradient(vel, ts, axis=0)
    assert np.all(np.abs(acc) <= amax * 1.05)
    path = time_parameterize([q0, [0.5, 0, 0], q1], vmax, amax)  # through a via point
    assert np.min(np.linalg.norm(np.array([path.sample(t) for t in path.times])
                                 - [0.5, 0, 0], axis=1)) < 1e-2
    with pytest.raises(ValueError, match="increase"):
        JointTrajectory([0.0, 0.0], [[0.0], [1.0]])
    with pytest.raises(ValueError, match="positive"):
        time_parameterize([q0, q1], 0.0, 1.0)


def _scene(name: str):
    spec = mujoco.MjSpec()
    spec.option.timestep = 0.002
    spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_PLANE, size=[2, 2, 0.1])
    robot = attach_robot(spec, name)
    model = spec.compile()
    return model, mujoco.MjData(model), robot


@pytest.mark.parametrize("name", ROBOT_NAMES)
def test_controller_tracks_trajectory_and_gripper(name):
    model, data, robot = _scene(name)
    ctl = RobotController(model, data, robot)
    ctl.reset_home()
    ctl.wait(0.3)
    home = ctl.joint_positions()
    np.testing.assert_allclose(home, ctl.targets(), atol=2e-3)  # holds still against gravity
    mid = model.actuator_ctrlrange[[model.actuator(a).id for a in robot.group.actuators]].mean(1)
    goal = home + 0.25 * np.sign(mid - home)  # towards the middle of each joint range
    limits = MotionLimits.from_robot(robot)
    traj = time_parameterize([home, goal], limits.velocity, limits.acceleration)
    steps = []
    ctl.on_step = lambda: steps.append(data.time)
    err = ctl.follow(traj, settle=0.3)
    assert err < 5e-3
    assert len(steps) >= traj.duration / model.opt.timestep
    ctl.close_gripper()
    ctl.wait(0.6)
    assert ctl.gripper_width() < 0.003
    ctl.open_gripper()
    ctl.wait(0.6)
    assert ctl.gripper_width() == pytest.approx(robot.gripper_open, abs=3e-3)
    bad = ctl.targets()
    bad[0] = 10.0
    with pytest.raises(ValueError, match="outside"):
        ctl.set_joint_targets(bad)
    with pytest.raises(ValueError, match="unknown arm group"):
        ctl.joint_positions("tail")


def test_controller_runs_trajectories_asynchronously_by_joint_name():
    model, data, robot = _scene("ur5")
    ctl = RobotController(model, data, robot)
    ctl.reset_home()
    # a ROS-style trajectory over two joints, in a different order than the group
    joints = ("elbow_joint", "shoulder_pan_joint")
    q0 = [data.qpos[model.joint(j).qposadr[0]] for j in joints]
    traj = JointTrajectory([0.0, 0.5, 1.0], [q0, [q0[0] - 0.2, 0.2], [q0[0] - 0.4, 0.4]])
    ctl.command(traj, joints=joints)
    assert ctl.busy
    ctl.wait(1.5)
    assert not ctl.busy
    got = [data.qpos[model.joint(j).qposadr[0]] for j in joints]
    np.testing.assert_allclose(got, [q0[0] - 0.4, 0.4], atol=5e-3)
    with pytest.raises(ValueError, match="unknown arm joint"):
        ctl.command(traj, joints=("elbow_joint", "nope"))
    ctl.command(JointTrajectory([0.0, 2.0], [[0.4, 0.0], [0.0, 0.0]]),
                joints=("shoulder_pan_joint", "wrist_1_joint"))
    ctl.wait(0.5)
    ctl.cancel()  # holds where it is
    q_stop = ctl.joint_positions()
    ctl.wait(0.5)
    np.testing.assert_allclose(ctl.joint_positions(), q_stop, atol=0.01)


def test_two_prefixed_robots_share_a_world():
    spec = mujoco.MjSpec()
    left = attach_robot(spec, "ur5", pos=(0, 0.5, 0), prefix="left/")
    right = attach_robot(spec, "franka", pos=(0, -0.5, 0), prefix="right/")
    model = spec.compile()
    data = mujoco.MjData(model)
    assert left.tip_site == "left/tool0" and right.joint_names[0] == "right/panda_joint1"
    for robot, y in ((left, 0.5), (right, -0.5)):
        ctl = RobotController(model, data, robot)
        ctl.reset_home()
        ik = ArmIK(robot, base_pose=np.array([[1, 0, 0, 0], [0, 1, 0, y], [0, 0, 1, 0],
                                               [0, 0, 0, 1.0]]))
        np.testing.assert_allclose(ik.fk(ctl.joint_positions()), ctl.tcp_pose(), atol=1e-6)
