"""Depth-footprint accuracy against the simulator's truth, the footprint before the eighteenth
session and now side by side on the same frames.

    .venv/bin/python bench/bench_footprint.py [--quick] [--robots ur5 franka g1]
        [--scenes 100] [--out DIR]

For every seeded executor scene (the robot's own camera, noisy D435 depth, two frames of
noise each) and every object in view, the footprint is read at two pixels of the object
drawn at random (a referred point may land anywhere on it) and compared with the object's
true pose: centre error in the table plane (a mug's: its body's), how often it is off by
more than 3 cm or missing, and for graspable objects how much of their narrow side it
measures (the jaws open 3 cm wider than that). "before": regions joined by image adjacency
alone, centred on the visible region; "now": joined in 3D (a depth jump parts two objects)
with what stands in a container kept, centred on the top layer and completed by symmetry
(``perception/footprint.py``). Timings are on whatever CPU runs this.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np
from tqdm import tqdm

from spatial_ros.perception.extrinsics import CameraToBase
from spatial_ros.perception.footprint import FootprintConfig, object_footprint
from spatial_ros.sim.camera import SimRealSense
from spatial_ros.sim.objects import MUG_BODY_X
from spatial_ros.sim.world import WorldConfig, build_world

METHODS = {"before": FootprintConfig(max_step_m=0.0, top_centred=False),
           "now": FootprintConfig()}
FRAMES = 2  # frames per scene (other depth noise)
PIXELS = 2  # seed pixels per object and frame
MIN_PIXELS = 50  # objects seen smaller than this are skipped


def kind_of(o) -> str:
    return "container" if o.is_container else str(o.category)


def plan_centre(o, pose: np.ndarray) -> np.ndarray:
    """Where a grasp or a drop belongs in the table plane: the middle of the object, a mug's
    body axis (its frame centres the bounding box, handle included)."""
    local = np.array([MUG_BODY_X if o.category == "mug" else 0.0, 0.0, 0.0, 1.0])
    return (pose @ local)[:2]


def measure(robots: list[str], scenes: int) -> tuple[dict, dict]:
    """-> ({(method, kind): [(error_m or nan, narrow_ratio or nan)]}, {method: [seconds]})."""
    rows: dict = defaultdict(list)
    times: dict = defaultdict(list)
    rng = np.random.default_rng(0)
    for robot, seed in tqdm([(r, s) for r in robots for s in range(scenes)], desc="scenes"):
        try:
            world = build_world(WorldConfig(), robot=robot, seed=seed)
        except ValueError:  # the seed's objects do not fit this robot's workspace
            continue
        base_inv = np.linalg.inv(world.base_pose)
        with SimRealSense(world, seed=seed) as cam:
            for _ in range(FRAMES):
                frame = cam.render(segmentation=True)
                ext = CameraToBase.from_matrix(base_inv @ frame.camera_pose)
                for o in world.objects:
                    rows_px, cols_px = np.nonzero(frame.segmentation == o.id)
                    if len(rows_px) < MIN_PIXELS:
                        continue
                    pose = base_inv @ world.object_pose(o.id)
                    upright = o.category != "cylinder" or abs(pose[2, 2]) > 0.9
                    for k in rng.choice(len(rows_px), PIXELS, replace=False):
                        for name, cfg in METHODS.items():
                            t0 = time.perf_counter()
                            fp = object_footprint(frame.depth_m, frame.intrinsics, ext,
                                                  cols_px[k] + 0.5, rows_px[k] + 0.5, cfg)
                            times[name].append(time.perf_counter() - t0)
                            err = ratio = np.nan
                            if fp is not None:
                                err = float(np.linalg.norm(np.array(fp.center[:2])
                                                           - plan_centre(o, pose)))
                                if o.graspable and upright:
                                    ratio = min(fp.size) / min(o.size[:2])
                            rows[(name, kind_of(o))].append((err, ratio))
    return rows, times


def summary(samples: list[tuple[float, float]]) -> dict[str, float]:
    a = np.array(samples, dtype=float)
    err, ratio = a[:, 0], a[:, 1]
    found = np.isfinite(err)
    return {"n": len(a), "median_cm": float(np.nanmedian(err) * 100) if found.any() else np.nan,
            "p90_cm": float(np.nanpercentile(err, 90) * 100) if found.any() else np.nan,
            "off_pct": float(np.mean(err[found] > 0.03) * 100) if found.any() else np.nan,
            "none_pct": float(np.mean(~found) * 100),
            "good_pct": float(np.mean(np.nan_to_num(err, nan=1.0) < 0.01) * 100),
            "narrow": float(np.nanmedian(ratio)) if np.isfinite(ratio).any() else np.nan}


def print_table(rows: dict, times: dict) -> dict:
    kinds = sorted({k for _, k in rows})
    stats = {(m, k): summary(rows[(m, k)]) for m in METHODS for k in kinds if rows[(m, k)]}
    print("\n| object | n | centre error median (cm), before -> now | 90th pct | "
          "> 3 cm off (%) | no footprint (%) | within 1 cm (%) | narrow side / true |")
    print("|---|---|---|---|---|---|---|---|")
    for k in kinds:
        b, n = stats[("before", k)], stats[("now", k)]
        print(f"| {k} | {n['n']} | {b['median_cm']:.1f} -> {n['median_cm']:.1f} | "
              f"{b['p90_cm']:.1f} -> {n['p90_cm']:.1f} | {b['off_pct']:.1f} -> "
              f"{n['off_pct']:.1f} | {b['none_pct']:.1f} -> {n['none_pct']:.1f} | "
              f"{b['good_pct']:.1f} -> {n['good_pct']:.1f} | "
              f"{b['narrow']:.2f} -> {n['narrow']:.2f} |")
    tb, tn = np.median(times["before"]) * 1e3, np.median(times["now"]) * 1e3
    print(f"\nmedian time per footprint: before {tb:.2f} ms, now {tn:.2f} ms "
          f"(now / before {tn / tb:.2f}x)")
    return stats


def plot(stats: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = sorted({k for _, k in stats})
    x = np.arange(len(kinds))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for i, m in enumerate(METHODS):
        ax.bar(x + (i - 0.5) * 0.38, [stats[(m, k)]["good_pct"] for k in kinds], 0.38, label=m)
    ax.set_xticks(x, kinds)
    ax.set_ylabel("footprint centre within 1 cm (%)")
    ax.set_ylim(0, 100)
    ax.legend(loc="lower left")
    ax.set_title("Depth footprint vs simulator truth")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--robots", nargs="+", default=["ur5", "franka", "g1"])
    ap.add_argument("--scenes", type=int, default=100)
    ap.add_argument("--quick", action="store_true", help="10 scenes per robot")
    ap.add_argument("--out", default="bench/results/footprint")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, times = measure(args.robots, 10 if args.quick else args.scenes)
    stats = print_table(rows, times)
    plot(stats, out / "footprint_accuracy.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
