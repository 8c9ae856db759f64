"""Does the model point at the object the executor benchmark's pick task names?

For every seeded scene of ``bench/bench_executor.py``'s pick task (same seeds, same task
drawing), a simulated RealSense frame is rendered with its segmentation and the model answers
"Pick up the <colour> <category>"; the answer is on target when the target's pixels lie
within 6 px of it. Misses are split into the wrong token cell and the right cell but the
wrong spot in it (the sub-patch offset), which tells the cell scores from the offset head,
and a second table says what a miss pointed at instead (an object of the named colour, of
the named category, of neither, or no object).
``--zero-fine`` zeroes the fine colour match's queries first: how much the trained model uses
that part. No motion, so it takes about 1.5 min for 218 scenes here:

    .venv/bin/python scripts/executor_referent_check.py [--ckpt DIR] [--zero-fine]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from spatial_ros.bringup.sim_session import make_task
from spatial_ros.model.checkpoint import load_pretrained
from spatial_ros.model.predict import predict
from spatial_ros.sim.camera import SimRealSense
from spatial_ros.sim.world import WorldConfig, build_world

HIT_PX = 6


def zero_fine(model) -> None:
    with torch.no_grad():
        for layer in (model.colour_fine.query, model.relation_match.anchor_fine):
            layer.weight.zero_()
            layer.bias.zero_()
    model.compiled_forward = None  # the compiled graph holds the old weights


def check(model, robot: str, seed: int) -> tuple[str, str] | None:
    """(outcome, what a miss pointed at) for one seed; None where the bench skips it."""
    try:
        world = build_world(WorldConfig(), robot=robot, seed=seed)
    except ValueError:  # the bench skips this seed too
        return None
    task = make_task(world, "pick", np.random.default_rng([seed, 0]))
    if task is None:
        return None
    phrase = task.instruction.removeprefix("pick up ")
    cam = SimRealSense(world, seed=seed)
    try:
        f = cam.render(segmentation=True)
    finally:
        cam.close()
    target = next(o for o in world.objects if f"the {o.colour} {o.category}" == phrase)
    u, v = predict(model, f.rgb, f.depth_m, f.intrinsics, "Pick up " + phrase).point_px
    h, w = f.segmentation.shape
    col, row = int(u), int(v)
    near = f.segmentation[max(0, row - HIT_PX):row + HIT_PX + 1,
                          max(0, col - HIT_PX):col + HIT_PX + 1]
    if (near == target.id).any():
        return "on target", ""
    rows, cols = model.config.grid
    r, c = min(int(v / h * rows), rows - 1), min(int(u / w * cols), cols - 1)
    cell = f.segmentation[r * h // rows:(r + 1) * h // rows, c * w // cols:(c + 1) * w // cols]
    outcome = "right cell, wrong spot" if (cell == target.id).any() else "wrong cell"
    return outcome, _pointed_at(world.objects, near, target)


def _pointed_at(objects, near: np.ndarray, target) -> str:
    """What a miss's pixel window shows: the first other object in it, by how it differs."""
    ids, counts = np.unique(near, return_counts=True)
    others = {o.id: o for o in objects if o.id != target.id}
    seen = [(n, others[i]) for i, n in zip(ids, counts, strict=True) if i in others]
    if not seen:
        return "no object"
    o = max(seen, key=lambda s: s[0])[1]
    if o.colour == target.colour:
        return "named colour, other category"
    return "named category, other colour" if o.category == target.category else "neither"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt", default=None, help="checkpoint dir (default: the shipped one)")
    ap.add_argument("--robots", nargs="+", default=["ur5", "franka", "g1"])
    ap.add_argument("--seeds", type=int, default=80, help="seeds 0..N-1 per robot")
    ap.add_argument("--zero-fine", action="store_true")
    args = ap.parse_args(argv)
    model = load_pretrained(args.ckpt)
    if args.zero_fine:
        zero_fine(model)
    counts: dict[str, collections.Counter] = {r: collections.Counter() for r in args.robots}
    instead: collections.Counter = collections.Counter()
    for robot in args.robots:
        for seed in range(args.seeds):
            result = check(model, robot, seed)
            if result is not None:
                counts[robot][result[0]] += 1
                instead[result[1]] += bool(result[1])
    kinds = ("on target", "wrong cell", "right cell, wrong spot")
    print("| robot | scenes | " + " | ".join(kinds) + " |")
    print("|---|---|" + "---|" * len(kinds))
    total: collections.Counter = collections.Counter()
    for robot, c in counts.items():
        total.update(c)
        print(f"| {robot} | {sum(c.values())} | " + " | ".join(str(c[k]) for k in kinds) + " |")
    print(f"| all | {sum(total.values())} | " + " | ".join(str(total[k]) for k in kinds) + " |")
    kinds = ("named colour, other category", "named category, other colour", "neither",
             "no object")
    print("\nmisses pointed at: | " + " | ".join(kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    print("| all | " + " | ".join(str(instead[k]) for k in kinds) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
