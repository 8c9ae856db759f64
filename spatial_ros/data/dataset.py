"""The referring dataset on disk: JSONL records plus RGB / depth / mask PNGs.

Layout (docs/CONTRIBUTING.md, "data"): ``DIR/meta.json``, ``DIR/<split>.jsonl``,
``DIR/rgb/<scene_id>.png`` (8-bit RGB), ``DIR/depth/<scene_id>.png`` (uint16 mm),
``DIR/mask/<sample_id>.png`` (uint8, 255 = target region). Paths inside records are relative
to DIR, so a dataset directory can be moved or shared as is.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from spatial_ros.geometry.intrinsics import Intrinsics

SPLITS = ("train", "val", "test", "unseen")
REQUIRED = ("id", "scene_id", "split", "rgb", "depth", "mask", "intrinsics", "camera_pose",
            "prompt", "kind", "steps", "points", "target_id", "placement", "grasp")


class DatasetError(ValueError):
    """A dataset directory or record does not match the documented format."""


@dataclass
class RefSample:
    """One prompt on one frame, with its answer (``points`` normalized to [0, 1])."""

    id: str
    scene_id: str
    split: str
    rgb: str
    depth: str
    mask: str
    intrinsics: Intrinsics
    camera_pose: np.ndarray
    prompt: str
    kind: str
    steps: int
    points: list[tuple[float, float]]
    target_id: int | None
    placement: bool
    grasp: dict[str, Any] | None
    objects: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    root: Path | None = None

    def to_record(self) -> dict[str, Any]:
        rec = {k: v for k, v in asdict(self).items() if k not in ("root", "extra",
                                                                   "intrinsics", "camera_pose")}
        rec["intrinsics"] = self.intrinsics.to_dict()
        rec["camera_pose"] = np.round(np.asarray(self.camera_pose), 6).tolist()
        rec["points"] = [[round(float(x), 6), round(float(y), 6)] for x, y in self.points]
        rec.update(self.extra)
        return rec

    @classmethod
    def from_record(cls, rec: dict[str, Any], root: Path | None = None,
                    where: str = "") -> RefSample:
        missing = [k for k in REQUIRED if k not in rec]
        if missing:
            raise DatasetError(f"{where}: record is missing field(s) {missing}")
        known = set(REQUIRED) | {"objects"}
        try:
            return cls(
                id=str(rec["id"]), scene_id=str(rec["scene_id"]), split=str(rec["split"]),
                rgb=rec["rgb"], depth=rec["depth"], mask=rec["mask"],
                intrinsics=Intrinsics.from_dict(rec["intrinsics"]),
                camera_pose=np.asarray(rec["camera_pose"], float).reshape(4, 4),
                prompt=str(rec["prompt"]), kind=str(rec["kind"]), steps=int(rec["steps"]),
                points=[(float(p[0]), float(p[1])) for p in rec["points"]],
                target_id=None if rec["target_id"] is None else int(rec["target_id"]),
                placement=bool(rec["placement"]), grasp=rec["grasp"],
                objects=rec.get("objects"),
                extra={k: v for k, v in rec.items() if k not in known}, root=root)
        except (TypeError, ValueError, KeyError) as exc:
            raise DatasetError(f"{where}: bad record: {exc}") from exc

    def target_object(self) -> dict[str, Any] | None:
        """The scene object the prompt refers to (its ``objects`` record); None for a
        free-space answer or a sample without objects (labelled bags)."""
        return next((o for o in self.objects or [] if o.get("id") == self.target_id), None)

    def _path(self, rel: str) -> Path:
        if self.root is None:
            raise DatasetError(f"sample {self.id}: no dataset root to resolve {rel!r}")
        return self.root / rel

    def load_rgb(self) -> np.ndarray:
        return np.asarray(Image.open(self._path(self.rgb)).convert("RGB"))

    def load_depth_mm(self) -> np.ndarray:
        return np.asarray(Image.open(self._path(self.depth)), dtype=np.uint16)

    def load_depth_m(self) -> np.ndarray:
        return self.load_depth_mm().astype(np.float32) * 0.001

    def load_mask(self) -> np.ndarray:
        return np.asarray(Image.open(self._path(self.mask))) > 127


def load_split(root: str | Path, split: str, limit: int | None = None) -> list[RefSample]:
    """Reads ``DIR/<split>.jsonl``; every record is validated, errors name file and line."""
    root = Path(root)
    path = root / f"{split}.jsonl"
    if not path.is_file():
        have = sorted(p.stem for p in root.glob("*.jsonl")) if root.is_dir() else []
        raise DatasetError(f"no split '{split}' in {root} (found: {have or 'nothing'})")
    out = []
    with path.open() as fh:
        for i, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{i}: invalid JSON: {exc}") from exc
            out.append(RefSample.from_record(rec, root, where=f"{path}:{i}"))
            if limit is not None and len(out) >= limit:
                break
    return out


def load_meta(root: str | Path) -> dict[str, Any]:
    path = Path(root) / "meta.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def write_meta(root: str | Path, meta: dict[str, Any]) -> None:
    path = Path(root) / "meta.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
    tmp.replace(path)


def save_png(path: Path, image: np.ndarray) -> None:
    """Writes 8-bit RGB, 8-bit gray or 16-bit gray PNGs (depth stays uint16 millimetres)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.asarray(image)
    if arr.dtype == np.uint16:
        Image.fromarray(arr, mode=None).save(path, compress_level=1)
    elif arr.dtype == np.bool_:
        Image.fromarray(arr.astype(np.uint8) * 255).save(path, compress_level=1)
    else:
        Image.fromarray(arr.astype(np.uint8)).save(path, compress_level=1)


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    """Atomic write: a crash never leaves a half-written shard that looks finished."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w") as fh:
        for r in records:
            fh.write(json.dumps(r, separators=(",", ":")) + "\n")
    tmp.replace(path)
