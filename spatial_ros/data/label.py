"""``spatial-ros data label``: recorded real RGB-D -> referring samples, automatically.

Each frame of a rosbag2 goes through the geometric perception (table plane, DBSCAN object
clusters, HSV colour names, rule-based shape categories); the resulting scene graph feeds
the same expression generator as the simulator, and the masks come from the clusters.
Labels are only as good as that perception: review them before training on them. Without
known extrinsics (``camera_pose``) the frame is a table frame under the camera and
robot-view prompts are not generated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spatial_ros.data.bagio import read_rgbd_bag
from spatial_ros.data.dataset import load_meta, save_png, write_jsonl, write_meta
from spatial_ros.data.perceive import PerceiveConfig, perceive
from spatial_ros.data.samples import SampleConfig, answer_record, scene_answers

ROBOT_VIEW_KINDS = ("rel_robot_view", "place_robot_view", "sup_robot_distance")


@dataclass
class LabelConfig:
    namespace: str = "/camera/camera"
    every: int = 1
    prompts_per_frame: int = 8
    split: str = "real"
    camera_pose: list[list[float]] | None = None  # camera optical -> robot base, if known
    seed: int = 0
    perceive: PerceiveConfig = field(default_factory=PerceiveConfig)


def label_bag(bag: str | Path, out: str | Path, cfg: LabelConfig = LabelConfig()) -> dict:
    """Labels every ``cfg.every``-th frame of ``bag`` into dataset ``out``; returns counts."""
    if cfg.every < 1:
        raise ValueError(f"every must be >= 1, got {cfg.every}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scfg = SampleConfig(prompts_per_scene=cfg.prompts_per_frame, held_out=[],
                        robot_view=cfg.camera_pose is not None)
    if cfg.camera_pose is None:
        for k in ROBOT_VIEW_KINDS:
            scfg.weights[k] = 0.0
    pose = None if cfg.camera_pose is None else np.asarray(cfg.camera_pose, float)
    rng = np.random.default_rng(cfg.seed)
    records, frames, skipped = [], 0, 0
    bag_name = Path(bag).name.replace(".", "_")
    for i, f in enumerate(read_rgbd_bag(bag, cfg.namespace)):
        if i % cfg.every:
            continue
        frames += 1
        try:
            seen = perceive(f.rgb, f.depth_mm.astype(np.float32) * 0.001, f.intrinsics, pose,
                            cfg.perceive)
        except ValueError:
            skipped += 1
            continue
        answers = scene_answers(seen.graph, f.intrinsics, seen.labels, rng, scfg, "train")
        if not answers:
            skipped += 1
            continue
        sid = f"{bag_name}_{f.stamp_ns}"
        save_png(out / "rgb" / f"{sid}.png", f.rgb)
        save_png(out / "depth" / f"{sid}.png", f.depth_mm)
        objects = [o.to_dict() for o in seen.graph.objects]
        for k, a in enumerate(answers):
            sample_id = f"{sid}_{k:02d}"
            save_png(out / "mask" / f"{sample_id}.png", a.mask)
            rec = answer_record(a, sample_id, sid, cfg.split, f.intrinsics, seen.graph, objects)
            rec["source"] = {"bag": str(bag), "stamp_ns": f.stamp_ns, "auto_label": True}
            records.append(rec)
    write_jsonl(out / f"{cfg.split}.jsonl", records)
    meta = load_meta(out)
    meta.setdefault("counts", {})[cfg.split] = len(records)
    meta.setdefault("labelled_from", {})[cfg.split] = str(bag)
    write_meta(out, meta)
    return {"frames": frames, "skipped": skipped, "samples": len(records),
            "split": cfg.split, "out": str(out)}
