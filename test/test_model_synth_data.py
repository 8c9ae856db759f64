"""A tiny, learnable referring dataset in the on-disk format of docs/CONTRIBUTING.md, and
tests of the model's tensor cache over it.

Scenes: coloured blocks on a noisy grey table, depth with holes; prompts name a block by
colour ("the red block") or by relation to another ("the block left of the green block",
2 steps); masks are the blocks; grasps sit 2 cm behind the visible block centre with a
colour-dependent yaw, so every head has something learnable.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from spatial_ros.geometry.backproject import backproject_pixels
from spatial_ros.geometry.intrinsics import Intrinsics

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (40, 60, 230)}
YAW = {"red": 0.0, "green": 45.0, "blue": 90.0}
W, H = 128, 96


def _rotz(deg: float) -> list[list[float]]:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]


def test_two_caches_are_one_dataset_with_their_own_scenes(tmp_path):
    """``data.extra_roots``: a second dataset's samples keep pointing at their own images."""
    from spatial_ros.model.checkpoint import build_model
    from spatial_ros.model.config import preset_config
    from spatial_ros.model.data_loading import CachedRefDataset, build_cache

    a = write_synthetic_dataset(tmp_path / "a", {"train": 2}, seed=0)
    b = write_synthetic_dataset(tmp_path / "b", {"train": 1}, seed=1)
    model = build_model(preset_config("tiny", image_width=64, image_height=48,
                                      conv_channels=[8, 16, 16]), init_text=False)
    only_a = CachedRefDataset(build_cache(a, "train", model.processor))
    only_b = CachedRefDataset(build_cache(b, "train", model.processor))
    both = CachedRefDataset([build_cache(a, "train", model.processor),
                             build_cache(b, "train", model.processor)])
    assert len(both) == len(only_a) + len(only_b) == 12
    assert int(both.t["scene"].max()) == 2  # three scenes: b's one comes after a's two
    for i in range(len(only_b)):
        mine, joined = only_b[i], both[len(only_a) + i]
        assert torch.equal(mine["rgb"], joined["rgb"])
        assert torch.equal(mine["input_ids"], joined["input_ids"])
    assert not torch.equal(both[0]["rgb"], both[len(only_a)]["rgb"])
    with pytest.raises(ValueError, match="at least one"):
        CachedRefDataset([])


# tiny-preset overrides that make a model small enough for fast tests
SMALL_TINY = dict(image_width=64, image_height=48, conv_channels=[16, 32, 64], d_model=64,
                  n_layers=2, head_hidden=64)


def _program(colour: str | None, relation: str | None = None, anchors=()) -> dict:
    """A record's ``program`` (the data generator's ``Ref`` as a dict)."""
    return {"type": "Ref", "category": "block", "colour": colour, "size_word": None,
            "relation": relation, "anchors": list(anchors), "select": None, "ordinal": None}


def _block(i: int, colour: str, box: tuple[int, int, int, int], intr: Intrinsics) -> dict:
    """A record's scene object for a 20 px block (camera pose = identity: camera frame)."""
    cu, cv = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return {"id": i, "name": f"{colour}_block_{i}", "category": "block", "colour": colour,
            "size": [0.18, 0.18, 0.1], "position": backproject_pixels(cu, cv, 0.9, intr)[0]
            .tolist(), "rotation": np.eye(3).tolist(), "pixels": 400, "centroid_px": [cu, cv],
            "graspable": True, "is_container": False}


def write_synthetic_dataset(root: Path, n_scenes: dict[str, int], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    intr = Intrinsics(W, H, fx=100.0, fy=100.0, cx=W / 2, cy=H / 2)
    for sub in ("rgb", "depth", "mask"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, n in n_scenes.items():
        lines = []
        for s in range(n):
            sid = f"{split}_{s:04d}"
            rgb = rng.normal(128, 12, (H, W, 3)).clip(0, 255).astype(np.uint8)
            depth = np.full((H, W), 1000, np.uint16)
            boxes = {}
            xs = rng.permutation(3)
            for k, name in enumerate(COLOURS):
                x0 = int(8 + xs[k] * 40 + rng.integers(0, 10))
                y0 = int(rng.integers(10, H - 34))
                boxes[name] = (x0, y0, x0 + 20, y0 + 20)
                rgb[y0:y0 + 20, x0:x0 + 20] = COLOURS[name]
                depth[y0:y0 + 20, x0:x0 + 20] = 900
            depth[rng.random((H, W)) < 0.03] = 0  # stereo holes
            Image.fromarray(rgb).save(root / "rgb" / f"{sid}.png")
            Image.fromarray(depth).save(root / "depth" / f"{sid}.png")
            order = sorted(boxes, key=lambda c: boxes[c][0])
            objects = [_block(i, c, boxes[c], intr) for i, c in enumerate(COLOURS)]
            queries = [(f"the {c} block", c, 1, _program(c)) for c in COLOURS]
            queries.append((f"the block left of the {order[1]} block", order[0], 2,
                            _program(None, "left_of:camera", [_program(order[1])])))
            for q, (prompt, target, steps, program) in enumerate(queries):
                x0, y0, x1, y1 = boxes[target]
                mask = np.zeros((H, W), np.uint8)
                mask[y0:y1, x0:x1] = 255
                mid = f"{sid}_{q}"
                Image.fromarray(mask).save(root / "mask" / f"{mid}.png")
                cu, cv = (x0 + x1) / 2, (y0 + y1) / 2
                pos = backproject_pixels(cu, cv, 0.92, intr)[0]
                lines.append({
                    "id": mid, "scene_id": sid, "split": split, "rgb": f"rgb/{sid}.png",
                    "depth": f"depth/{sid}.png", "mask": f"mask/{mid}.png",
                    "intrinsics": intr.to_dict(), "camera_pose": np.eye(4).tolist(),
                    "prompt": prompt, "kind": "pick" if steps == 1 else "relation",
                    "steps": steps, "points": [[cu / W, cv / H]],
                    "target_id": list(COLOURS).index(target),
                    "placement": False,
                    "grasp": {"position": pos.tolist(), "rotation": _rotz(YAW[target]),
                              "width": 0.04 + 0.01 * list(COLOURS).index(target)},
                    "program": program, "objects": objects})
        (root / f"{split}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
        counts[split] = len(lines)
    (root / "meta.json").write_text(json.dumps({"generator": "test-synthetic", "counts": counts,
                                                "seed": seed}))
    return root


def test_cache_targets_match_the_masks(tmp_path):
    from spatial_ros.model.checkpoint import build_model
    from spatial_ros.model.config import preset_config
    from spatial_ros.model.data_loading import CachedRefDataset, build_cache, read_split

    root = write_synthetic_dataset(tmp_path / "ds", {"train": 2, "val": 1})
    model = build_model(preset_config("tiny", image_width=64, image_height=48,
                                      conv_channels=[8, 16, 16]), init_text=False)
    path = build_cache(root, "train", model.processor)
    assert build_cache(root, "train", model.processor) == path  # reused, not rebuilt
    ds = CachedRefDataset(path)
    recs = read_split(root, "train")
    assert len(ds) == len(recs) == 8
    item = ds[0]
    assert item["rgb"].shape == (3, 48, 64) and item["rgb"].dtype == torch.uint8
    assert item["depth"].shape == (1, 48, 64)
    # hole-aware resize: the table stays at 1.0 m although 3% of full-res pixels are 0
    assert float(item["depth"].float().median()) == np.float16(1.0)
    assert abs(float(item["cell_target"].float().sum()) - 1.0) < 1e-2
    # the annotated point lies inside the low-res mask, and its cell carries target mass
    x, y = item["point"].tolist()
    assert item["mask_lo"][int(y * 48), int(x * 64)] == 1
    assert item["cell_target"][int(item["offset_cell"])] > 0.5
    assert bool(item["has_grasp"]) and abs(float(item["depth_offset"]) - 0.02) < 1e-3
    # the relation prompt's anchor cell is its anchor block's centre cell; the others name none
    rows, cols = model.config.grid
    for i, rec in enumerate(recs):
        cells = ds[i]["anchor_cells"].tolist()
        if rec.steps == 1:
            assert cells == [-1, -1]
            continue
        u, v = rec.anchors[0]
        assert cells == [int(v * rows) * cols + int(u * cols), -1]
        anchor = next(o for o in json.loads((root / "train.jsonl").read_text().splitlines()[i])
                      ["objects"] if o["colour"] in rec.prompt)
        assert (u * W, v * H) == pytest.approx(anchor["centroid_px"])
