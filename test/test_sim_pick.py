"""Scripted picks in real MuJoCo physics: every graspable object type with every robot.

The full success rate over 20 seeded cluttered scenes per robot is measured by
bench/bench_sim_pick.py; here each (robot, object type) pair is picked once in its own
seeded scene, and one grasp is released to show the object is held by friction only.
"""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from spatial_ros.sim.controller import RobotController
from spatial_ros.sim.robots import ROBOT_NAMES
from spatial_ros.sim.scripted_pick import (
    GraspTarget,
    PickConfig,
    ScriptedPicker,
    grasp_candidates,
)
from spatial_ros.sim.world import WorldConfig, build_world

GRASPABLE = ("cube", "block", "cylinder", "sphere", "mug")


def _picker(world, obj, cfg: PickConfig | None = None) -> ScriptedPicker:
    ctl = RobotController(world.model, world.data, world.robot)
    group = None
    if len(world.robot.groups) > 1:  # G1: the arm on the object's side
        y = (np.linalg.inv(world.base_pose) @ obj.pose)[1, 3]
        group = "left_arm" if y >= 0 else "right_arm"
    return ScriptedPicker(ctl, world.base_pose, group, cfg)


@pytest.mark.parametrize("robot", ROBOT_NAMES)
@pytest.mark.parametrize("category", GRASPABLE)
def test_scripted_pick_lifts_and_holds(robot, category):
    seed = 11 + GRASPABLE.index(category)
    world = build_world(WorldConfig(n_objects=1, categories=[category]), robot=robot,
                        seed=seed)
    obj = world.objects[0]
    z_table = world.table_top_z
    assert obj.pose[2, 3] - obj.size[2] / 2 == pytest.approx(z_table, abs=5e-3)  # resting
    result = _picker(world, obj).pick(GraspTarget.from_scene_object(obj))
    assert result.success, (robot, category, result.reason)
    assert result.lift >= 0.05
    # still up after the 2 s hold, and between the fingers
    assert world.data.xpos[obj.body_id][2] - obj.pose[2, 3] >= 0.05
    assert 0.002 < result.grasp_width < world.robot.groups[
        _picker(world, obj).group_name].gripper_open
    assert result.sim_time > PickConfig().hold_time


def test_grasp_is_friction_only_release_drops_object():
    world = build_world(WorldConfig(n_objects=1, categories=["cube"]), robot="ur5", seed=5)
    model = world.model
    # no weld or connect constraint anywhere: the only equalities are finger symmetries
    assert all(model.eq_type[i] == mujoco.mjtEq.mjEQ_JOINT for i in range(model.neq))
    obj = world.objects[0]
    picker = _picker(world, obj)
    result = picker.pick(GraspTarget.from_scene_object(obj))
    assert result.success, result.reason
    z_held = world.data.xpos[obj.body_id][2]
    picker.ctl.open_gripper()
    picker.ctl.wait(0.8)
    z_after = world.data.xpos[obj.body_id][2]
    assert z_held - z_after > 0.05  # fell back once the fingers opened
    assert z_after == pytest.approx(obj.pose[2, 3], abs=0.02)


def test_grasp_candidates_fit_the_gripper_and_reject_bad_input():
    world = build_world(WorldConfig(n_objects=1, categories=["block"]), robot="franka",
                        seed=2)
    obj = world.objects[0]
    target = GraspTarget.from_scene_object(obj)
    group = world.robot.group
    cands = grasp_candidates(target, group, PickConfig())
    assert cands and all(c.width <= group.gripper_open for c in cands)
    for c in cands:  # approach straight down, closing axis horizontal
        np.testing.assert_allclose(c.rotation[:, 2], [0, 0, -1], atol=1e-9)
        assert abs(c.rotation[2, 1]) < 1e-9
        assert c.position[2] > world.table_top_z + group.pad_length / 2
    # a block's long side (9 cm) does not fit the Panda's 8 cm opening: only the narrow side
    assert min(c.width for c in cands) == pytest.approx(min(obj.size[:2]))
    with pytest.raises(ValueError, match="extents"):
        grasp_candidates(GraspTarget(target.position, target.rotation, (0.1, -1, 0.1), "cube"),
                         group, PickConfig())
    huge = GraspTarget(target.position, target.rotation, (0.3, 0.3, 0.05), "cube")
    assert _picker(world, obj).pick(huge).reason == "no reachable grasp"


@pytest.mark.parametrize("robot", ROBOT_NAMES)
def test_robot_at_home_touches_nothing_in_the_world(robot):
    world = build_world(WorldConfig(n_objects=0), robot=robot, seed=0)
    model, data = world.model, world.data
    mujoco.mj_forward(model, data)
    base = model.body(world.robot.base_body).id
    on_robot = model.body_rootid[model.geom_bodyid] == base
    touching = [(model.geom(a).name, model.geom(b).name) for c in data.contact[:data.ncon]
                for a, b in [c.geom] if on_robot[a] != on_robot[b]]
    assert touching == []
