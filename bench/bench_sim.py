"""Simulated RealSense render time and physics speed, against the targets.

    .venv/bin/python bench/bench_sim.py [--quick]

Targets (issue 4): RGB-D 640x480 in <= 60 ms; physics >= 5x real time for one arm with
8 objects. Rendering is CPU OpenGL (Mesa llvmpipe via EGL) on this machine; a GPU driver
renders far faster. Timings on a shared 2-core machine are pessimistic.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np

from spatial_ros.sim.camera import SimRealSense
from spatial_ros.sim.simulation import Simulation
from spatial_ros.sim.world import WorldConfig, build_world

RENDER_TARGET_MS = 60.0
PHYSICS_TARGET_RTF = 5.0


def _median_ms(fn, n: int) -> tuple[float, float]:
    """Median wall ms and median process CPU ms (all threads, incl. the GL rasterizer's);
    CPU time is what a frame costs, wall time includes waiting for a shared CPU."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t) * 1000.0)
        cpu.append((time.process_time() - c) * 1000.0)
    return float(np.median(wall)), float(np.median(cpu))


def bench_render(n: int, robot: str | None) -> list[tuple[str, tuple[float, float]]]:
    rows = []
    for label, cfg in (("shadows on (default)", WorldConfig(n_objects=8)),
                       ("shadows off", WorldConfig(n_objects=8, shadows=False))):
        world = build_world(cfg, robot=robot, seed=0)
        with SimRealSense(world, seed=0) as cam:
            rows.append((f"RGB-D 640x480, noise, {label}",
                         _median_ms(lambda c=cam: c.render(segmentation=False), n)))
            rows.append((f"RGB-D + segmentation (full Frame), {label}",
                         _median_ms(lambda c=cam: c.render(), n)))
    def new_scene(seed=iter(range(1000))) -> None:  # what a data engine pays per scene
        w = build_world(WorldConfig(n_objects=8), robot=None, seed=next(seed))
        with SimRealSense(w, seed=0) as c:
            c.render()
    rows.append(("new scene: build + settle + camera + first Frame", _median_ms(
        new_scene, max(3, n // 5))))
    cfg = WorldConfig(n_objects=8)
    cfg.camera = replace(cfg.camera, width=320, height=240)
    world = build_world(cfg, robot=robot, seed=0)
    with SimRealSense(world, seed=0) as cam:
        rows.append(("RGB-D 320x240, noise, shadows on", _median_ms(
            lambda: cam.render(segmentation=False), n)))
    return rows


def bench_physics(sim_seconds: float, robot: str | None, n_objects: int) -> float:
    """Real-time factor of stepping a world with ``robot`` and objects, the arm moving."""
    world = build_world(WorldConfig(n_objects=n_objects), robot=robot, seed=0)
    sim = Simulation(world)
    if sim.controller is not None:
        js = sim.joint_state()
        names = world.robot.group.joints
        q0 = np.array([js.position[js.names.index(j)] for j in names])
        sim.command_trajectory(list(names), [sim_seconds / 2, sim_seconds],
                               [q0 + 0.2, q0 - 0.1])
    steps = int(sim_seconds / world.model.opt.timestep)
    t = time.perf_counter()
    sim.step(steps)
    return sim_seconds / (time.perf_counter() - t)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--robot", default="ur5", help="robot for the render scene")
    args = parser.parse_args()
    n = 5 if args.quick else 30
    sim_s = 2.0 if args.quick else 10.0

    load = os.getloadavg()[0]
    print(f"cores: {os.cpu_count()}, load average {load:.1f}, "
          f"MUJOCO_GL={os.environ['MUJOCO_GL']}, repetitions: {n}\n")
    print("| render (median) | wall ms | CPU ms | target ms | target / wall |")
    print("|---|---:|---:|---:|---:|")
    for label, (ms, cpu) in bench_render(n, args.robot):
        if label.startswith("new scene"):  # no target: reported for the data engine
            print(f"| {label} | {ms:.1f} | {cpu:.1f} | - | - |")
            continue
        print(f"| {label} | {ms:.1f} | {cpu:.1f} | {RENDER_TARGET_MS:.0f} | "
              f"{RENDER_TARGET_MS / ms:.2f}x |")
    print()
    print("| physics (dt 2 ms), arm tracking a trajectory | sim s / wall s | target | "
          "measured / target |")
    print("|---|---:|---:|---:|")
    # G1's two-arm workspace is smaller: 5 objects fit there
    for robot, n_obj in (("none", 8), ("ur5", 8), ("franka", 8), ("g1", 5)):
        rtf = bench_physics(sim_s, None if robot == "none" else robot, n_obj)
        print(f"| robot {robot}, {n_obj} objects | {rtf:.1f}x | {PHYSICS_TARGET_RTF:.0f}x | "
              f"{rtf / PHYSICS_TARGET_RTF:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
