"""Does a dataset grasp really lift the object? Execute it in MuJoCo and measure.

The scene of a dataset seed is rebuilt with a robot (same object layout in the base frame),
the ground-truth grasp of a graspable object (``grasps.top_down_grasp``) is executed with the
robots engineer's scripted-pick motions (pre-grasp, straight approach, force-limited close,
straight lift, hold) and the object's height gain decides success. The dataset grasp is
robot-agnostic (the object centre); the executor lowers or raises the TCP so the palm clears
the top and the finger tips clear the table, as ``sim.scripted_pick`` does for its own grasps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from spatial_ros.data import grasps
from spatial_ros.data.scene_graph import ObjectNode
from spatial_ros.data.sim_scene import SimSceneConfig, world_config

HALF_TURN = np.diag([-1.0, -1.0, 1.0])


@dataclass
class LiftCheck:
    seed: int
    object_id: int
    category: str
    success: bool
    lift_m: float
    reason: str = ""


def _node(obj, base_inv: np.ndarray) -> ObjectNode:
    pose = base_inv @ obj.pose
    rot = np.eye(3) if obj.category == "sphere" else pose[:3, :3]
    return ObjectNode(obj.id, str(obj.category), str(obj.colour), tuple(obj.size), pose[:3, 3],
                      rot, graspable=bool(obj.graspable), is_container=bool(obj.is_container))


def check_seed(seed: int, robot: str = "franka", scene: SimSceneConfig = SimSceneConfig(),
               object_index: int | None = None, min_lift: float = 0.05) -> LiftCheck | None:
    """Executes the dataset grasp of one graspable object of scene ``seed``; None when the
    scene has no object with a dataset grasp."""
    from spatial_ros.sim.controller import RobotController
    from spatial_ros.sim.scripted_pick import ScriptedPicker
    from spatial_ros.sim.world import build_world

    wcfg = world_config(seed, scene)
    world = build_world(wcfg, robot=robot, seed=seed)
    base_inv = np.linalg.inv(world.base_pose)
    candidates = []
    for obj in world.objects:
        g = grasps.top_down_grasp(_node(obj, base_inv))
        if g is not None:
            candidates.append((obj, g))
    if not candidates:
        return None
    rng = np.random.default_rng([seed, 13])
    k = int(rng.integers(len(candidates))) if object_index is None else object_index
    obj, g = candidates[k % len(candidates)]
    ctl = RobotController(world.model, world.data, world.robot)
    picker = ScriptedPicker(ctl, world.base_pose)
    grp = picker.group
    R_base = world.base_pose[:3, :3]
    pos = R_base @ g.position + world.base_pose[:3, 3]
    top = pos[2] + _node(obj, base_inv).height / 2
    bottom = pos[2] - _node(obj, base_inv).height / 2
    pos[2] = max(pos[2], top - grp.finger_depth + 0.012, bottom + grp.pad_length / 2 + 0.006)
    z0 = float(world.data.xpos[obj.body_id][2])
    cfg = picker.cfg
    q_now = ctl.targets(picker.group_name)
    for rot in (R_base @ g.rotation, R_base @ g.rotation @ HALF_TURN):
        pre = pos + np.array([0.0, 0.0, cfg.pregrasp_height])
        r_pre = picker.ik.solve(pre, rot, q_now)
        if r_pre.success and picker.plan_linear(pos, rot, r_pre.q) is not None:
            break
    else:
        return LiftCheck(seed, obj.id, obj.category, False, 0.0, "no IK solution for the grasp")
    ctl.open_gripper(picker.group_name)
    if not picker.move_to_pose(pre, rot):
        return LiftCheck(seed, obj.id, obj.category, False, 0.0, "pre-grasp unreachable")
    if not picker.move_linear(pos, rot):
        return LiftCheck(seed, obj.id, obj.category, False, 0.0, "approach infeasible")
    width = picker.close()
    if not picker.move_linear(pos + np.array([0.0, 0.0, cfg.lift_height]), rot):
        return LiftCheck(seed, obj.id, obj.category, False, 0.0, "lift infeasible")
    ctl.wait(cfg.hold_time)
    lift = float(world.data.xpos[obj.body_id][2]) - z0
    width = ctl.gripper_width(picker.group_name)
    ok = lift >= min_lift and width > 0.002
    return LiftCheck(seed, obj.id, obj.category, ok, lift,
                     "" if ok else f"not held (lift {lift:.3f} m, width {width:.3f} m)")


def check_many(seeds, robot: str = "franka", scene: SimSceneConfig = SimSceneConfig(),
               progress: bool = True) -> tuple[list[LiftCheck], float]:
    """Lift checks over ``seeds``; returns the checks and the pass rate."""
    from tqdm import tqdm

    results = []
    for s in tqdm(list(seeds), desc=f"lift check ({robot})", disable=not progress):
        r = check_seed(int(s), robot, replace(scene))
        if r is not None:
            results.append(r)
    rate = float(np.mean([r.success for r in results])) if results else 0.0
    return results, rate
