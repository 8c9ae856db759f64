"""When a checkpoint points at the wrong thing, what does it point at?

For the object prompts of a split (placement prompts left out), each answer is checked
against the target mask like the evaluator does; a miss is then put down to the object whose
centroid is nearest the answered pixel: the same colour on another shape, the same shape in
another colour, neither (relations, ordinals), or no object near (background). The split
tells which part of the model to work on: shape confusions led to the shape match.
Run (writes a JSON row per prompt beside the table with ``--out``):

    .venv/bin/python scripts/referring_confusions.py --data datasets/robots --split test \\
        [--ckpt spatial_ros/checkpoints] [--limit 1200] [--out runs/confusions.json]
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from spatial_ros.data.dataset import RefSample, load_split
from spatial_ros.data.evaluate import points_in_mask
from spatial_ros.model import SpatialMamba

NEAR_PX = 40  # a miss farther than this from every object centroid is "background"
KINDS = ("ok", "same colour, other shape", "same shape, other colour", "other object",
         "target, off its mask", "background")


def classify(sample: RefSample, point_norm: tuple[float, float]) -> tuple[str, dict | None]:
    """(result kind, the object the answer is put down to)."""
    if points_in_mask([point_norm], sample.load_mask()) > 0:
        return "ok", None
    seen = [o for o in sample.objects if o.get("centroid_px") is not None]
    if not seen:
        return "background", None
    u, v = point_norm[0] * sample.intrinsics.width, point_norm[1] * sample.intrinsics.height
    dist = [np.hypot(o["centroid_px"][0] - u, o["centroid_px"][1] - v) for o in seen]
    near = seen[int(np.argmin(dist))]
    if min(dist) > NEAR_PX:
        return "background", None
    target = next(o for o in sample.objects if o["id"] == sample.target_id)
    if near["id"] == target["id"]:
        return "target, off its mask", near
    if near["colour"] == target["colour"]:
        return "same colour, other shape", near
    if near["category"] == target["category"]:
        return "same shape, other colour", near
    return "other object", near


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--ckpt", default=None, help="checkpoint dir (default: the shipped one)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="JSON file for the per-prompt rows")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = SpatialMamba.from_pretrained(args.ckpt).eval()
    samples = [s for s in load_split(args.data, args.split, args.limit)
               if not s.placement and s.target_id is not None and s.objects]
    rows = []
    for i in tqdm(range(0, len(samples), args.batch), desc="predict", unit="batch"):
        batch = samples[i:i + args.batch]
        preds = model.predict_batch([s.load_rgb() for s in batch],
                                    [s.load_depth_m() for s in batch],
                                    [s.intrinsics for s in batch], [s.prompt for s in batch])
        for s, p in zip(batch, preds, strict=True):
            result, near = classify(s, p.point_norm)
            target = next(o for o in s.objects if o["id"] == s.target_id)
            rows.append({"id": s.id, "kind": s.kind, "prompt": s.prompt, "result": result,
                         "target": target["name"], "answered": near["name"] if near else None})
    overall = collections.Counter(r["result"] for r in rows)
    print(f"\n{len(rows)} object prompts, {args.data} {args.split}\n")
    print("| result | prompts | share % |\n|---|---|---|")
    for kind in KINDS:
        print(f"| {kind} | {overall[kind]} | {100 * overall[kind] / max(1, len(rows)):.1f} |")
    print("\n| prompt kind | n | correct % | same colour, other shape % |\n|---|---|---|---|")
    by_kind = collections.defaultdict(list)
    for r in rows:
        by_kind[r["kind"]].append(r["result"])
    for kind, results in sorted(by_kind.items()):
        n = len(results)
        print(f"| {kind} | {n} | {100 * results.count('ok') / n:.1f} | "
              f"{100 * results.count('same colour, other shape') / n:.1f} |")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
