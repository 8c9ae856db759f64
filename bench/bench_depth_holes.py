"""Does the model's confidence fall with its accuracy when the depth image has holes?

#6 asks that depth with holes still gets "a calibrated low confidence or a clear error". On
freshly rendered scenes (seeds outside every dataset split), each prompt is answered on the
clean depth and on depth with a share of its pixels set to 0 (the sensor's "no data"), as
scattered pixels (stereo speckle) or as blobs (a dark or shiny object, an occluded band).
Per hole level: point accuracy, mean confidence, their ratio and the expected calibration
error (10 bins); a plot of both against the hole share. Run:

    .venv/bin/python bench/bench_depth_holes.py [--quick] [--checkpoint DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from spatial_ros.data.dataset import RefSample
from spatial_ros.data.evaluate import points_in_mask
from spatial_ros.data.generate import GenerateConfig, generate_scene
from spatial_ros.model import SpatialMamba

FRESH_SEED = 91_000_000  # outside train/val/test/unseen (0 / 1e7 / 2e7 / 3e7 + index)
LEVELS = (0.0, 0.3, 0.6, 0.9)
PATTERNS = ("pixels", "blobs")


def punch_holes(depth: np.ndarray, share: float, pattern: str,
                rng: np.random.Generator) -> np.ndarray:
    """``depth`` with about ``share`` of its pixels set to 0, scattered or in rectangles."""
    out = depth.copy()
    if share <= 0:
        return out
    h, w = depth.shape
    if pattern == "pixels":
        out[rng.random((h, w)) < share] = 0
        return out
    hole = np.zeros((h, w), bool)
    while hole.mean() < share:
        bh, bw = rng.integers(h // 16, h // 4), rng.integers(w // 16, w // 4)
        y, x = rng.integers(0, h - bh), rng.integers(0, w - bw)
        hole[y:y + bh, x:x + bw] = True
    out[hole] = 0
    return out


def expected_calibration_error(conf: np.ndarray, right: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges) - 1, 0, bins - 1)
    return float(sum(abs(conf[idx == b].mean() - right[idx == b].mean()) * (idx == b).mean()
                     for b in range(bins) if (idx == b).any()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 scenes instead of 40")
    ap.add_argument("--scenes", type=int, default=40)
    ap.add_argument("--checkpoint", default=None, help="default: the shipped checkpoint")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench/results/depth_holes")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    n_scenes = 8 if args.quick else args.scenes
    model = SpatialMamba.from_pretrained(args.checkpoint)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        samples = []
        for k in tqdm(range(n_scenes), desc="rendering fresh scenes"):
            samples += [RefSample.from_record(r, Path(tmp))
                        for r in generate_scene(Path(tmp), "test", FRESH_SEED + k,
                                                GenerateConfig())]
        frames = {s.scene_id: (s.load_rgb(), s.load_depth_m()) for s in samples}
        masks = [s.load_mask() for s in samples]
        rows = []
        for pattern in PATTERNS:
            for share in LEVELS:
                if share == 0 and pattern != PATTERNS[0]:
                    continue
                rng = np.random.default_rng(0)
                holed = {k: punch_holes(d, share, pattern, rng) for k, (_, d) in frames.items()}
                conf, right = [], []
                for i in tqdm(range(0, len(samples), 16), desc=f"{pattern} {share:.0%}",
                              leave=False):
                    batch = samples[i:i + 16]
                    preds = model.predict_batch([frames[s.scene_id][0] for s in batch],
                                                [holed[s.scene_id] for s in batch],
                                                [s.intrinsics for s in batch],
                                                [s.prompt for s in batch])
                    for p, m in zip(preds, masks[i:i + 16], strict=True):
                        conf.append(p.confidence)
                        right.append(points_in_mask([p.point_norm], m))
                conf_a, right_a = np.array(conf), np.array(right)
                rows.append({"pattern": "none" if share == 0 else pattern, "share": share,
                             "accuracy": right_a.mean(), "confidence": conf_a.mean(),
                             "ece": expected_calibration_error(conf_a, right_a)})
    print(f"SpatialMamba ({args.checkpoint or 'shipped'}), {len(samples)} prompts on "
          f"{n_scenes} fresh scenes, {args.threads} threads, {time.perf_counter() - t0:.0f} s\n")
    print("| holes | share of depth pixels | point accuracy | mean confidence | "
          "confidence / accuracy | ECE |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['pattern']} | {r['share']:.0%} | {r['accuracy']:.1%} | "
              f"{r['confidence']:.3f} | {r['confidence'] / max(r['accuracy'], 1e-9):.2f}x | "
              f"{r['ece']:.3f} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _plot(rows, out / "depth_holes.png")
    print(f"\nplot: {out / 'depth_holes.png'}")
    return 0


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    clean = rows[0]
    for pattern, style in zip(PATTERNS, ("o-", "s--"), strict=True):
        rs = [clean] + [r for r in rows if r["pattern"] == pattern]
        x = [100 * r["share"] for r in rs]
        ax.plot(x, [r["accuracy"] for r in rs], style, color="C0", label=f"accuracy ({pattern})")
        ax.plot(x, [r["confidence"] for r in rs], style, color="C1",
                label=f"mean confidence ({pattern})")
    ax.set_xlabel("depth pixels set to 0 (%)")
    ax.set_ylim(0, 1)
    ax.set_title("Confidence vs accuracy under depth holes")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
