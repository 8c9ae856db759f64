"""Data-engine throughput: samples per minute, where the time goes, what amortizes it.

Usage: .venv/bin/python bench/bench_data.py [--quick] [--scenes N]

Prints two Markdown tables: per-scene stage times (build + settle, render, scene graph +
prompts + masks, PNG writes) and end-to-end ``generate`` throughput for 1 vs 2 worker
processes and 1 vs 12 prompts per rendered scene, each as a ratio to the default
(1 worker, 12 prompts). All rows are measured in this one run on this machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np

from spatial_ros.data.dataset import save_png
from spatial_ros.data.generate import GenerateConfig, generate
from spatial_ros.data.samples import SampleConfig, scene_answers
from spatial_ros.data.sim_scene import SimSceneConfig, graph_from_world, world_config


def stage_times(n: int) -> dict[str, float]:
    import mujoco

    from spatial_ros.sim.camera import SimRealSense
    from spatial_ros.sim.randomization import DomainRandomizer
    from spatial_ros.sim.world import build_world

    cfg = SimSceneConfig()
    t = {"build + settle": 0.0, "randomize + render": 0.0, "graph + prompts + masks": 0.0,
         "PNG writes": 0.0}
    samples = 0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(900_000, 900_000 + n):
            t0 = time.perf_counter()
            rng = np.random.default_rng([seed, 7])
            world = build_world(world_config(seed, cfg, rng), robot=None, seed=seed)
            t1 = time.perf_counter()
            DomainRandomizer(world).apply(rng)
            mujoco.mj_forward(world.model, world.data)
            cam = SimRealSense(world, seed=seed)
            frame = cam.render()
            cam.close()
            t2 = time.perf_counter()
            g = graph_from_world(world, frame)
            answers = scene_answers(g, frame.intrinsics, frame.segmentation,
                                    np.random.default_rng(seed), SampleConfig())
            t3 = time.perf_counter()
            save_png(Path(tmp) / "rgb.png", frame.rgb)
            save_png(Path(tmp) / "depth.png", frame.depth_mm)
            for i, a in enumerate(answers):
                save_png(Path(tmp) / f"m{i}.png", a.mask)
            t4 = time.perf_counter()
            samples += len(answers)
            for k, dt in zip(t, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                t[k] += dt
    t = {k: v / n for k, v in t.items()}
    t["samples per scene"] = samples / n
    return t


def throughput(n_scenes: int, workers: int, prompts: int) -> tuple[float, float]:
    cfg = GenerateConfig(scenes_per_shard=max(1, n_scenes // (2 * workers)))
    cfg.samples.prompts_per_scene = prompts
    with tempfile.TemporaryDirectory() as tmp:
        target = int(n_scenes * prompts * 0.9)
        t0 = time.perf_counter()
        stats = generate(tmp, "train", target, workers=workers, cfg=cfg, progress=False)
        dt = time.perf_counter() - t0
    return 60.0 * stats["samples"] / dt, 60.0 * stats["scenes"] / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few scenes (a smoke run)")
    ap.add_argument("--scenes", type=int, default=None)
    args = ap.parse_args()
    n = args.scenes or (3 if args.quick else 16)

    st = stage_times(n)
    total = sum(v for k, v in st.items() if k != "samples per scene")
    print(f"### Per-scene stage times ({n} scenes, 640x480, 1 process)\n")
    print("| stage | ms / scene | share |")
    print("|---|---|---|")
    for k, v in st.items():
        if k != "samples per scene":
            print(f"| {k} | {1000 * v:.0f} | {100 * v / total:.0f}% |")
    print(f"| total | {1000 * total:.0f} | 100% |")
    print(f"\nprompts kept per scene: {st['samples per scene']:.1f}\n")

    rows = [("1 worker, 12 prompts/scene (default)", 1, 12),
            ("2 workers, 12 prompts/scene", 2, 12),
            ("1 worker, 1 prompt/scene (no amortization)", 1, 1)]
    measured = [(name, *throughput(n, w, p)) for name, w, p in rows]
    base = measured[0][1]
    print(f"### generate throughput ({n} scenes per row)\n")
    print("| configuration | samples / min | scenes / min | ratio vs default |")
    print("|---|---|---|---|")
    for name, spm, scm in measured:
        print(f"| {name} | {spm:.0f} | {scm:.1f} | {spm / base:.2f}x |")
    print(f"\nCPU cores visible: {os.cpu_count()}; load average: "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (shared machine: pessimistic)")


if __name__ == "__main__":
    main()
