"""Scripted-pick success rate per robot and object type, and physics speed.

    .venv/bin/python bench/bench_sim_pick.py            # 20 seeded scenes per robot
    .venv/bin/python bench/bench_sim_pick.py --quick    # 3 scenes per robot

Every graspable object of every scene is picked from the same settled start state (the
state is restored between picks): lift >= 5 cm after a 2 s hold counts as success. Objects
that rolled off the table while the scene settled are listed as skipped. The physics table
compares one arm + 8 objects against the same scene without a robot and real time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mujoco
import numpy as np

from spatial_ros.sim.controller import RobotController
from spatial_ros.sim.robots import ROBOT_NAMES
from spatial_ros.sim.scripted_pick import GraspTarget, ScriptedPicker
from spatial_ros.sim.trajectory import MotionLimits, time_parameterize
from spatial_ros.sim.world import WorldConfig, build_world

OBJECTS_PER_SCENE = {"ur5": 6, "franka": 6, "g1": 4}  # G1's reach is smaller


def _snapshot(data):
    return (data.qpos.copy(), data.qvel.copy(), data.ctrl.copy(), data.act.copy(),
            data.qacc_warmstart.copy(), data.time)


def _restore(model, data, snap) -> None:
    data.qpos[:], data.qvel[:], data.ctrl[:], data.act[:], data.qacc_warmstart[:] = snap[:5]
    data.time = snap[5]
    mujoco.mj_forward(model, data)


def _on_table(world, obj) -> bool:
    z_expected = world.table_top_z + obj.size[2] / 2
    return abs(obj.pose[2, 3] - z_expected) < 0.02


def run_picks(robot: str, seeds, n_objects: int):
    rows = defaultdict(lambda: defaultdict(list))
    scenes_ok, skipped, failures = [], 0, []
    for seed in seeds:
        world = build_world(WorldConfig(n_objects=n_objects), robot=robot, seed=seed)
        ctl = RobotController(world.model, world.data, world.robot)
        snap = _snapshot(world.data)
        scene_ok = True
        for obj in world.objects:
            if not obj.graspable:
                continue
            _restore(world.model, world.data, snap)
            world.refresh()
            if not _on_table(world, obj):
                skipped += 1
                continue
            group = None
            if len(world.robot.groups) > 1:
                y = (np.linalg.inv(world.base_pose) @ obj.pose)[1, 3]
                group = "left_arm" if y >= 0 else "right_arm"
            t0 = time.perf_counter()
            res = ScriptedPicker(ctl, world.base_pose, group).pick(
                GraspTarget.from_scene_object(obj))
            wall = time.perf_counter() - t0
            r = rows[obj.category]
            r["ok"].append(res.success)
            r["lift"].append(res.lift)
            r["sim"].append(res.sim_time)
            r["wall"].append(wall)
            scene_ok &= res.success
            if not res.success:
                failures.append(f"{robot} seed {seed} {obj.name}: {res.reason}")
        scenes_ok.append(scene_ok)
    return rows, scenes_ok, skipped, failures


def physics_speed(robot: str | None, n_objects: int = 8, seconds: float = 4.0):
    """Real-time factor of plain stepping (arm holding) and of the arm following a motion."""
    # a fixed, roomy workspace so every robot gets the same 8 objects
    cfg = WorldConfig(n_objects=n_objects, workspace=(0.3, 0.75, -0.35, 0.35))
    world = build_world(cfg, robot=robot, seed=0)
    n = int(seconds / world.model.opt.timestep)
    t0 = time.perf_counter()
    mujoco.mj_step(world.model, world.data, nstep=n)
    hold = seconds / (time.perf_counter() - t0)
    if robot is None:
        return hold, float("nan")
    ctl = RobotController(world.model, world.data, world.robot)
    q0 = ctl.joint_positions()
    lim = MotionLimits.from_robot(world.robot)
    mid = world.model.actuator_ctrlrange[
        [world.model.actuator(a).id for a in world.robot.group.actuators]].mean(1)
    traj = time_parameterize([q0, q0 + 0.3 * np.sign(mid - q0), q0], lim.velocity,
                             lim.acceleration, min_duration=seconds)
    t0 = time.perf_counter()
    ctl.follow(traj, settle=0.0)
    moving = traj.duration / (time.perf_counter() - t0)
    return hold, moving


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 scenes per robot")
    ap.add_argument("--scenes", type=int, default=20)
    ap.add_argument("--robots", default=",".join(ROBOT_NAMES))
    args = ap.parse_args(argv)
    n_scenes = 3 if args.quick else args.scenes
    robots = [r for r in args.robots.split(",") if r]
    print(f"# Scripted pick, {n_scenes} seeded scenes per robot (seeds 0..{n_scenes - 1})\n")
    all_failures = []
    for robot in robots:
        t0 = time.perf_counter()
        rows, scenes_ok, skipped, failures = run_picks(robot, range(n_scenes),
                                                       OBJECTS_PER_SCENE[robot])
        all_failures += failures
        print(f"## {robot} ({OBJECTS_PER_SCENE[robot]} objects per scene, "
              f"{time.perf_counter() - t0:.0f} s wall)\n")
        print("| object | picks | success | rate | mean lift (m) | sim s/pick | wall s/pick "
              "| x real time |")
        print("|---|---|---|---|---|---|---|---|")
        tot = defaultdict(list)
        for cat in sorted(rows):
            r = rows[cat]
            for k in r:
                tot[k] += r[k]
            print(f"| {cat} | {len(r['ok'])} | {sum(r['ok'])} | {np.mean(r['ok']):.0%} | "
                  f"{np.mean(r['lift']):.3f} | {np.mean(r['sim']):.1f} | "
                  f"{np.mean(r['wall']):.2f} | {np.sum(r['sim']) / np.sum(r['wall']):.1f} |")
        if tot:
            print(f"| **all** | {len(tot['ok'])} | {sum(tot['ok'])} | "
                  f"**{np.mean(tot['ok']):.0%}** | {np.mean(tot['lift']):.3f} | "
                  f"{np.mean(tot['sim']):.1f} | {np.mean(tot['wall']):.2f} | "
                  f"{np.sum(tot['sim']) / np.sum(tot['wall']):.1f} |")
        print(f"\nScenes with every object picked: {sum(scenes_ok)}/{len(scenes_ok)} "
              f"({np.mean(scenes_ok):.0%}); objects skipped (rolled off before the pick): "
              f"{skipped}\n")
    if all_failures:
        print("Failures:\n" + "\n".join(f"- {f}" for f in all_failures) + "\n")

    print("# Physics speed (8 objects, timestep 2 ms)\n")
    print("| scene | holding: x real time | arm moving: x real time | ratio to no-robot |")
    print("|---|---|---|---|")
    base, _ = physics_speed(None, seconds=2.0 if args.quick else 4.0)
    print(f"| no robot | {base:.1f} | - | 1.00 |")
    for robot in robots:
        hold, moving = physics_speed(robot, seconds=2.0 if args.quick else 4.0)
        print(f"| {robot} | {hold:.1f} | {moving:.1f} | {hold / base:.2f} |")
    print("\n(2 shared CPU cores: wall-clock figures are pessimistic.)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
