"""Where does a checkpoint lose object colour? Linear probes along the forward pass.

For every clearly visible object of a split, the token cell under its centroid is labelled
with the object's colour; a logistic-regression probe is fitted on the features of that cell
at each stage of the model (scenes split 70/30, held-out accuracy reported) and, on the text
side, on the point head's query for prompts whose target is named by colour. Chance is the
majority class. Run:

    .venv/bin/python scripts/probe_colour.py [--ckpt spatial_ros/checkpoints] [--n 2000]
"""

from __future__ import annotations

import argparse
import collections
import math

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from spatial_ros.data.dataset import load_split
from spatial_ros.model import SpatialMamba
from spatial_ros.model.data_loading import CachedRefDataset, build_cache
from spatial_ros.model.train import model_inputs

COLOUR_KINDS = ("attr_colour", "attr_colour_category")


@torch.no_grad()
def stage_features(model: SpatialMamba, batch: dict
                   ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Per-cell features (B, N, D) at each stage, and the point query (B, D)."""
    rgb, depth, ids, att = model_inputs(model, batch, "cpu")
    words = model.text_encoder(ids, att)
    text = model.text_projector(words) + model.type_embed[0]
    m = att.unsqueeze(-1).float()
    pooled = (text * m).sum(1) / m.sum(1).clamp_min(1)
    rows, cols = model.config.grid
    cell_rgb = F.adaptive_avg_pool2d(batch["rgb"].float(), (rows, cols)).flatten(2)
    encoded = model.rgb_encoder(rgb)
    feats = {"input: mean RGB of the cell": cell_rgb.transpose(1, 2),
             "rgb encoder": encoded,
             "rgb projector": model.rgb_projector(encoded),
             "depth projector": model.depth_projector(model.depth_encoder(depth))}
    if model.config.colour_skip:
        feats["rgb projector + colour skip"] = feats["rgb projector"] + model.colour_skip(
            model._cell_colours(rgb))
    hooks: dict[str, torch.Tensor] = {}
    handle = model.backbone.register_forward_hook(
        lambda _m, _i, out: hooks.__setitem__("hidden", out.last_hidden_state))
    model(rgb, depth, ids, att)
    handle.remove()
    hidden = hooks["hidden"]
    n = model.config.n_image_tokens
    t = ids.shape[1]
    feats["backbone, first read (rgb)"] = hidden[:, t + n:t + 2 * n]
    feats["backbone, second read"] = hidden[:, -n:]
    feats["point key"] = model.point_key(hidden[:, -n:])
    query = model.point_query(torch.cat([hidden[:, -1], pooled], dim=-1))
    return feats, query


def probe(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """Held-out accuracy of a linear probe (split by scene) and the majority-class rate."""
    cut = np.quantile(groups, 0.7)
    tr, te = groups <= cut, groups > cut
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.5))
    clf.fit(x[tr], y[tr])
    majority = collections.Counter(y[tr]).most_common(1)[0][0]
    return float((clf.predict(x[te]) == y[te]).mean()), float((y[te] == majority).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", default=None, help="checkpoint dir (default: the shipped one)")
    ap.add_argument("--data", default="datasets/v1")
    ap.add_argument("--split", default="val")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--cache", default="runs/cache")
    ap.add_argument("--min-pixels", type=int, default=300)
    args = ap.parse_args()
    torch.set_num_threads(2)
    model = SpatialMamba.from_pretrained(args.ckpt).eval()
    samples = load_split(args.data, args.split, limit=args.n)
    ds = CachedRefDataset(build_cache(args.data, args.split, model.processor,
                                      cache_dir=args.cache, limit=args.n))
    rows, cols = model.config.grid
    cells: dict[str, list] = collections.defaultdict(list)
    q_feats, q_labels, q_groups = [], [], []
    seen_scene = set()
    loader = torch.utils.data.DataLoader(ds, batch_size=32)
    for start, batch in zip(range(0, len(ds), 32), tqdm(loader, desc="features"), strict=True):
        feats, query = stage_features(model, batch)
        for j in range(batch["scene"].shape[0]):
            s = samples[start + j]
            scene = int(batch["scene"][j])
            if s.kind in COLOUR_KINDS and s.target_id is not None:
                colour = next(o["colour"] for o in s.objects if o["id"] == s.target_id)
                q_feats.append(query[j].numpy())
                q_labels.append(colour)
                q_groups.append(scene)
            first = scene not in seen_scene  # image-only stages: once per scene
            seen_scene.add(scene)
            for o in s.objects:
                if o["pixels"] < args.min_pixels:
                    continue
                u, v = o["centroid_px"]
                c = min(int(v / s.intrinsics.height * rows), rows - 1) * cols + \
                    min(int(u / s.intrinsics.width * cols), cols - 1)
                for name, f in feats.items():
                    if first or not name.startswith(("input", "rgb", "depth")):
                        cells[name].append((f[j, c].numpy(), o["colour"], scene))
    print(f"\n{len(ds)} prompts, {len(seen_scene)} scenes, objects >= {args.min_pixels} px\n")
    print("| stage | samples | probe accuracy % | majority % |\n|---|---|---|---|")
    for name, items in cells.items():
        x = np.stack([i[0] for i in items])
        acc, maj = probe(x, np.array([i[1] for i in items]), np.array([i[2] for i in items]))
        print(f"| {name} | {len(items)} | {100 * acc:.1f} | {100 * maj:.1f} |")
    acc, maj = probe(np.stack(q_feats), np.array(q_labels), np.array(q_groups))
    print(f"| point query (colour prompts) | {len(q_labels)} | {100 * acc:.1f} | "
          f"{100 * maj:.1f} |")
    print(f"\n(chance for {len(set(q_labels))} colours ~ {100 / max(len(set(q_labels)), 1):.1f} %;"
          f" log2 = {math.log2(max(len(set(q_labels)), 2)):.1f} bits)")


if __name__ == "__main__":
    main()
