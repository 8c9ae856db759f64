"""Referring expressions as small programs over the scene graph, rendered from templates.

An expression is a ``Ref`` (which object) or a ``Place`` (which free region). Executing the
program on the graph (``resolve``) must give exactly the intended object; anything else is
ambiguous and rejected, so every generated prompt has one right answer. ``render`` turns the
program into varied wording from ``spatial_ros.data.vocab``; ``spatial_ros.data.parse`` reads
it back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spatial_ros.data import relations as rel
from spatial_ros.data import vocab
from spatial_ros.data.scene_graph import ObjectNode, SceneGraph

DIRECTIONAL = ("left_of", "right_of", "in_front_of", "behind")
SUPERLATIVE_RELATIONS = ("nearest_to", "farthest_from")


@dataclass(frozen=True)
class Ref:
    """Which object: attribute filters, then an optional relation to anchor objects, then an
    optional size word, superlative or ordinal selection.

    ``relation`` names come from ``relations.BINARY`` (e.g. ``left_of:camera``), or are
    ``between`` (two anchors), ``nearest_to`` / ``farthest_from`` (one anchor).
    """

    category: str | None = None
    colour: str | None = None
    size_word: str | None = None  # "big" | "small": the larger/smaller of exactly two
    relation: str | None = None
    anchors: tuple[Ref, ...] = ()
    select: str | None = None  # a key of relations.SUPERLATIVES
    ordinal: tuple[int, str] | None = None  # (k, "left" | "right")

    def ops(self) -> int:
        """Reasoning operations: relations, selections and those of the anchors."""
        own = int(self.relation is not None) + int(self.select is not None)
        own += int(self.ordinal is not None) + int(self.size_word is not None)
        return own + sum(a.ops() for a in self.anchors)

    def steps(self) -> int:
        return max(1, self.ops())

    def combos(self) -> set[tuple[str, str]]:
        """(colour, relation) pairs the expression uses, for held-out-combination splits."""
        out = set()
        if self.colour and self.relation:
            out.add((self.colour, self.relation.split(":")[0]))
        for a in self.anchors:
            out |= a.combos()
        return out


@dataclass(frozen=True)
class Place:
    """A free region: ``relation`` is a directional relation with view, ``between`` or
    ``inside``; ``anchors`` are the objects it is defined by."""

    relation: str
    anchors: tuple[Ref, ...]

    def steps(self) -> int:
        return 1 + sum(a.ops() for a in self.anchors)

    def combos(self) -> set[tuple[str, str]]:
        out = set()
        for a in self.anchors:
            out |= a.combos()
            if a.colour:
                out.add((a.colour, "place_" + self.relation.split(":")[0]))
        return out


class AmbiguousError(ValueError):
    """The expression does not pick out exactly one object."""


def _matches(o: ObjectNode, ref: Ref) -> bool:
    return ((ref.category is None or o.category == ref.category)
            and (ref.colour is None or o.colour == ref.colour))


def resolve(ref: Ref, g: SceneGraph, lenient: bool = False) -> list[ObjectNode]:
    """Every object the expression could mean (exactly one when it is unambiguous).

    ``lenient`` (for perception-built graphs): an ambiguous anchor is taken to be its best
    candidate instead of voiding the expression.
    """
    cands = [o for o in g.pool if _matches(o, ref)]
    if ref.relation is not None:
        if lenient:
            found = [resolve(a, g, lenient=True) for a in ref.anchors]
            anchors = [f[0] if f else None for f in found]
        else:
            anchors = [resolve_one(a, g) for a in ref.anchors]
        if any(a is None for a in anchors):
            return []
        cands = [c for c in cands if all(c is not a for a in anchors)]
        if ref.relation == "between":
            if len(anchors) != 2 or anchors[0] is anchors[1]:
                return []
            cands = [c for c in cands if rel.between(g, c, anchors[0], anchors[1])]
        elif ref.relation in SUPERLATIVE_RELATIONS:
            cands = rel.nearest_to(g, cands, anchors[0], ref.relation == "farthest_from")
        elif ref.relation in rel.BINARY:
            cands = [c for c in cands if rel.BINARY[ref.relation](g, c, anchors[0])]
        else:
            raise ValueError(f"unknown relation {ref.relation!r}")
    if ref.size_word is not None:
        if len(cands) != 2:
            return cands
        small, big = sorted(cands, key=lambda o: o.volume)
        if big.volume < small.volume * rel.MARGINS.volume_ratio:
            return cands
        cands = [big if ref.size_word == "big" else small]
    if ref.select is not None:
        cands = rel.superlative(g, cands, ref.select)
    if ref.ordinal is not None:
        cands = rel.ordinal(g, cands, *ref.ordinal)
    return cands


def resolve_one(ref: Ref, g: SceneGraph) -> ObjectNode | None:
    found = resolve(ref, g)
    return found[0] if len(found) == 1 else None


def anchor_objects(ref: Ref | Place, g: SceneGraph) -> list[ObjectNode]:
    """All objects an expression mentions (anchors, recursively)."""
    out = []
    for a in ref.anchors:
        o = resolve_one(a, g)
        if o is not None:
            out.append(o)
        out += anchor_objects(a, g)
    return out


def expression_from_dict(d: dict) -> Ref | Place:
    """The inverse of a sample record's ``program`` (``dataclasses.asdict`` plus ``type``)."""
    anchors = tuple(expression_from_dict({**a, "type": "Ref"}) for a in d.get("anchors", ()))
    if d.get("type") == "Place":
        return Place(relation=d["relation"], anchors=anchors)
    ordinal = d.get("ordinal")
    return Ref(category=d.get("category"), colour=d.get("colour"),
               size_word=d.get("size_word"), relation=d.get("relation"), anchors=anchors,
               select=d.get("select"), ordinal=None if ordinal is None else tuple(ordinal))


def direct_anchors(expr: Ref | Place, g: SceneGraph) -> list[ObjectNode | None]:
    """The objects the expression's own relation is to (not its anchors' anchors), in
    mention order; None for an anchor that does not resolve to exactly one object."""
    return [resolve_one(a, g) for a in expr.anchors]


def is_unambiguous(ref: Ref, g: SceneGraph, target: ObjectNode) -> bool:
    """The expression resolves to exactly ``target`` and everything it mentions is clearly
    visible (a prompt about a barely visible anchor cannot be answered from the image)."""
    found = resolve(ref, g)
    if len(found) != 1 or found[0] is not target:
        return False
    referable = {o.id for o in g.referable}
    return target.id in referable and all(a.id in referable for a in anchor_objects(ref, g))


# ---------------------------------------------------------------- rendering


def _pick(rng: np.random.Generator, options) -> str:
    return options[int(rng.integers(len(options)))]


def render_np(ref: Ref, rng: np.random.Generator) -> str:
    """A noun phrase: ``the [ordinal|superlative] [size] [colour] noun [postfix] [relation]``."""
    words = ["the"]
    postfix = ""
    if ref.ordinal is not None:
        k, side = ref.ordinal
        words.append(vocab.ORDINAL_WORDS[k - 1])
        postfix = _pick(rng, vocab.ORDINAL_SIDES[side])
    elif ref.select is not None:
        prefix_ok = ref.select in vocab.SUPERLATIVE_PREFIX
        postfix_ok = ref.select in vocab.SUPERLATIVE_POSTFIX
        if prefix_ok and (not postfix_ok or rng.random() < 0.5):
            words.append(_pick(rng, vocab.SUPERLATIVE_PREFIX[ref.select]))
        else:
            postfix = _pick(rng, vocab.SUPERLATIVE_POSTFIX[ref.select])
    if ref.size_word is not None:
        words.append(_pick(rng, vocab.SIZE_WORDS[ref.size_word]))
    if ref.colour is not None:
        words.append(ref.colour)
    words.append(_pick(rng, vocab.nouns(ref.category)))
    if postfix:
        words.append(postfix)
    if ref.relation is not None:
        words.append(_relation_phrase(ref.relation, ref.anchors, rng, with_connector=True))
    return " ".join(w for w in words if w).replace(" ,", ",")


def _relation_phrase(relation: str, anchors: tuple[Ref, ...], rng: np.random.Generator,
                     with_connector: bool) -> str:
    name, _, view = relation.partition(":")
    parts = []
    if view == "robot" or (view == "camera" and rng.random() < 0.1):
        parts.append(", " + _pick(rng, vocab.VIEW_PHRASES[view]) + ",")
    elif with_connector:
        comparative = name in ("larger_than", "smaller_than", "taller_than")
        parts.append(_pick(rng, vocab.CONNECTORS[:3] if comparative else vocab.CONNECTORS))
    if name == "between":
        parts += [_pick(rng, vocab.BETWEEN_WORDS), render_np(anchors[0], rng),
                  _pick(rng, vocab.AND_WORDS), render_np(anchors[1], rng)]
    else:
        parts += [_pick(rng, vocab.RELATION_PHRASES[name]), render_np(anchors[0], rng)]
    return " ".join(p for p in parts if p).replace(" ,", ",")


def render_place(place: Place, rng: np.random.Generator) -> str:
    if place.relation == "inside":
        return (_pick(rng, vocab.INSIDE_PREFIXES) + _pick(rng, vocab.PLACE_INSIDE) + " "
                + render_np(place.anchors[0], rng))
    head = _pick(rng, vocab.PLACE_HEADS)
    text = head + " " + _relation_phrase(place.relation, place.anchors, rng, with_connector=False)
    return (_pick(rng, vocab.PLACE_PREFIXES) + text).replace(" ,", ",").strip()


def render(expr: Ref | Place, rng: np.random.Generator, graspable: bool = True,
           from_side: bool = False) -> str:
    """A full prompt (a command or a bare noun phrase) with randomized wording; "pick up"
    style verbs only for objects a gripper can take; ``from_side`` asks for a side grasp."""
    if isinstance(expr, Place):
        text = render_place(expr, rng)
    elif from_side:
        text = (_pick(rng, vocab.SIDE_GRASP_PREFIXES) + render_np(expr, rng) + " "
                + _pick(rng, vocab.SIDE_GRASP_PHRASES))
    else:
        prefixes = vocab.REFER_PREFIXES if graspable else vocab.POINT_PREFIXES
        text = _pick(rng, prefixes) + render_np(expr, rng)
        if rng.random() < 0.3:
            text += "."
    return text[0].upper() + text[1:]
