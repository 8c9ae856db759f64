"""A second look at the model's answer: does the object it points at look like what the
phrase names?

The model ranks image cells (``Prediction.candidates``). When its best cell is on the wrong
object, that object is usually of another colour or kind than the phrase says ("the yellow
cube" answered on an orange box). Depth and colour measure what stands under each candidate
without learned weights (``data.perceive``: table plane, clusters, HSV colour names, a shape
class from the cluster's size), and a candidate whose object contradicts the phrase's colour
or kind keeps only a share of its probability. A phrase with a relation, superlative,
ordinal or size word ("the cube behind the bowl", "the leftmost mug") is also read whole on
perception's scene graph (``data.expressions.resolve``, the geometric baseline's rule
program), and a candidate on an object it does not name keeps a share too
(``program_weight``); phrasings the rule parser cannot read stay the model's call. A place
("free spot") answer is checked against the region its words name, beside or between the
anchors perception finds (``perception.place_region``: a candidate outside it yields to one
inside), and for its clearance from the objects (``perception.free_space``: a spot too close
to an object moves the least distance that clears it).

A measurement can be wrong (perception names ~89 % of shape classes right on the executor's
frames), so a contradiction only down-weights, and the model's answer is overruled only when
it is contradicted and an object the model also ranked fits the words better and keeps more
probability (``choose``). When nothing the model ranked fits a plain "<colour> <kind>"
phrase and perception sees exactly one object that does, that object is the answer
(``unique_fit``; the result's check says ``source: perception``): the words alone name it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from spatial_ros.data import grasps
from spatial_ros.data.expressions import Place, Ref, resolve
from spatial_ros.data.parse import ParseError, parse
from spatial_ros.data.perceive import PerceiveConfig, Perceived, perceive
from spatial_ros.data.prediction import Prediction
from spatial_ros.data.samples import interior_point
from spatial_ros.data.scene_graph import ObjectNode
from spatial_ros.perception.free_space import FreeSpaceConfig, check_spot
from spatial_ros.perception.place_region import PlaceRegionConfig, choose_place_candidate

UNIQUE_CONFIDENCE = 0.5  # an answer from the unique-fit fallback: perception's, not ranked


@dataclass
class AttributeCheckConfig:
    enabled: bool = True
    #: how many of the model's ranked cells are looked at (an object spans 1-4 of its 80)
    candidates: int = 8
    #: a candidate whose object has another colour keeps this share of its probability
    #: (weights: a sweep on the rollouts and robots val splits, flat within +-0.1)
    colour_weight: float = 0.2
    #: ... a colour perception confuses with the named one under the sim's lighting (on the
    #: rollouts and robots val frames: white named gray 35 % of the time, pink purple 11 %,
    #: brown orange 7 %; every other colour >= 95 % right): a doubt, not a contradiction
    neighbour_colour_weight: float = 0.6
    neighbour_colours: tuple[tuple[str, str], ...] = (("white", "gray"), ("pink", "purple"),
                                                      ("brown", "orange"))
    #: ... another kind of object (shape class from its size)
    category_weight: float = 0.2
    #: ... no object at all under it (table, a robot link, a black object without depth)
    off_object_weight: float = 0.5
    #: ... an object that is not what the whole phrase names in the perceived scene, when
    #: the phrase has a relation, superlative, ordinal or size word ("the cup left of the
    #: bowl": ``data.expressions.resolve`` on perception's scene graph); nothing is
    #: down-weighted when perception resolves the phrase to nothing (a sweep on the v1,
    #: robots and rollouts val splits' such prompts, hits of 1,294: weight 1 / 0.5 / 0.3 /
    #: 0.2 / 0.1 / 0: 979 / 1,025 / 1,034 / 1,041 / 1,051 / 1,052)
    program_weight: float = 0.1
    #: a candidate pixel this close to an object's pixels is on that object
    search_px: int = 6
    #: a contradicted answer to a plain "<colour> <kind>" phrase, with nothing the model
    #: ranked fitting it (not even the object it would be overruled for), goes to the one
    #: perceived object that fits (when exactly one does; the result's check then says
    #: ``source: perception``)
    unique_fallback: bool = True
    perceive: PerceiveConfig = field(default_factory=PerceiveConfig)
    #: place answers: a candidate outside the region the words name yields to one inside
    place_region: PlaceRegionConfig = field(default_factory=PlaceRegionConfig)
    #: ... and a spot closer to an object than the clearance moves clear of it
    free_space: FreeSpaceConfig = field(default_factory=FreeSpaceConfig)

    def __post_init__(self) -> None:
        for name in ("colour_weight", "neighbour_colour_weight", "category_weight",
                     "off_object_weight", "program_weight"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"attribute check {name} must be in [0, 1], got "
                                 f"{getattr(self, name)}")
        if self.candidates < 1:
            raise ValueError(f"attribute check candidates must be >= 1, got {self.candidates}")
        if self.search_px < 0:
            raise ValueError(f"attribute check search_px must be >= 0, got {self.search_px}")


#: the parts of a phrase only the whole program can check (colour and kind are checked alone)
PROGRAM_PARTS = ("relation", "select", "ordinal", "size_word")


def checkable_ref(instruction: str) -> Ref | None:
    """The phrase's target as the rule parser reads it, when it says something perception
    can check: a colour, a kind, a relation, a superlative, an ordinal or a size word. None
    for place prompts, unreadable text and bare "it"/"the object"."""
    return _checkable(_program(instruction))


def _program(instruction: str) -> Ref | Place | None:
    try:
        return parse(instruction)
    except ParseError:
        return None


def _checkable(program: Ref | Place | None) -> Ref | None:
    if not isinstance(program, Ref):
        return None
    if program.colour is None and program.category is None and not _has_program(program):
        return None
    return program


def _has_program(ref: Ref) -> bool:
    return any(getattr(ref, part) is not None for part in PROGRAM_PARTS)


def resolved_ids(seen: Perceived, wanted: Ref) -> set[int] | None:
    """The perceived objects the whole phrase names (relations, superlatives, ordinals and
    size words read on perception's scene graph); None when there is nothing beyond colour
    and kind to read, or perception resolves the phrase to nothing."""
    if not _has_program(wanted):
        return None
    found = {o.id for o in resolve(wanted, seen.graph, lenient=True)}
    return found or None


def image_boxes(labels: np.ndarray) -> dict[int, tuple[slice, slice]]:
    """Each perceived object's bounding box in the image (rows, cols)."""
    return {oid: b for oid, b in enumerate(ndimage.find_objects(labels + 1)) if b is not None}


def _smallest_box_around(boxes: dict, row: int, col: int, ids) -> int | None:
    around = [((b[0].stop - b[0].start) * (b[1].stop - b[1].start), oid)
              for oid, b in boxes.items() if oid in ids
              and b[0].start <= row < b[0].stop and b[1].start <= col < b[1].stop]
    return min(around)[1] if around else None


def _pixel(shape: tuple[int, ...], u: float, v: float) -> tuple[int, int]:
    """(col, row) of the pixel nearest (u, v), inside an image of ``shape`` (rows, cols)."""
    h, w = shape[:2]
    return int(np.clip(round(u), 0, w - 1)), int(np.clip(round(v), 0, h - 1))


def object_under(labels: np.ndarray, u: float, v: float, radius: int,
                 boxes: dict | None = None) -> int | None:
    """The perceived object id at pixel (u, v); else the most common one within ``radius``;
    else the smallest object whose image box holds the pixel (a container's floor stands too
    low to be "object", but it is inside the container)."""
    col, row = _pixel(labels.shape, u, v)
    if labels[row, col] >= 0:
        return int(labels[row, col])
    patch = labels[max(row - radius, 0):row + radius + 1, max(col - radius, 0):col + radius + 1]
    ids = patch[patch >= 0]
    if ids.size:
        return int(np.bincount(ids).argmax())
    boxes = image_boxes(labels) if boxes is None else boxes
    return _smallest_box_around(boxes, row, col, boxes.keys())


def container_around(seen: Perceived, u: float, v: float, inner: int | None,
                     boxes: dict) -> int | None:
    """The smallest perceived container (box, bowl) other than ``inner`` whose image box
    holds pixel (u, v): for "the box", a point on what stands in it points at it too."""
    col, row = _pixel(seen.labels.shape, u, v)
    ids = {o.id for o in seen.graph.objects if o.is_container and o.id != inner}
    return _smallest_box_around(boxes, row, col, ids)


def attribute_weight(obj: ObjectNode | None, wanted: Ref, cfg: AttributeCheckConfig) -> float:
    """How much of a candidate's probability survives what its object looks like."""
    if obj is None:
        return cfg.off_object_weight
    weight = 1.0
    if wanted.colour is not None and wanted.colour != obj.colour:
        pair = {wanted.colour, obj.colour}
        weight *= (cfg.neighbour_colour_weight
                   if any(pair == set(n) for n in cfg.neighbour_colours) else cfg.colour_weight)
    if wanted.category is not None and wanted.category != obj.category:
        weight *= cfg.category_weight
    return weight


@dataclass
class Ranked:
    """One object (or one off-object candidate) with the model's probability on it."""

    index: int  # its best candidate in the model's order
    object_id: int | None
    probability: float  # the model's probability summed over its candidates
    weight: float  # attribute_weight

    @property
    def score(self) -> float:
        return self.probability * self.weight


def candidate_weight(obj: ObjectNode | None, wanted: Ref, cfg: AttributeCheckConfig,
                     resolved: set[int] | None) -> float:
    """``attribute_weight``, times ``program_weight`` for what the whole phrase does not name
    in the perceived scene (``resolved_ids``; no object is not what it names either)."""
    weight = attribute_weight(obj, wanted, cfg)
    if resolved is not None and (obj is None or obj.id not in resolved):
        weight *= cfg.program_weight
    return weight


def rank_candidates(candidates: list[tuple[float, float, float]], seen: Perceived,
                    wanted: Ref, cfg: AttributeCheckConfig,
                    resolved: set[int] | None = None) -> list[Ranked]:
    """The model's candidates grouped by the object under them, best score first (ties keep
    the model's order). A candidate on something standing in a container counts for the
    container when that fits the words better ("the box" answered on the cube in it).
    ``resolved``: the objects perception reads the whole phrase as (``resolved_ids``)."""
    h, w = seen.labels.shape
    nodes = {o.id: o for o in seen.graph.objects}
    boxes = image_boxes(seen.labels)
    groups: dict[object, Ranked] = {}
    for i, (x, y, p) in enumerate(candidates):
        u, v = x * w - 0.5, y * h - 0.5
        oid = object_under(seen.labels, u, v, cfg.search_px, boxes)
        weight = candidate_weight(nodes.get(oid), wanted, cfg, resolved)
        outer = container_around(seen, u, v, oid, boxes) if weight < 1.0 else None
        if outer is not None:
            outer_weight = candidate_weight(nodes[outer], wanted, cfg, resolved)
            if outer_weight > weight:
                oid, weight = outer, outer_weight
        key = oid if oid is not None else ("off", i)
        if key in groups:
            groups[key].probability += float(p)
        else:
            groups[key] = Ranked(i, oid, float(p), weight)
    return sorted(groups.values(), key=lambda r: (-r.score, r.index))


def choose(ranked: list[Ranked]) -> tuple[Ranked, Ranked]:
    """(the answer, the model's own): the model's own unless what stands under it
    contradicts the words and another object it ranked fits them better and outscores it
    (an object: a candidate on the bare table or a robot link is never the answer).
    An uncontradicted answer stands even when more of the model's probability lies on
    another object that fits as well: the model's first cell is its answer."""
    first = next(r for r in ranked if r.index == 0)
    # never onto no object: the phrase names one, and an empty grasp helps nobody
    better = [r for r in ranked if r.weight > first.weight and r.object_id is not None]
    if first.weight >= 1.0 or not better or better[0].score <= first.score:
        return first, first
    return better[0], first


class AttributeCheckedReferrer:
    """A referrer (the model) whose answer is checked against the phrase's colour and kind;
    same ``predict`` interface, so the pipeline, the node and the benchmarks take it as is.
    ``last_check`` says what the check saw and did, for logs and reports."""

    def __init__(self, referrer, cfg: AttributeCheckConfig | None = None,
                 max_gripper_width: float = 0.085) -> None:
        self.referrer = referrer
        self.cfg = cfg or AttributeCheckConfig()
        self.max_gripper_width = max_gripper_width
        self.camera_pose: np.ndarray | None = None
        self.last_check: dict = {}

    def set_camera_pose(self, camera_pose: np.ndarray | None) -> None:
        self.camera_pose = None if camera_pose is None else np.asarray(camera_pose, float)
        inner = getattr(self.referrer, "set_camera_pose", None)
        if callable(inner):
            inner(camera_pose)

    def predict(self, rgb: np.ndarray, depth_m: np.ndarray, intrinsics,
                instruction: str) -> Prediction:
        pred = self.referrer.predict(rgb, depth_m, intrinsics, instruction,
                                     candidates=self.cfg.candidates)
        self.last_check = {}
        program = _program(instruction) if self.cfg.enabled else None
        if isinstance(program, Place):
            return self._check_place(pred, program, rgb, depth_m, intrinsics)
        wanted = _checkable(program)
        if wanted is None or len(pred.candidates) < 2:
            return pred
        t0 = time.perf_counter()
        seen = self._perceive(rgb, depth_m, intrinsics)
        if seen is None:
            return pred
        resolved = resolved_ids(seen, wanted)
        ranked = rank_candidates(pred.candidates, seen, wanted, self.cfg, resolved)
        best, first = choose(ranked)
        nodes = {o.id: o for o in seen.graph.objects}
        h, w = seen.labels.shape
        answer = None  # (pixel, object, confidence) when the model's answer is overruled
        only = (unique_fit(seen, wanted, self.cfg)
                if best.weight < 1.0 and self.cfg.unique_fallback else None)
        if only is not None:  # nothing the model ranked fits; one object seen does
            answer = (interior_point(seen.labels == only.id), only, UNIQUE_CONFIDENCE)
        elif best.index != 0:
            x, y, _ = pred.candidates[best.index]
            total = sum(r.score for r in ranked)
            answer = ((x * w - 0.5, y * h - 0.5), nodes[best.object_id],
                      best.score / max(total, 1e-9))
        self.last_check = {
            "wanted": " ".join(filter(None, (wanted.colour, wanted.category))),
            "model_object": _describe(nodes.get(first.object_id)),
            "chosen_object": _describe(answer[1] if answer else nodes.get(first.object_id)),
            # what perception reads the whole phrase as (empty without a relation, superlative,
            # ordinal or size word, or when it reads it as nothing)
            "resolved": [_describe(nodes[i]) for i in sorted(resolved or ())],
            "model_fits": first.weight >= 1.0,
            # why the model's answer does not fit: its colour or kind, or (fitting those)
            # not being what the relation, superlative, ordinal or size word picks out
            "misfit": (None if first.weight >= 1.0 else "colour or kind"
                       if attribute_weight(nodes.get(first.object_id), wanted, self.cfg) < 1.0
                       else "relation"),
            # the answer's object has the phrase's colour and kind, and is what the whole
            # phrase names (as far as perception can tell): the executor trusts an
            # unconfirmed anchor less than a confirmed one
            "chosen_fits": only is not None or best.weight >= 1.0,
            "overruled": answer is not None,
            "source": "perception" if only is not None else "model"}
        pred.timings = {**pred.timings, "check_ms": 1e3 * (time.perf_counter() - t0)}
        if answer is None:
            return pred
        (u, v), node, confidence = answer
        if pred.instruction_score is not None:  # as the model's own: times P(a request)
            confidence *= pred.instruction_score
        out = Prediction.from_px(u, v, w, h, confidence=confidence, timings=pred.timings,
                                 candidates=pred.candidates, grasp_approach=pred.grasp_approach,
                                 instruction_score=pred.instruction_score)
        # the model's own grasp belongs to the object it chose: the same kind, on this one
        # (from above where a side grasp does not fit it: too flat or too wide across)
        grasp = None
        if pred.grasp_approach == "side":
            grasp = grasps.side_grasp(node, seen.graph.camera_pose[:3, 3],
                                      self.max_gripper_width)
        if grasp is None:
            out.grasp_approach = "top"
            grasp = grasps.top_down_grasp(node, self.max_gripper_width)
        if grasp is not None:
            cam = grasps.to_camera(grasp, seen.graph)
            out.rotation, out.gripper_width, out.position = cam.rotation, cam.width, \
                cam.position
        return out

    def _perceive(self, rgb: np.ndarray, depth_m: np.ndarray, intrinsics) -> Perceived | None:
        try:
            return perceive(rgb, depth_m, intrinsics, self.camera_pose, self.cfg.perceive)
        except ValueError as exc:  # no table in view: nothing to check against
            self.last_check = {"skipped": str(exc)}
            return None

    def _check_place(self, pred: Prediction, place: Place, rgb: np.ndarray,
                     depth_m: np.ndarray, intrinsics) -> Prediction:
        """The model's place answer, or its best other candidate when the answer is not where
        the words put it (``place_region``); then, on free table, moved clear of objects
        when it is too close to one (``free_space``)."""
        region_on = self.cfg.place_region.enabled
        free_on = self.cfg.free_space.enabled and place.relation != "inside"
        if not (region_on or free_on):
            return pred
        t0 = time.perf_counter()
        seen = self._perceive(rgb, depth_m, intrinsics)
        if seen is None:
            return pred
        h, w = seen.labels.shape
        u, v = (float(c) for c in pred.point_px)
        confidence = pred.confidence
        if region_on:
            region = choose_place_candidate(pred.candidates, seen, intrinsics, place,
                                            self.cfg.place_region)
            index = region.index
            self.last_check.update({
                "place_region": True,
                "anchors": [_describe(a) for a in region.anchors],
                "region_seen": region.region is not None,
                "model_in_region": region.inside[0] if region.inside else None,
                "relation": place.relation,
                "overruled": index != 0})
            if index != 0:  # the model's own next answer, where the words put it
                x, y, _ = pred.candidates[index]
                u, v, confidence = x * w - 0.5, y * h - 0.5, region.share
                self.last_check["candidate"] = index
        if free_on:
            spot = check_spot(seen, depth_m, intrinsics, u, v, self.cfg.free_space)
            self.last_check.update({
                "free_space": True, "moved_cm": round(100 * spot.moved_m, 1),
                # None: the ray misses the table, or nothing stands on it
                "clearance_cm": (round(100 * spot.clearance_m, 1)
                                 if np.isfinite(spot.clearance_m) else None),
                "clear": spot.found})
            u, v = spot.point_px
        self.last_check.setdefault("overruled", False)
        pred.timings = {**pred.timings, "check_ms": 1e3 * (time.perf_counter() - t0)}
        if (u, v) == tuple(float(c) for c in pred.point_px):
            return pred
        self.last_check["model_point_px"] = [round(c, 1) for c in map(float, pred.point_px)]
        # the model's 3D estimate belongs to its own spot: the new one is back-projected
        return Prediction.from_px(u, v, w, h, confidence=confidence, rotation=pred.rotation,
                                  gripper_width=pred.gripper_width, timings=pred.timings,
                                  candidates=pred.candidates)


def unique_fit(seen: Perceived, wanted: Ref, cfg: AttributeCheckConfig) -> ObjectNode | None:
    """The one perceived object that fits a plain "<colour> <kind>" phrase, when exactly one
    does: the words then name it whatever the model ranked. None for phrases with relations,
    ordinals, superlatives or size words (only the model reads those) and when none or
    several fit."""
    plain = (wanted.relation is None and wanted.select is None and wanted.ordinal is None
             and wanted.size_word is None and wanted.colour is not None
             and wanted.category is not None)
    if not plain:
        return None
    fits = [o for o in seen.graph.objects if attribute_weight(o, wanted, cfg) >= 1.0]
    return fits[0] if len(fits) == 1 else None


def _describe(obj: ObjectNode | None) -> str:
    return "nothing" if obj is None else f"{obj.colour} {obj.category}"
