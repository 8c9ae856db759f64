"""Shape classes of the weights-free perception (``data.perceive``) against the truth.

    .venv/bin/python bench/bench_shape_classes.py [--data datasets/robots datasets/rollouts]
        [--split val] [--scenes 300] [--whole-objects-only] [--quick]

Each scene's frame is clustered by ``data.perceive``; a cluster counts for the true object
whose image centroid is nearest, within 20 px, or within a container's radius so its lone
walls count too (``--whole-objects-only``: 20 px for every object). Prints the accuracy and a
confusion row per true class. The attribute check and the geometric baseline read these
classes.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from tqdm import tqdm

from spatial_ros.data.dataset import load_split
from spatial_ros.data.perceive import perceive

CLASSES = ("bowl", "box", "sphere", "cube", "cylinder", "mug", "block")
MATCH_PX = 20.0


def scenes(root: str, split: str, limit: int):
    """The first sample of each of the first ``limit`` scenes that list their objects."""
    seen = set()
    for s in load_split(root, split):
        if s.scene_id in seen or not s.objects:
            continue
        seen.add(s.scene_id)
        if len(seen) > limit:
            return
        yield s


def true_object(sample, centroid: np.ndarray, containers_whole: bool) -> dict | None:
    known = [t for t in sample.objects if t.get("centroid_px") is not None]
    if not known:
        return None
    best = min(known, key=lambda t: np.linalg.norm(np.asarray(t["centroid_px"]) - centroid))
    limit = MATCH_PX
    if containers_whole and best.get("is_container"):
        limit = max(MATCH_PX, float(np.sqrt(best["pixels"] / np.pi)))
    return best if np.linalg.norm(np.asarray(best["centroid_px"]) - centroid) <= limit else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", default=["datasets/robots", "datasets/rollouts"])
    ap.add_argument("--split", default="val")
    ap.add_argument("--scenes", type=int, default=300, help="per dataset")
    ap.add_argument("--whole-objects-only", action="store_true")
    ap.add_argument("--quick", action="store_true", help="20 scenes per dataset")
    args = ap.parse_args(argv)
    if args.quick:
        args.scenes = min(args.scenes, 20)
    missing = [r for r in args.data if not (Path(r) / f"{args.split}.jsonl").is_file()]
    if missing:
        print(f"no {args.split} split in {', '.join(missing)}: generate the datasets first "
              "(`spatial-ros data generate --config config/data/robots.yaml`, "
              "`config/data/rollouts.yaml`)", file=sys.stderr)
        return 2
    confusion: collections.Counter = collections.Counter()
    samples = [s for root in args.data for s in scenes(root, args.split, args.scenes)]
    for s in tqdm(samples, desc="frames", unit="frame"):
        try:
            seen = perceive(s.load_rgb(), s.load_depth_m(), s.intrinsics, s.camera_pose)
        except ValueError:  # no table in view
            continue
        for o in seen.graph.objects:
            ys, xs = np.nonzero(seen.labels == o.id)
            if not len(xs):
                continue
            truth = true_object(s, np.array([xs.mean(), ys.mean()]),
                                not args.whole_objects_only)
            if truth is not None:
                confusion[(truth["category"], o.category)] += 1
    total = sum(confusion.values())
    right = sum(v for (t, p), v in confusion.items() if t == p)
    print(f"\n{args.split} of {', '.join(args.data)}: {len(samples)} frames, {total} matched "
          f"clusters, **{100 * right / max(total, 1):.1f} %** classed right\n")
    print("| true class | clusters | right | taken for |\n|---|---|---|---|")
    for t in CLASSES:
        row = {p: v for (tt, p), v in confusion.items() if tt == t}
        wrong = ", ".join(f"{p} {v}" for p, v in sorted(row.items(), key=lambda kv: -kv[1])
                          if p != t)
        print(f"| {t} | {sum(row.values())} | {row.get(t, 0)} | {wrong} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
