"""Dataset samples of one rendered scene: prompts, answer masks/points and grasps.

Several prompts share one render (rendering dominates the cost). Each prompt is an
unambiguous program from ``templates``; its answer is the target's visible mask (objects) or
the free region (placement), its point the mask's most interior pixel (objects) or the
region's recommended point (placement), and graspable targets get a top-down 7-DoF grasp in
the camera frame.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from spatial_ros.data import grasps, templates
from spatial_ros.data.expressions import Place, Ref, render, resolve_one
from spatial_ros.data.placement import region_mask
from spatial_ros.data.scene_graph import SceneGraph

# (colour, relation) pairs held out of train/val/test and used only by the "unseen" split.
HELD_OUT: tuple[tuple[str, str], ...] = (
    ("red", "left_of"), ("blue", "behind"), ("green", "right_of"), ("yellow", "in_front_of"),
    ("white", "near"), ("purple", "nearest_to"), ("orange", "place_right_of"),
    ("gray", "place_between"),
)

DEFAULT_WEIGHTS = {k: 1.0 for k in templates.KINDS} | {
    "multistep": 4.0, "rel_left_right": 1.5, "rel_front_behind": 1.5, "rel_robot_view": 1.5,
    "between": 1.5, "place_relation": 1.5, "place_between": 1.5, "ordinal": 1.5,
    "grasp_side": 0.0,  # a task kind for policy-head fine-tuning (docs/model.md), not in v1
}


@dataclass
class SampleConfig:
    prompts_per_scene: int = 12
    attempts_per_prompt: int = 4
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    held_out: list[tuple[str, str]] = field(default_factory=lambda: list(HELD_OUT))
    max_gripper_width: float = 0.085
    include_objects: bool = True
    robot_view: bool = True  # False (unknown extrinsics): no prompt uses the robot's view


@dataclass
class Answer:
    expr: Ref | Place
    kind: str
    prompt: str
    mask: np.ndarray
    point_px: tuple[float, float]
    target_id: int | None
    grasp: dict | None


def interior_point(mask: np.ndarray) -> tuple[float, float]:
    """The mask pixel farthest from the mask's border: a point that is clearly inside."""
    vs, us = np.nonzero(mask)
    v0, u0 = vs.min(), us.min()
    crop = mask[v0:vs.max() + 1, u0:us.max() + 1]
    dist = ndimage.distance_transform_edt(np.pad(crop, 1))[1:-1, 1:-1]
    v, u = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return float(u + u0), float(v + v0)


def _program(expr: Ref | Place) -> dict:
    d = dataclasses.asdict(expr)
    d["type"] = type(expr).__name__
    return d


def scene_answers(g: SceneGraph, intr, segmentation: np.ndarray, rng: np.random.Generator,
                  cfg: SampleConfig = SampleConfig(), split: str = "train") -> list[Answer]:
    """Up to ``prompts_per_scene`` distinct unambiguous prompts with their answers. The
    ``unseen`` split keeps only prompts with a held-out (colour, relation) combination; the
    others keep only prompts without one."""
    kinds = [k for k, w in cfg.weights.items() if w > 0]
    p = np.array([cfg.weights[k] for k in kinds], float)
    p /= p.sum()
    held = {tuple(c) for c in cfg.held_out}
    want_unseen = split == "unseen"
    out: list[Answer] = []
    seen: set = set()
    attempts = cfg.prompts_per_scene * cfg.attempts_per_prompt * (6 if want_unseen else 1)
    for _ in range(attempts):
        if len(out) >= cfg.prompts_per_scene:
            break
        kind = str(rng.choice(kinds, p=p))
        found = templates.propose(g, kind, rng)
        if found is None:
            continue
        expr, target = found
        if expr in seen or (bool(expr.combos() & held) != want_unseen):
            continue
        if not cfg.robot_view and "robot" in repr(expr):
            continue
        answer = _answer(g, intr, segmentation, expr, target, kind, rng, cfg)
        if answer is not None:
            seen.add(expr)
            out.append(answer)
    return out


def _answer(g, intr, segmentation, expr, target, kind, rng, cfg) -> Answer | None:
    if isinstance(expr, Place):
        anchors = [resolve_one(a, g) for a in expr.anchors]
        region = region_mask(g, intr, segmentation, expr.relation, anchors)
        if region is None:
            return None
        return Answer(expr, kind, render(expr, rng), region.mask, region.point_px, None, None)
    mask = segmentation == target.id
    if not mask.any():
        return None
    side = kind in templates.SIDE_GRASP_KINDS
    grasp = (grasps.side_grasp(target, g.camera_position, cfg.max_gripper_width) if side
             else grasps.top_down_grasp(target, cfg.max_gripper_width))
    grasp_d = grasps.to_camera(grasp, g).to_dict() if grasp is not None else None
    prompt = render(expr, rng, target.graspable, from_side=side)
    return Answer(expr, kind, prompt, mask, interior_point(mask), target.id, grasp_d)


def answer_record(a: Answer, sample_id: str, scene_id: str, split: str, intr,
                  g: SceneGraph, objects: list | None) -> dict:
    """The JSONL record of one answer (paths relative to the dataset root)."""
    w, h = intr.width, intr.height
    u, v = a.point_px
    rec = {
        "id": sample_id, "scene_id": scene_id, "split": split,
        "rgb": f"rgb/{scene_id}.png", "depth": f"depth/{scene_id}.png",
        "mask": f"mask/{sample_id}.png", "intrinsics": intr.to_dict(),
        "camera_pose": np.round(g.camera_pose, 6).tolist(), "prompt": a.prompt,
        "kind": a.kind, "steps": int(a.expr.steps()),
        "points": [[round((u + 0.5) / w, 6), round((v + 0.5) / h, 6)]],
        "target_id": a.target_id, "placement": isinstance(a.expr, Place), "grasp": a.grasp,
        "program": _program(a.expr),
        "combos": sorted("+".join(c) for c in a.expr.combos()),
    }
    if objects is not None:
        rec["objects"] = objects
    return rec
