"""Expression generators, one per kind: each proposes a program for a random target and
keeps it only if it is unambiguous in the scene graph.

Kinds cover attributes, superlatives, ordinals, binary relations (camera and robot views),
between, comparisons, multi-step compositions (2-4 steps) and free-space placement.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from spatial_ros.data import grasps
from spatial_ros.data import relations as rel
from spatial_ros.data.expressions import (
    DIRECTIONAL,
    Place,
    Ref,
    is_unambiguous,
    resolve,
    resolve_one,
)
from spatial_ros.data.scene_graph import ObjectNode, SceneGraph

Generator = Callable[[SceneGraph, np.random.Generator], "tuple[Ref | Place, ObjectNode | None]"]


def _choice(rng: np.random.Generator, items: list):
    return items[int(rng.integers(len(items)))] if items else None


def attribute_ref(g: SceneGraph, o: ObjectNode, rng: np.random.Generator,
                  unique: bool = True) -> Ref | None:
    """A category/colour description of ``o``; unique=True returns only unambiguous ones."""
    options = [Ref(category=o.category), Ref(colour=o.colour),
               Ref(category=o.category, colour=o.colour)]
    rng.shuffle(options)
    if not unique:
        return options[0]
    for r in options:
        if is_unambiguous(r, g, o):
            return r
    return None


def _head(g: SceneGraph, o: ObjectNode, rng: np.random.Generator) -> Ref:
    """A head description for relation kinds, preferably one that is ambiguous on its own
    (so the relation is what singles the target out)."""
    options = [Ref(category=o.category), Ref(colour=o.colour), Ref(),
               Ref(category=o.category, colour=o.colour)]
    ambiguous = [r for r in options if len(resolve(r, g)) > 1]
    pool = ambiguous if ambiguous and rng.random() < 0.85 else options
    return pool[int(rng.integers(len(pool)))]


def _with(ref: Ref, **kw) -> Ref:
    d = {k: getattr(ref, k) for k in ("category", "colour", "size_word", "relation", "anchors",
                                      "select", "ordinal")}
    d.update(kw)
    return Ref(**d)


def gen_colour(g, rng):
    o = _choice(rng, g.referable)
    return Ref(colour=o.colour), o


def gen_category(g, rng):
    o = _choice(rng, g.referable)
    return Ref(category=o.category), o


def gen_colour_category(g, rng):
    o = _choice(rng, g.referable)
    return Ref(category=o.category, colour=o.colour), o


def gen_size_word(g, rng):
    o = _choice(rng, g.referable)
    base = Ref(category=o.category) if rng.random() < 0.6 else Ref(colour=o.colour)
    same = resolve(base, g)
    if len(same) != 2:
        return None, None
    big = max(same, key=lambda x: x.volume)
    return _with(base, size_word="big" if o is big else "small"), o


def _superlative_gen(names: tuple[str, ...]) -> Generator:
    def gen(g, rng):
        o = _choice(rng, g.referable)
        head = [Ref(), Ref(category=o.category), Ref(colour=o.colour)][int(rng.integers(3))]
        return _with(head, select=str(_choice(rng, list(names)))), o
    return gen


def gen_ordinal(g, rng):
    o = _choice(rng, g.referable)
    head = [Ref(), Ref(category=o.category), Ref(colour=o.colour)][int(rng.integers(3))]
    group = resolve(head, g)
    if len(group) < 3:
        return None, None
    side = "left" if rng.random() < 0.5 else "right"
    sign = 1.0 if side == "left" else -1.0
    order = sorted(group, key=lambda x: sign * rel.lateral(g, x))
    k = order.index(o) + 1
    if k > 5:
        return None, None
    return _with(head, ordinal=(k, side)), o


def _relation_gen(names: tuple[str, ...], view: str | None = "camera") -> Generator:
    def gen(g, rng):
        o = _choice(rng, g.referable)
        a = _choice(rng, [x for x in g.referable if x is not o])
        if a is None:
            return None, None
        name = str(_choice(rng, list(names)))
        relation = f"{name}:{view}" if view else name
        anchor = attribute_ref(g, a, rng)
        if anchor is None:
            return None, None
        return _with(_head(g, o, rng), relation=relation, anchors=(anchor,)), o
    return gen


def gen_between(g, rng):
    o = _choice(rng, g.referable)
    others = [x for x in g.referable if x is not o]
    if len(others) < 2:
        return None, None
    pairs = [(a, b) for i, a in enumerate(others) for b in others[i + 1:]
             if rel.between(g, o, a, b)]
    if not pairs:
        return None, None
    a, b = pairs[int(rng.integers(len(pairs)))]
    ra, rb = attribute_ref(g, a, rng), attribute_ref(g, b, rng)
    if ra is None or rb is None:
        return None, None
    return _with(_head(g, o, rng), relation="between", anchors=(ra, rb)), o


def _describe(g: SceneGraph, o: ObjectNode, depth: int, rng: np.random.Generator) -> Ref | None:
    """A chained description of ``o`` with ``depth`` nested relations (multi-step)."""
    if depth == 0:
        return attribute_ref(g, o, rng, unique=rng.random() < 0.5)
    for _ in range(6):
        a = _choice(rng, [x for x in g.referable if x is not o])
        if a is None:
            return None
        holding = [n for n, fn in rel.BINARY.items()
                   if n.split(":")[0] in (*DIRECTIONAL, "near") and fn(g, o, a)]
        if not holding:
            continue
        anchor = _describe(g, a, depth - 1, rng)
        if anchor is None or resolve_one(anchor, g) is not a:
            continue
        ref = _with(_head(g, o, rng), relation=str(_choice(rng, holding)), anchors=(anchor,))
        if len(resolve(ref, g)) > 1 and rng.random() < 0.7:  # add a superlative to finish
            for sup in rng.permutation(["closest_camera", "farthest_camera", "leftmost",
                                        "rightmost", "largest", "smallest", "tallest"]):
                cand = _with(ref, select=str(sup))
                if resolve_one(cand, g) is o:
                    return cand
        return ref
    return None


def gen_multistep(g, rng):
    o = _choice(rng, g.referable)
    ref = _describe(g, o, int(rng.integers(1, 4)), rng)
    if ref is None or not 2 <= ref.steps() <= 4:
        return None, None
    return ref, o


def _place_gen(names: tuple[str, ...], view: str) -> Generator:
    def gen(g, rng):
        a = _choice(rng, g.referable)
        anchor = attribute_ref(g, a, rng)
        if anchor is None:
            return None, None
        return Place(f"{_choice(rng, list(names))}:{view}", (anchor,)), None
    return gen


def gen_place_between(g, rng):
    objs = g.referable
    if len(objs) < 2:
        return None, None
    i, j = rng.choice(len(objs), 2, replace=False)
    ra, rb = attribute_ref(g, objs[i], rng), attribute_ref(g, objs[j], rng)
    if ra is None or rb is None:
        return None, None
    return Place("between", (ra, rb)), None


def gen_place_inside(g, rng):
    box = _choice(rng, [o for o in g.referable if o.is_container])
    if box is None:
        return None, None
    anchor = attribute_ref(g, box, rng)
    return (Place("inside", (anchor,)), None) if anchor is not None else (None, None)


def gen_side_grasp(g, rng):
    """An object to take from the side: one tall and narrow enough across the line of sight
    (``grasps.side_grasp``), named by an unambiguous attribute description."""
    o = _choice(rng, [o for o in g.referable
                      if grasps.side_grasp(o, g.camera_position) is not None])
    return (attribute_ref(g, o, rng), o) if o is not None else (None, None)


KINDS: dict[str, Generator] = {
    "attr_colour": gen_colour,
    "attr_category": gen_category,
    "attr_colour_category": gen_colour_category,
    "attr_size": gen_size_word,
    "sup_size": _superlative_gen(("largest", "smallest")),
    "sup_height": _superlative_gen(("tallest", "shortest")),
    "sup_camera_distance": _superlative_gen(("closest_camera", "farthest_camera")),
    "sup_lateral": _superlative_gen(("leftmost", "rightmost")),
    "sup_robot_distance": _superlative_gen(("closest_robot", "farthest_robot")),
    "ordinal": gen_ordinal,
    "rel_left_right": _relation_gen(("left_of", "right_of")),
    "rel_front_behind": _relation_gen(("in_front_of", "behind")),
    "rel_robot_view": _relation_gen(DIRECTIONAL, view="robot"),
    "rel_near": _relation_gen(("near",), view=None),
    "rel_nearest": _relation_gen(("nearest_to", "farthest_from"), view=None),
    "rel_compare": _relation_gen(("larger_than", "smaller_than", "taller_than"), view=None),
    "rel_on_inside": _relation_gen(("on", "inside"), view=None),
    "between": gen_between,
    "multistep": gen_multistep,
    "place_relation": _place_gen(DIRECTIONAL, "camera"),
    "place_robot_view": _place_gen(DIRECTIONAL, "robot"),
    "place_between": gen_place_between,
    "place_inside": gen_place_inside,
    "grasp_side": gen_side_grasp,
}
PLACEMENT_KINDS = ("place_relation", "place_robot_view", "place_between", "place_inside")
# kinds whose answer is a side grasp (prompt says so) instead of the default top-down one
SIDE_GRASP_KINDS = ("grasp_side",)


def propose(g: SceneGraph, kind: str, rng: np.random.Generator, tries: int = 12
            ) -> tuple[Ref | Place, ObjectNode | None] | None:
    """An unambiguous expression of ``kind`` for a random target, or None when the scene does
    not support one (placement regions are checked later, against the image)."""
    if kind not in KINDS:
        raise ValueError(f"unknown expression kind {kind!r}; known: {sorted(KINDS)}")
    if not g.referable:
        return None
    for _ in range(tries):
        expr, target = KINDS[kind](g, rng)
        if expr is None:
            continue
        if isinstance(expr, Place):
            anchors = [resolve_one(a, g) for a in expr.anchors]
            referable = {o.id for o in g.referable}
            if all(a is not None and a.id in referable for a in anchors) and \
                    len({a.id for a in anchors}) == len(anchors):
                return expr, None
        elif is_unambiguous(expr, g, target):
            return expr, target
    return None
