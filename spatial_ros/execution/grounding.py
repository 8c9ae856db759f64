"""Grounding a step's words in the scene: where to grasp, where to put it down.

Two grounders share one interface:
- ``GroundTruthGrounder``: the sim world's object poses, read through the data layer's own
  referring-expression parser and resolver (``data.parse`` / ``data.expressions``) on a
  scene graph of the current physics state. It is the oracle the benchmark compares with.
- ``PerceptionGrounder``: a fresh camera frame through ``perception.pipeline`` (the shipped
  model or the geometric baseline) for every call: closed loop, nothing is remembered.

"all the red objects" (``locate_all``): the ground-truth grounder lists every match; the
perception grounder grounds "the red object" again on a fresh frame after every placement
(repeated grounding), skipping results that already lie in the destination, until nothing
new is found or the configured maximum is reached.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, get_args

import numpy as np

from spatial_ros.data import expressions
from spatial_ros.data.grasps import top_down_grasp
from spatial_ros.data.parse import ParseError as RefParseError
from spatial_ros.data.parse import parse as parse_ref
from spatial_ros.data.placement import footprint_distance
from spatial_ros.data.scene_graph import ObjectNode, SceneGraph, camera_view_axes
from spatial_ros.execution.config import FootprintGraspMode

#: alternative place spots offered per place target (each costs IK solves when tried)
MAX_PLACE_SPOTS = 12
#: a depth footprint longer than this is not read as one object to grasp (a merged pair)
MAX_FOOTPRINT_GRASP_LENGTH = 0.15
FOOTPRINT_JAW_MARGIN = 0.01  # the jaws must open this much wider than the side they close on
FOOTPRINT_GRASP_MODES = get_args(FootprintGraspMode)

log = logging.getLogger(__name__)


class GroundingError(RuntimeError):
    """The phrase matches no object (or more than one) in the current frame."""


@dataclass
class Target:
    """A grasp (pick) or a surface point to put something on (place), base frame."""

    position: np.ndarray
    rotation: np.ndarray | None = None  # grasp frame: z approach, y closing
    width: float | None = None  # object width across the jaws
    object_id: int | None = None
    label: str = ""
    confidence: float = 1.0
    #: place targets: height of the surface the object will stand on, or rim to drop over.
    surface_z: float | None = None
    #: pick targets: where the object's underside is (to know how far below the TCP it hangs).
    bottom_z: float | None = None
    #: pick targets: other jaw orientations that also fit the object (tried when out of reach).
    alternatives: list[np.ndarray] = field(default_factory=list)
    #: place targets: other positions where the relation holds too, in the order to try them
    #: when the arm cannot reach ``position`` (the grounder knows the words, not the arm)
    spots: list[np.ndarray] = field(default_factory=list)
    #: pick targets: a second grasp of the same object read another way (perception: across
    #: its depth footprint), tried when a grasp of ``position`` / ``rotation`` came up empty
    retry: Target | None = None
    #: place targets: read off the anchor's depth footprint (its middle, or beside its edge)
    #: rather than off a single answered point
    footprint: bool = False
    #: place targets beside an anchor: where perception saw the anchor (``position`` is the
    #: spot beside it), so an answer on the object in the hand can be told from the anchor
    seen_at: np.ndarray | None = None
    #: place targets read off the anchor's depth footprint: the view they came from, which
    #: a later step with the same anchor can place against again (``Grounder.recall``)
    anchor_view: AnchorView | None = None


@dataclass
class AnchorView:
    """Where perception saw a place step's anchor: its depth footprint and the camera's
    view of "left" and "right" then. A multi-step task's later steps can place against it
    again when a fresh answer for the same words is doubtful (the task runner keeps one
    per anchor phrase)."""

    centre: np.ndarray  # footprint middle (x, y, z), base frame
    extent: np.ndarray  # footprint's axis-aligned (x, y) size
    top_z: float
    seen_at: np.ndarray  # the answered point
    #: camera-view relation -> horizontal unit vector; None without the camera's orientation
    directions: dict[str, np.ndarray] | None = None
    #: the attribute check found the phrase's colour and kind there (None: not checked)
    confirmed: bool | None = None


class Grounder(Protocol):
    def locate(self, phrase: str) -> Target: ...

    def locate_all(self, phrase: str, exclude: set[int]) -> list[Target]: ...

    def place_target(self, relation: str, anchor: str, held_id: int | None) -> Target: ...

    def recall(self, relation: str, anchor: str, view: AnchorView) -> Target: ...


PLACE_PROMPTS = {
    "in": "Put it inside {a}",
    "left_of": "Place it in the free spot to the left of {a}",
    "right_of": "Place it in the free spot to the right of {a}",
    "in_front_of": "Place it in the free spot in front of {a}",
    "behind": "Place it in the free spot behind {a}",
    "next_to": "Place it in the free spot to the right of {a}",
}
DIRECTIONS = ("left_of", "right_of", "in_front_of", "behind")
# half the width of what the hand holds when placing beside something and its size is not
# known (perception does not measure the held object; the benchmark's objects are 4-6 cm)
HELD_HALF_WIDTH = 0.03


def relation_directions(right: np.ndarray, fwd: np.ndarray) -> dict[str, np.ndarray]:
    """Horizontal unit vector of each beside-relation, from a viewer's (right, forward)."""
    return {"left_of": -right, "right_of": right, "in_front_of": -fwd, "behind": fwd}


def _singular(phrase: str) -> str:
    words = phrase.split()
    if words and words[-1].endswith(("xes", "ches", "shes")):  # boxes -> box
        words[-1] = words[-1][:-2]
    elif words and words[-1].endswith("s") and not words[-1].endswith("ss"):
        words[-1] = words[-1][:-1]
    return " ".join(words)


def top_grasp_target(o: ObjectNode, max_width: float) -> Target | None:
    """Top-down grasp at the object's centre, raised for tall objects so the fingers
    hold its upper part without the palm touching it."""
    g = top_down_grasp(o, max_width=max_width)
    if g is None:
        return None
    pos = g.position.copy()
    pos[2] = max(pos[2], o.top - 0.025)
    alternatives = []
    for i in (0, 1):  # closing across the object's other horizontal side, when it fits
        y = o.rotation[:, i].copy()
        y[2] = 0.0
        if np.linalg.norm(y) > 0.3 and o.size[i] + 0.01 <= max_width:
            y /= np.linalg.norm(y)
            z = np.array([0.0, 0.0, -1.0])
            alternatives.append(np.column_stack([np.cross(y, z), y, z]))
    return Target(pos, g.rotation, g.width - 0.01, o.id, f"the {o.colour} {o.category}",
                  bottom_z=o.bottom, alternatives=alternatives)


SceneSource = Callable[[], SceneGraph]


def world_scene(world, camera_pose_base: np.ndarray | None = None) -> SceneSource:
    """Scene graphs of a ``spatial_ros.sim.world.World``'s current physics state."""
    if camera_pose_base is None:  # the world's table camera: "left" as the camera sees it
        from spatial_ros.sim.camera_mount import table_camera_pose

        camera_pose_base = np.linalg.inv(world.base_pose) @ table_camera_pose(
            world.cfg.camera, world.base_pose)

    def scene() -> SceneGraph:
        world.refresh()
        base_inv = np.linalg.inv(world.base_pose)
        nodes = []
        for o in world.objects:
            pose = base_inv @ o.pose
            rot = np.eye(3) if o.category == "sphere" else pose[:3, :3]
            nodes.append(ObjectNode(o.id, o.category, o.colour, o.size, pose[:3, 3], rot,
                                    pixels=10_000, graspable=o.graspable,
                                    is_container=o.is_container, name=o.name))
        table_z = float(world.table_top_z - world.base_pose[2, 3])
        return SceneGraph(nodes, camera_pose_base, 640, 480, table_height=table_z)
    return scene


def truth_scene(objects: list[dict], camera_pose_base: np.ndarray,
                table_height: float) -> SceneGraph:
    """A scene graph from the sim node's ``/sim/objects`` records (base frame)."""
    from scipy.spatial.transform import Rotation

    nodes = []
    for o in objects:
        rot = Rotation.from_quat(o["quat_xyzw"]).as_matrix()
        if o["category"] == "sphere":
            rot = np.eye(3)
        nodes.append(ObjectNode(int(o["id"]), o["category"], o["colour"], tuple(o["size"]),
                                np.asarray(o["position"], float), rot, pixels=10_000,
                                graspable=bool(o["graspable"]),
                                is_container=bool(o["is_container"]), name=o["name"]))
    return SceneGraph(nodes, camera_pose_base, 640, 480, table_height=table_height)


class GroundTruthGrounder:
    """Resolves phrases on ground-truth scene graphs (sim world or /sim/objects)."""

    def __init__(self, scene, max_width: float = 0.08, gap: float = 0.03,
                 drop_clearance: float = 0.01) -> None:
        # a World is accepted directly for convenience
        self.scene: SceneSource = scene if callable(scene) else world_scene(scene)
        self.max_width = max_width
        self.gap = gap
        #: free distance kept between a dropped object and what already lies in a container
        self.drop_clearance = drop_clearance

    def graph(self) -> SceneGraph:
        return self.scene()

    def _resolve(self, phrase: str, g: SceneGraph) -> list[ObjectNode]:
        try:
            ref = parse_ref(phrase)
        except RefParseError as exc:
            raise GroundingError(f"cannot read '{phrase}': {exc}") from exc
        if not isinstance(ref, expressions.Ref):
            raise GroundingError(f"'{phrase}' names a place, not an object")
        return expressions.resolve(ref, g)

    def locate(self, phrase: str) -> Target:
        g = self.graph()
        found = self._resolve(phrase, g)
        if len(found) != 1:
            raise GroundingError(f"'{phrase}' matches {len(found)} objects "
                                 f"{[o.name for o in found]}")
        t = top_grasp_target(found[0], self.max_width)
        if t is None:
            raise GroundingError(f"'{phrase}' ({found[0].name}) cannot be grasped top-down")
        return t

    def locate_all(self, phrase: str, exclude: set[int]) -> list[Target]:
        g = self.graph()
        found = [o for o in self._resolve(_singular(phrase), g) if o.graspable]
        targets = [top_grasp_target(o, self.max_width) for o in found if o.id not in exclude]
        return [t for t in targets if t is not None]

    def place_target(self, relation: str, anchor: str, held_id: int | None) -> Target:
        g = self.graph()
        found = [o for o in self._resolve(anchor, g) if o.id != held_id]
        if len(found) != 1:
            raise GroundingError(f"place anchor '{anchor}' matches {len(found)} objects")
        a = found[0]
        held = next((o for o in g.objects if o.id == held_id), None)
        if relation == "in":
            # lower the object half its height below the rim: a shorter, gentler drop
            h = held.height if held is not None else 0.0
            spots = self._free_inside(g, a, held)
            return Target(spots[0], object_id=a.id, label=a.name, spots=spots[1:],
                          surface_z=max(a.bottom + 0.008, a.top - 0.5 * h))
        if relation == "on":
            return Target(a.position.copy(), object_id=a.id, label=a.name, surface_z=a.top)
        return self._beside(g, a, held, relation)

    def recall(self, relation: str, anchor: str, view: AnchorView) -> Target:
        """Ground truth is never confused: the anchor where it is now."""
        return self.place_target(relation, anchor, None)

    def _free_inside(self, g: SceneGraph, a: ObjectNode, held: ObjectNode | None
                     ) -> list[np.ndarray]:
        """Where in the container's opening to drop, best first: into an empty one at the
        end of its long axis nearer the robot (leaving room for more); else the spots that
        keep the held object clear of what already lies in it, nearest the robot first (the
        spot farthest from the contents was often on the far side, out of reach); else the
        spot farthest from those footprints."""
        inside = [o for o in g.objects if o.id not in (a.id, getattr(held, "id", None))
                  and np.all(np.abs((a.rotation.T @ (o.position - a.position))[:2])
                             < np.asarray(a.size[:2]) / 2)]
        half_held = 0.5 * max(held.size[:2]) if held is not None else 0.025
        margin = np.maximum(np.asarray(a.size[:2]) / 2 - half_held - 0.012, 0.0)
        if not inside:
            long_axis = int(np.argmax(a.size[:2]))
            local = np.zeros(3)
            local[long_axis] = margin[long_axis]
            ends = [a.position + a.rotation @ local, a.position - a.rotation @ local]
            return sorted(ends, key=lambda p: float(np.linalg.norm(p[:2])))
        u, v = (x.ravel() for x in np.meshgrid(np.linspace(-1.0, 1.0, 9),
                                                np.linspace(-1.0, 1.0, 9)))
        if a.category == "bowl":  # a round opening
            keep = np.hypot(u, v) <= 1.0
            u, v = u[keep], v[keep]
        spots = a.position + np.stack([u * margin[0], v * margin[1], 0 * u], 1) @ a.rotation.T
        clearance = np.min([footprint_distance(spots[:, :2], o) for o in inside], axis=0)
        clear = np.flatnonzero(clearance >= half_held + self.drop_clearance)
        if not len(clear):
            return [spots[int(np.argmax(clearance))]]
        order = clear[np.argsort(np.linalg.norm(spots[clear, :2], axis=1))]
        return list(spots[order[:MAX_PLACE_SPOTS + 1]])

    def _beside(self, g: SceneGraph, a: ObjectNode, held: ObjectNode | None,
                relation: str) -> Target:
        """The spot just beyond the anchor in the relation's direction (a little farther
        when something is in the way); the other clear spots where the relation holds as
        well (farther out, or slid along the anchor's side, which leaves "left of" true)
        follow as ``spots``, nearest the robot first."""
        dirs = relation_directions(*g.view_axes("camera"))
        options = [relation] if relation in dirs else list(DIRECTIONS)
        half_held = 0.5 * max(held.size[:2]) if held is not None else HELD_HALF_WIDTH
        others = [o for o in g.objects if o.id not in (a.id, getattr(held, "id", None))]
        corners = a.corners()[:, :2] - a.position[:2]
        straight, slid = [], []  # (clearance, position)
        for name in options:
            d = dirs[name]
            side_axis = np.array([-d[1], d[0]])
            reach_out = float(np.abs(corners @ d[:2]).max()) + half_held + self.gap
            side = float(np.abs(corners @ side_axis).max())
            for extra in (0.0, 0.03, 0.06):
                for slide in (0.0, 0.04, -0.04, 0.08, -0.08):
                    if abs(slide) > side + 0.02:
                        continue
                    p = a.position.copy()
                    p[:2] += d[:2] * (reach_out + extra) + side_axis * slide
                    p[2] = g.table_height
                    clear = min((np.linalg.norm(o.position[:2] - p[:2]) - 0.5 * max(o.size[:2])
                                 for o in others), default=1.0)
                    (slid if slide else straight).append((clear, p))
        free = half_held + 0.02
        best = next((c for c in straight if c[0] > free), None) or max(
            straight, key=lambda c: c[0])
        spots = sorted((p for c, p in straight + slid if c > free and p is not best[1]),
                       key=lambda p: float(np.linalg.norm(p[:2])))[:MAX_PLACE_SPOTS]
        return Target(best[1], object_id=a.id, label=a.name, surface_z=g.table_height,
                      spots=spots)


FrameSource = Callable[[], tuple]  # () -> (rgb, depth_m, intrinsics, CameraToBase)


def pipeline_asker(pipeline, frames: FrameSource) -> Callable[[str], object]:
    """``ask(prompt)`` running ``perception.pipeline`` in-process on a fresh frame."""
    def ask(prompt: str):
        rgb, depth_m, intr, ext = frames()
        return pipeline.run(rgb, depth_m, intr, prompt, extrinsics=ext)
    return ask


class PerceptionGrounder:
    """Asks perception about a fresh frame for every question. ``ask(prompt)`` returns a
    ``PerceptionResult``: in-process (``pipeline_asker``) or through the perception node."""

    def __init__(self, ask: Callable[[str], object], table_height: float = 0.0,
                 min_confidence: float = 0.0, max_width: float = 0.08,
                 place_beside: str = "anchor", gap: float = 0.03,
                 footprint_grasp: str = "first") -> None:
        if place_beside not in ("anchor", "model"):
            raise ValueError(f"place_beside must be 'anchor' or 'model', got {place_beside!r}")
        if footprint_grasp not in FOOTPRINT_GRASP_MODES:
            raise ValueError(f"footprint_grasp must be one of {FOOTPRINT_GRASP_MODES}, "
                             f"got {footprint_grasp!r}")
        self.ask_fn = ask
        self.footprint_grasp = footprint_grasp
        self.table_height = table_height
        self.min_confidence = min_confidence
        self.max_width = max_width
        self.place_beside = place_beside
        self.gap = gap
        self.frame_retries = 3
        self.retry_wait = 1.0
        self.last_results: list = []

    @classmethod
    def from_config(cls, ask: Callable[[str], object], cfg) -> PerceptionGrounder:
        """The grounder an ``ExecutorConfig`` describes (the node and the sim session)."""
        return cls(ask, cfg.envelope.table_height, cfg.runner.min_confidence,
                   cfg.gripper.open_width, cfg.runner.place_beside,
                   footprint_grasp=cfg.runner.footprint_grasp)

    def _ask(self, prompt: str):
        for attempt in range(self.frame_retries + 1):
            res = self.ask_fn(prompt)
            # no frame yet / a stale frame is transient: ask again a moment later
            if res is None or res.ok or "frame" not in (res.error or ""):
                break
            if attempt < self.frame_retries:
                time.sleep(self.retry_wait)
        if res is None:
            raise GroundingError(f"perception gave no answer to '{prompt}'")
        self.last_results.append(res)
        if not res.ok:
            raise GroundingError(f"perception could not ground '{prompt}': {res.error}")
        if res.confidence is not None and res.confidence < self.min_confidence:
            raise GroundingError(f"perception is unsure about '{prompt}' "
                                 f"(confidence {res.confidence:.2f})")
        if res.point_base is None:
            raise GroundingError(f"perception answered '{prompt}' without a base-frame point "
                                 "(no camera->base extrinsics?)")
        return res

    def locate(self, phrase: str) -> Target:
        from scipy.spatial.transform import Rotation

        res = self._ask(f"Pick up {phrase}")
        if res.grasp_base is not None:
            pos = np.asarray(res.grasp_base.position, dtype=float)
            rot = Rotation.from_quat(res.grasp_base.quaternion_xyzw).as_matrix()
            width = float(min(res.grasp_base.width_m, self.max_width))
        else:
            pos = np.asarray(res.point_base, dtype=float)
            rot, width = np.column_stack([[0, 1, 0], [1, 0, 0], [0, 0, -1]]).astype(float), None
        # a visible-surface point of a resting object: grasp no lower than just above table
        pos[2] = max(pos[2], self.table_height + 0.015)
        conf = float(res.confidence or 0.0)
        model = Target(pos, _top_down(rot), width, None, phrase, conf, bottom_z=self.table_height)
        across = (footprint_grasp(res.footprint_base, self.max_width, self.table_height)
                  if self.footprint_grasp != "off" else None)
        if across is None:
            return model
        across.label, across.confidence, across.bottom_z = phrase, conf, self.table_height
        # each reading offers the other's jaw directions when its own has no IK (pre-grasp),
        # and is the other's retry after an empty grasp
        first, second = (across, model) if self.footprint_grasp == "first" else (model, across)
        first.alternatives = [*first.alternatives, second.rotation, *second.alternatives]
        first.retry = second
        return first

    def locate_all(self, phrase: str, exclude: set[int]) -> list[Target]:
        try:
            return [self.locate("the " + _singular(phrase))]
        except GroundingError:
            return []

    def place_target(self, relation: str, anchor: str, held_id: int | None) -> Target:
        if relation == "on":
            res = self._ask(f"Point to {anchor}")
            p = np.asarray(res.point_base, dtype=float)
            return Target(p, label=anchor, surface_z=float(p[2]),
                          confidence=float(res.confidence or 0.0))
        if self.place_beside == "anchor":
            # the anchor itself, asked as an object (so the attribute check looks at it),
            # then the spot read off its depth footprint
            res = self._ask(f"Point to {anchor}")
            view = anchor_view(res)
            if view is not None and (relation == "in" or view.directions is not None):
                return self.recall(relation, anchor, view, float(res.confidence or 0.0))
            log.info("no footprint of '%s' to place against; asking for the spot", anchor)
        res = self._ask(PLACE_PROMPTS[relation].format(a=anchor))
        p = np.asarray(res.point_base, dtype=float)
        if relation != "in":
            surface = max(float(p[2]), self.table_height)
        elif res.footprint_base is not None:  # drop at the container's middle, above its rim
            fp = res.footprint_base
            p = np.array([fp["center"][0], fp["center"][1], max(float(p[2]), fp["center"][2])])
            return Target(p, label=anchor, surface_z=float(fp["top_z"]),
                          confidence=float(res.confidence or 0), footprint=True)
        else:  # no footprint (no depth around the point): trust the point, walls ~6 cm
            surface = float(p[2]) + 0.06
        return Target(p, label=anchor, surface_z=surface, confidence=float(res.confidence or 0))

    def recall(self, relation: str, anchor: str, view: AnchorView,
               confidence: float = 1.0) -> Target:
        """The place target for ``relation`` read off an anchor's footprint: into its
        middle above the rim ("in"), or just beyond its edge in the relation's direction as
        the camera saw it, with farther and slid spots (where the relation still holds)
        following as ``spots``."""
        if relation == "in":
            p = np.array([view.centre[0], view.centre[1],
                          max(float(view.seen_at[2]), float(view.centre[2]))])
            return Target(p, label=anchor, surface_z=view.top_z, confidence=confidence,
                          footprint=True, seen_at=view.seen_at, anchor_view=view)
        if view.directions is None:
            raise GroundingError(f"no camera orientation to place {relation} '{anchor}'")
        d = view.directions.get(relation, view.directions["right_of"])[:2]  # "next to"
        side = np.array([-d[1], d[0]])
        half = 0.5 * np.asarray(view.extent, dtype=float)  # axis-aligned in the base
        reach = float(np.abs(d) @ half) + HELD_HALF_WIDTH + self.gap
        along = float(np.abs(side) @ half) + 0.02  # slid no farther than the anchor's side
        centre = np.asarray(view.centre[:2], dtype=float)
        spots = []
        for extra in (0.0, 0.03, 0.06):
            for slide in (0.0, 0.04, -0.04, 0.08, -0.08):
                if abs(slide) <= along:
                    xy = centre + d * (reach + extra) + side * slide
                    spots.append(np.array([xy[0], xy[1], self.table_height]))
        return Target(spots[0], label=anchor, surface_z=self.table_height,
                      confidence=confidence, spots=spots[1:], footprint=True,
                      seen_at=view.seen_at, anchor_view=view)


def anchor_view(res) -> AnchorView | None:
    """The anchor as a perception result saw it; None without a depth footprint."""
    from scipy.spatial.transform import Rotation

    fp = res.footprint_base
    if fp is None:
        return None
    q = res.camera_quaternion_base
    dirs = (relation_directions(*camera_view_axes(Rotation.from_quat(q).as_matrix()))
            if q is not None else None)
    check = getattr(res, "check", None) or {}
    return AnchorView(np.asarray(fp["center"], dtype=float),
                      np.asarray(fp["extent"][:2], dtype=float), float(fp["top_z"]),
                      np.asarray(res.point_base, dtype=float), dirs,
                      check.get("chosen_fits"))


def footprint_grasp(fp: dict | None, max_width: float, table_height: float,
                    max_length: float = MAX_FOOTPRINT_GRASP_LENGTH) -> Target | None:
    """A top-down grasp from an object's depth footprint (``perception.footprint``): at the
    middle of its rectangle, closing across the narrow side (the other side as an
    alternative when it fits too), held at mid-height or 2.5 cm below the top of a tall one.
    None when the footprint has no rectangle (an older perception node) or is not one
    graspable object: wider than the jaws on both sides, or longer than ``max_length``
    (objects standing close together merge into one region)."""
    if fp is None or "size" not in fp or "yaw" not in fp:
        return None
    size, yaw = [float(v) for v in fp["size"]], float(fp["yaw"])
    if max(size) > max_length or min(size) + FOOTPRINT_JAW_MARGIN > max_width:
        return None
    sides = np.array([[np.cos(yaw), np.sin(yaw), 0.0], [-np.sin(yaw), np.cos(yaw), 0.0]])
    order = np.argsort(size)  # close across the narrow side first
    z = np.array([0.0, 0.0, -1.0])
    rotations = [np.column_stack([np.cross(sides[i], z), sides[i], z]) for i in order
                 if size[i] + FOOTPRINT_JAW_MARGIN <= max_width]
    centre, top = np.asarray(fp["center"], dtype=float), float(fp["top_z"])
    height = max(top - centre[2], 0.0)
    grasp_z = max(centre[2] + 0.5 * height, top - 0.025, table_height + 0.015)
    position = np.array([centre[0], centre[1], grasp_z])
    return Target(position, rotations[0], size[int(order[0])], alternatives=rotations[1:])


def _top_down(rot: np.ndarray) -> np.ndarray:
    """Keeps the predicted jaw direction but makes the approach exactly vertical: the
    skills approach from above, and a tilted predicted approach would only add error."""
    y = np.asarray(rot, dtype=float)[:, 1].copy()
    y[2] = 0.0
    if np.linalg.norm(y) < 1e-6:
        y = np.array([0.0, 1.0, 0.0])
    y /= np.linalg.norm(y)
    z = np.array([0.0, 0.0, -1.0])
    return np.column_stack([np.cross(y, z), y, z])
