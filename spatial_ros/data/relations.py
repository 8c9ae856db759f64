"""Spatial relations between scene-graph objects, computed in metric 3D.

Every predicate has a margin so that "left of" means clearly left of: an expression is only
generated when the relation holds with margin and every distractor clearly fails it.
Relation names take a view suffix where the viewer matters: ``left_of:camera``,
``behind:robot``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from spatial_ros.data.scene_graph import ObjectNode, SceneGraph


@dataclass(frozen=True)
class Margins:
    lateral: float = 0.03  # m, left/right and front/behind
    near: float = 0.15  # m between centres on the table plane
    height: float = 0.015  # m, taller / superlative height
    volume_ratio: float = 1.3  # larger / smaller
    distance: float = 0.03  # m, superlative distances must win by this much
    stack: float = 0.02  # m, "on" contact tolerance


MARGINS = Margins()
VIEWS = ("camera", "robot")


def lateral(g: SceneGraph, o: ObjectNode, view: str = "camera") -> float:
    """Signed position along the viewer's right axis (larger = more to the right)."""
    return float(o.position @ g.view_axes(view)[0])


def depth(g: SceneGraph, o: ObjectNode, view: str = "camera") -> float:
    """Signed position along the viewer's forward axis (larger = farther from the viewer)."""
    return float(o.position @ g.view_axes(view)[1])


def planar_distance(a: ObjectNode, b: ObjectNode) -> float:
    return float(np.linalg.norm((a.position - b.position)[:2]))


def distance(a: ObjectNode, b: ObjectNode) -> float:
    return float(np.linalg.norm(a.position - b.position))


def viewer_distance(g: SceneGraph, o: ObjectNode, view: str = "camera") -> float:
    p = g.viewer_position(view)
    if view == "robot":
        return float(np.linalg.norm((o.position - p)[:2]))
    return float(np.linalg.norm(o.position - p))


def left_of(g: SceneGraph, a: ObjectNode, b: ObjectNode, view: str = "camera") -> bool:
    return lateral(g, a, view) < lateral(g, b, view) - MARGINS.lateral


def right_of(g: SceneGraph, a: ObjectNode, b: ObjectNode, view: str = "camera") -> bool:
    return lateral(g, a, view) > lateral(g, b, view) + MARGINS.lateral


def in_front_of(g: SceneGraph, a: ObjectNode, b: ObjectNode, view: str = "camera") -> bool:
    """a is between the viewer and b (closer along the viewer's forward axis)."""
    return depth(g, a, view) < depth(g, b, view) - MARGINS.lateral


def behind(g: SceneGraph, a: ObjectNode, b: ObjectNode, view: str = "camera") -> bool:
    return depth(g, a, view) > depth(g, b, view) + MARGINS.lateral


def _overlap_xy(a: ObjectNode, b: ObjectNode) -> bool:
    blo, bhi = b.aabb
    return bool(np.all(a.position[:2] >= blo[:2]) and np.all(a.position[:2] <= bhi[:2]))


def on(g: SceneGraph, a: ObjectNode, b: ObjectNode) -> bool:
    """a rests on top of b: its centre is over b's footprint and its bottom touches b's top."""
    return _overlap_xy(a, b) and abs(a.bottom - b.top) < MARGINS.stack


def inside(g: SceneGraph, a: ObjectNode, b: ObjectNode) -> bool:
    """a is in container b: centre over b's footprint and bottom below b's rim."""
    return b.is_container and _overlap_xy(a, b) and a.bottom < b.top - MARGINS.stack


def near(g: SceneGraph, a: ObjectNode, b: ObjectNode) -> bool:
    return planar_distance(a, b) < MARGINS.near


def between(g: SceneGraph, a: ObjectNode, b: ObjectNode, c: ObjectNode) -> bool:
    """a lies on the table-plane segment from b to c, away from both ends, close to the line."""
    p, q, r = a.position[:2], b.position[:2], c.position[:2]
    d = r - q
    length = float(np.linalg.norm(d))
    if length < 1e-6:
        return False
    t = float((p - q) @ d) / length**2
    w = p - q
    off = abs(float(d[0] * w[1] - d[1] * w[0])) / length
    return 0.2 < t < 0.8 and off < max(0.04, 0.25 * length)


def larger_than(g: SceneGraph, a: ObjectNode, b: ObjectNode) -> bool:
    return a.volume > b.volume * MARGINS.volume_ratio


def smaller_than(g: SceneGraph, a: ObjectNode, b: ObjectNode) -> bool:
    return a.volume * MARGINS.volume_ratio < b.volume


def taller_than(g: SceneGraph, a: ObjectNode, b: ObjectNode) -> bool:
    return a.height > b.height + MARGINS.height


def _viewed(fn: Callable, view: str) -> Callable:
    return lambda g, a, b: fn(g, a, b, view)


BINARY: dict[str, Callable[[SceneGraph, ObjectNode, ObjectNode], bool]] = {
    "on": on, "inside": inside, "near": near, "larger_than": larger_than,
    "smaller_than": smaller_than, "taller_than": taller_than,
}
for _view in VIEWS:
    for _name, _fn in (("left_of", left_of), ("right_of", right_of),
                       ("in_front_of", in_front_of), ("behind", behind)):
        BINARY[f"{_name}:{_view}"] = _viewed(_fn, _view)

# Superlatives: key function, 'min' or 'max', and the margin the winner must keep.
SUPERLATIVES: dict[str, tuple[Callable[[SceneGraph, ObjectNode], float], str, float]] = {
    "largest": (lambda g, o: float(np.log(o.volume)), "max", float(np.log(MARGINS.volume_ratio))),
    "smallest": (lambda g, o: float(np.log(o.volume)), "min", float(np.log(MARGINS.volume_ratio))),
    "tallest": (lambda g, o: o.height, "max", MARGINS.height),
    "shortest": (lambda g, o: o.height, "min", MARGINS.height),
    "leftmost": (lambda g, o: lateral(g, o, "camera"), "min", MARGINS.lateral),
    "rightmost": (lambda g, o: lateral(g, o, "camera"), "max", MARGINS.lateral),
    "closest_camera": (lambda g, o: viewer_distance(g, o, "camera"), "min", MARGINS.distance),
    "farthest_camera": (lambda g, o: viewer_distance(g, o, "camera"), "max", MARGINS.distance),
    "closest_robot": (lambda g, o: viewer_distance(g, o, "robot"), "min", MARGINS.distance),
    "farthest_robot": (lambda g, o: viewer_distance(g, o, "robot"), "max", MARGINS.distance),
}


def select_extreme(g: SceneGraph, objs: list[ObjectNode], key: Callable[..., float],
                   mode: str, margin: float) -> list[ObjectNode]:
    """The winner of a superlative, or every tied candidate when no one wins by ``margin``."""
    if len(objs) <= 1:
        return list(objs)
    sign = 1.0 if mode == "min" else -1.0
    scored = sorted(objs, key=lambda o: sign * key(g, o))
    best = sign * key(g, scored[0])
    return [o for o in scored if sign * key(g, o) - best < margin]


def superlative(g: SceneGraph, objs: list[ObjectNode], name: str) -> list[ObjectNode]:
    if name not in SUPERLATIVES:
        raise ValueError(f"unknown superlative {name!r}; known: {sorted(SUPERLATIVES)}")
    key, mode, margin = SUPERLATIVES[name]
    return select_extreme(g, objs, key, mode, margin)


def nearest_to(g: SceneGraph, objs: list[ObjectNode], anchor: ObjectNode,
               farthest: bool = False) -> list[ObjectNode]:
    return select_extreme(g, objs, lambda _g, o: planar_distance(o, anchor),
                          "max" if farthest else "min", MARGINS.distance)


def ordinal(g: SceneGraph, objs: list[ObjectNode], k: int, side: str) -> list[ObjectNode]:
    """The k-th (1-based) object from the left/right in the camera view; ambiguous when
    neighbours are closer than the lateral margin."""
    if side not in ("left", "right"):
        raise ValueError(f"ordinal side must be 'left' or 'right', got {side!r}")
    if k < 1 or k > len(objs):
        return []
    sign = 1.0 if side == "left" else -1.0
    ordered = sorted(objs, key=lambda o: sign * lateral(g, o))
    xs = [sign * lateral(g, o) for o in ordered]
    gaps = np.diff(xs)
    lo = gaps[k - 2] if k >= 2 else np.inf
    hi = gaps[k - 1] if k - 1 < len(gaps) else np.inf
    if min(lo, hi) < MARGINS.lateral:
        return [ordered[i] for i in range(max(0, k - 2), min(len(ordered), k + 1))]
    return [ordered[k - 1]]


def relation_table(g: SceneGraph) -> list[tuple[int, str, int]]:
    """Every binary relation that holds between referable objects: (a_id, name, b_id)."""
    objs = g.referable
    return [(a.id, name, b.id) for a in objs for b in objs if a is not b
            for name, fn in BINARY.items() if fn(g, a, b)]
