"""torch Dataset over the on-disk referring dataset, through a low-resolution tensor cache.

Decoding 640x480 PNGs and resizing them costs more than a tiny model's forward pass, so each
split is converted once into model-resolution tensors (uint8 RGB and float16 depth per scene,
per-sample targets) stored as a safetensors file next to the data; training then reads
memory-resident tensors. The cache is keyed by the processing settings, so a model with a
different input size or tokenizer window gets its own file.

Targets per sample:
- ``cell_target``: where the point head's softmax should put its mass: half on the target
  mask's area per token cell, half on the cell of the first annotated point;
- ``point``/``offset_cell``: the annotated point and its cell; ``cell_offsets`` the sub-patch
  offset target of every cell (the mask centroid inside it; the point itself in its cell),
  weighted by ``offset_weight`` (mask coverage), so whichever cell wins at inference has a
  trained offset;
- grasp (when present): contact pixel (the grasp centre projected), rotation, width, the
  depth offset from the visible surface at the contact pixel to the grasp centre, and
  ``grasp_symmetry`` (which turns about the approach give the same grasp on that object, so
  the rotation loss does not ask for a sphere's or an upright cylinder's arbitrary yaw), and
  ``grasp_side`` (it approaches level with the table: the side-grasp gate's label);
- ``anchor_cells``: the token cells of the (up to two) objects the prompt's own relation is
  to, from its program and scene objects (-1: none), for the relation match's anchor loss;
- ``object_xy``/``object_labels``: every visible object's normalised centroid and (colour,
  category) class indices (-1 padded to ``N_OBJECTS``), for ``object_aux``'s loss.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file, save_file
from torch.utils.data import Dataset
from tqdm import tqdm

from spatial_ros.data.grasps import HALF_TURN, is_side_grasp, sample_grasp_symmetry
from spatial_ros.data.vocab import COLOURS
from spatial_ros.geometry.depth_query import query_depth
from spatial_ros.geometry.intrinsics import Intrinsics
from spatial_ros.model.processing import SpatialMambaProcessor, normalized_intrinsics
from spatial_ros.model.spatial_mamba import N_ANCHORS, N_OBJECTS, OBJECT_CATEGORIES

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test", "unseen")
CACHE_VERSION = 7
MIN_OBJECT_PIXELS = 50  # smaller (mostly hidden) objects carry no object_aux label


@dataclass
class Record:
    """The fields of one dataset line this module needs (paths resolved)."""

    id: str
    scene_id: str
    rgb: Path
    depth: Path
    mask: Path | None
    intrinsics: Intrinsics
    prompt: str
    kind: str
    steps: int
    points: list[list[float]]
    placement: bool
    grasp: dict[str, Any] | None
    anchors: list[tuple[float, float] | None]  # normalised pixel of each direct anchor
    objects: list[tuple[float, float, int, int]]  # visible objects: x, y, colour, category
    grasp_symmetry: int = HALF_TURN  # turns about the approach giving the same grasp
    side_grasp: bool = False  # the grasp approaches level with the table (``is_side_grasp``)


def _resolve(root: Path, p) -> Path | None:
    if p is None or p == "":
        return None
    p = Path(p)
    return p if p.is_absolute() else root / p


def read_split(root: str | Path, split: str) -> list[Record]:
    """Records of one split, read and validated by ``spatial_ros.data.dataset.load_split``."""
    from spatial_ros.data.dataset import load_split

    root = Path(root)
    records = []
    for s in load_split(root, split):
        records.append(Record(
            id=s.id, scene_id=s.scene_id, rgb=_resolve(root, s.rgb),
            depth=_resolve(root, s.depth), mask=_resolve(root, s.mask),
            intrinsics=s.intrinsics, prompt=s.prompt, kind=s.kind, steps=s.steps,
            points=[list(map(float, p)) for p in s.points], placement=s.placement,
            grasp=s.grasp, anchors=_anchor_points(s), objects=_object_labels(s),
            grasp_symmetry=HALF_TURN if not s.grasp else sample_grasp_symmetry(
                s.target_object(), s.camera_pose, s.grasp["rotation"]),
            side_grasp=bool(s.grasp) and is_side_grasp(s.camera_pose, s.grasp["rotation"])))
    return records


def _object_labels(s) -> list[tuple[float, float, int, int]]:
    """(x, y normalised centroid, colour index, category index) of every object in view with
    a known colour and category (``[]`` without scene objects, as in recorded bags)."""
    w, h = s.intrinsics.width, s.intrinsics.height
    out = []
    for o in s.objects or []:
        c = o.get("centroid_px")
        if (c is None or o.get("pixels", 0) < MIN_OBJECT_PIXELS or o.get("colour") not in COLOURS
                or o.get("category") not in OBJECT_CATEGORIES):
            continue
        out.append((c[0] / w, c[1] / h, COLOURS.index(o["colour"]),
                    OBJECT_CATEGORIES.index(o["category"])))
    return out[:N_OBJECTS]


def _anchor_points(s) -> list[tuple[float, float] | None]:
    """Normalised visible centroids of the sample's direct anchors (``[]`` without a program
    or scene objects, as in recorded bags)."""
    from spatial_ros.data.expressions import direct_anchors, expression_from_dict
    from spatial_ros.data.scene_graph import ObjectNode, SceneGraph

    program = s.extra.get("program")
    if not program or not s.objects:
        return []
    w, h = s.intrinsics.width, s.intrinsics.height
    g = SceneGraph([ObjectNode.from_dict(o) for o in s.objects], s.camera_pose, w, h)
    return [None if o is None or o.centroid_px is None else
            (o.centroid_px[0] / w, o.centroid_px[1] / h)
            for o in direct_anchors(expression_from_dict(program), g)]


def _cache_key(processor: SpatialMambaProcessor, files: list[Path]) -> str:
    cfg = processor.config
    stat = [(str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files]
    payload = json.dumps([CACHE_VERSION, cfg.image_width, cfg.image_height, cfg.patch_size,
                          cfg.max_text_tokens, len(processor.tokenizer), stat])
    return hashlib.sha1(payload.encode()).hexdigest()[:12]


def _cell_index(x: float, y: float, rows: int, cols: int) -> int:
    """Raster index of the token cell holding the normalised point (x, y)."""
    return min(int(y * rows), rows - 1) * cols + min(int(x * cols), cols - 1)


def _mask_targets(mask: np.ndarray, grid: tuple[int, int], size: tuple[int, int]
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-cell mask fraction, per-cell mask centroid (as an offset inside the cell), and the
    mask at model resolution (for validation)."""
    rows, cols = grid
    on = mask > 127
    m = torch.from_numpy(on.astype(np.float32))[None, None]
    cells = F.interpolate(m, size=grid, mode="area")[0, 0].flatten()
    low = F.interpolate(m, size=size, mode="area")[0, 0]
    low = low >= (0.5 if (low >= 0.5).any() else max(float(low.max()), 1e-6))
    h, w = on.shape
    r, c = np.nonzero(on)
    fx, fy = (c + 0.5) / w * cols, (r + 0.5) / h * rows  # in cell units
    idx = np.minimum(fy.astype(int), rows - 1) * cols + np.minimum(fx.astype(int), cols - 1)
    n = np.bincount(idx, minlength=rows * cols)
    ox = np.bincount(idx, weights=fx % 1.0, minlength=rows * cols) / np.maximum(n, 1)
    oy = np.bincount(idx, weights=fy % 1.0, minlength=rows * cols) / np.maximum(n, 1)
    offsets = torch.from_numpy(np.where(n[:, None] > 0, np.stack([ox, oy], 1), 0.5)).float()
    return cells, offsets, low


def build_cache(root: str | Path, split: str, processor: SpatialMambaProcessor,
                cache_dir: str | Path | None = None, limit: int | None = None) -> Path:
    """Writes (or reuses) the tensor cache of one split; returns its path."""
    root = Path(root)
    records = read_split(root, split)[:limit]
    if not records:
        raise ValueError(f"split '{split}' of {root} is empty")
    cfg = processor.config
    cache_dir = Path(cache_dir) if cache_dir else root / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = _cache_key(processor, [root / f"{split}.jsonl"])
    out = cache_dir / f"{split}-{key}{'' if limit is None else f'-n{limit}'}.safetensors"
    if out.is_file():
        return out
    rows, cols = cfg.grid
    size = (cfg.image_height, cfg.image_width)
    scene_index: dict[str, int] = {}
    rgbs, depths, intrinsics = [], [], []
    last_scene, depth = None, None
    cols_out: dict[str, list] = {k: [] for k in (
        "scene", "cell_target", "point", "offset_cell", "cell_offsets", "offset_weight",
        "mask_lo", "has_grasp", "contact", "rotation", "width", "depth_offset", "steps",
        "grasp_symmetry", "grasp_side",
        "placement", "anchor_cells", "object_xy", "object_labels")}
    for r in tqdm(records, desc=f"cache {split}", leave=False):
        if r.scene_id != last_scene:  # samples of one scene are usually consecutive
            depth = np.asarray(Image.open(r.depth)).astype(np.float32) * 0.001
            last_scene = r.scene_id
            if r.scene_id not in scene_index:
                rgb = np.asarray(Image.open(r.rgb).convert("RGB"))
                scene_index[r.scene_id] = len(rgbs)
                rgbs.append(processor.resize_rgb(rgb))
                depths.append(processor.resize_depth(depth, rgb.shape[:2]))
                intrinsics.append(normalized_intrinsics(r.intrinsics))
        h, w = depth.shape
        if r.mask is not None and r.mask.is_file():
            cells, offsets, low = _mask_targets(np.asarray(Image.open(r.mask).convert("L")),
                                                (rows, cols), size)
        else:
            cells, low = torch.zeros(rows * cols), torch.zeros(size, dtype=torch.bool)
            offsets = torch.full((rows * cols, 2), 0.5)
        x, y = (r.points[0] if r.points else (0.5, 0.5))
        cell = _cell_index(x, y, rows, cols)
        onehot = torch.zeros(rows * cols)
        onehot[cell] = 1.0
        offsets[cell] = torch.tensor([x * cols % 1.0, y * rows % 1.0])
        target = 0.5 * cells / cells.sum() + 0.5 * onehot if cells.sum() > 0 else onehot
        grasp = _grasp_targets(r.grasp, r.intrinsics, depth, w, h)
        cols_out["scene"].append(scene_index[r.scene_id])
        cols_out["cell_target"].append(target.to(torch.float16))
        cols_out["point"].append(torch.tensor([x, y]))
        cols_out["offset_cell"].append(cell)
        cols_out["cell_offsets"].append(offsets.to(torch.float16))
        cols_out["offset_weight"].append((cells + onehot).to(torch.float16))
        cols_out["mask_lo"].append(low)
        for k, v in grasp.items():
            cols_out[k].append(v)
        anchors = [-1 if a is None else _cell_index(*a, rows, cols) for a in r.anchors]
        cols_out["anchor_cells"].append((anchors + [-1] * N_ANCHORS)[:N_ANCHORS])
        pad = N_OBJECTS - len(r.objects)
        cols_out["object_xy"].append([o[:2] for o in r.objects] + [(-1.0, -1.0)] * pad)
        cols_out["object_labels"].append([o[2:] for o in r.objects] + [(-1, -1)] * pad)
        cols_out["steps"].append(r.steps)
        cols_out["grasp_symmetry"].append(r.grasp_symmetry)
        cols_out["grasp_side"].append(r.side_grasp)
        cols_out["placement"].append(r.placement)
    text = processor.tokenize([r.prompt for r in records])
    pad = cfg.max_text_tokens - text.input_ids.shape[1]
    tensors = {
        "rgb": torch.stack(rgbs), "depth": torch.stack(depths),
        "intrinsics": torch.stack(intrinsics),
        "input_ids": F.pad(text.input_ids, (pad, 0), value=processor.tokenizer.pad_token_id),
        "attention_mask": F.pad(text.attention_mask, (pad, 0), value=0).to(torch.uint8),
        "scene": torch.tensor(cols_out["scene"]),
        "cell_target": torch.stack(cols_out["cell_target"]),
        "point": torch.stack(cols_out["point"]).float(),
        "offset_cell": torch.tensor(cols_out["offset_cell"]),
        "cell_offsets": torch.stack(cols_out["cell_offsets"]),
        "offset_weight": torch.stack(cols_out["offset_weight"]),
        "mask_lo": torch.stack(cols_out["mask_lo"]).to(torch.uint8),
        "has_grasp": torch.tensor(cols_out["has_grasp"]),
        "contact": torch.stack(cols_out["contact"]).float(),
        "rotation": torch.stack(cols_out["rotation"]).float(),
        "grasp_symmetry": torch.tensor(cols_out["grasp_symmetry"], dtype=torch.uint8),
        "grasp_side": torch.tensor(cols_out["grasp_side"], dtype=torch.bool),
        "width": torch.tensor(cols_out["width"]).float(),
        "depth_offset": torch.tensor(cols_out["depth_offset"]).float(),
        "steps": torch.tensor(cols_out["steps"]),
        "placement": torch.tensor(cols_out["placement"]),
        "anchor_cells": torch.tensor(cols_out["anchor_cells"], dtype=torch.long),
        "object_xy": torch.tensor(cols_out["object_xy"], dtype=torch.float32),
        "object_labels": torch.tensor(cols_out["object_labels"], dtype=torch.long),
    }
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(out),
              metadata={"split": split, "n": str(len(records)), "root": str(root)})
    return out


def _grasp_targets(grasp, intr: Intrinsics, depth: np.ndarray, w: int, h: int) -> dict:
    empty = {"has_grasp": False, "contact": torch.zeros(2), "rotation": torch.eye(3),
             "width": 0.0, "depth_offset": 0.0}
    if not grasp:
        return empty
    pos = np.asarray(grasp["position"], dtype=np.float64)
    if pos[2] <= 0:
        return empty
    intr = intr if (intr.width, intr.height) == (w, h) else intr.scaled(w, h)
    u, v = intr.project(pos[None])[0]  # OpenCV convention: pixel centres at integers
    col, row = int(np.rint(u)), int(np.rint(v))
    if not (0 <= col < w and 0 <= row < h):
        return empty
    q = query_depth(depth, col, row, window=5, stat="median")
    offset = float(pos[2] - q.depth_m) if q.valid else 0.0
    return {"has_grasp": True, "contact": torch.tensor([(u + 0.5) / w, (v + 0.5) / h]),
            "rotation": torch.tensor(np.asarray(grasp["rotation"], dtype=np.float32)),
            "width": float(grasp.get("width", 0.0)), "depth_offset": offset}


SCENE_KEYS = ("rgb", "depth", "intrinsics")  # stored once per scene, indexed by "scene"


class CachedRefDataset(Dataset):
    """Samples of one or more cache files as dicts of tensors (RGB/depth gathered from their
    scene). Several files are one dataset: their tensors are joined, scene indices shifted."""

    def __init__(self, paths: str | Path | list[str | Path]) -> None:
        paths = [paths] if isinstance(paths, str | Path) else list(paths)
        if not paths:
            raise ValueError("CachedRefDataset needs at least one cache file")
        parts, offset = [], 0
        for path in paths:
            t = load_file(str(path))
            t["scene"] = t["scene"] + offset
            offset += len(t["rgb"])
            parts.append(t)
        keys = set(parts[0])
        for path, t in zip(paths, parts, strict=True):
            if set(t) != keys:
                raise ValueError(f"cache {path} has tensors {sorted(t)}, expected {sorted(keys)}")
        self.t = parts[0] if len(parts) == 1 else {k: torch.cat([t[k] for t in parts])
                                                   for k in keys}
        self.n = len(self.t["scene"])

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        s = int(self.t["scene"][i])
        item = {k: v[i] for k, v in self.t.items() if k not in SCENE_KEYS}
        item.update({k: self.t[k][s] for k in SCENE_KEYS})
        return item
