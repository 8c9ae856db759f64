"""The geometric referrer: parse the instruction, perceive the scene, run the program.

No learned weights: open3d plane + DBSCAN clusters and HSV colour names build a scene graph
(``spatial_ros.data.perceive``), the rule parser turns the instruction into the same
program the generator used, and the scene-graph relations answer it. Grasps are top-down,
closing across the cluster's narrower side. When the program matches nothing it relaxes to
fewer constraints, so it always answers.
"""

from __future__ import annotations

import time

import numpy as np

from spatial_ros.data import grasps
from spatial_ros.data.expressions import Place, Ref, resolve
from spatial_ros.data.parse import ParseError, parse
from spatial_ros.data.perceive import PerceiveConfig, perceive
from spatial_ros.data.placement import region_mask
from spatial_ros.data.prediction import Prediction
from spatial_ros.data.samples import interior_point
from spatial_ros.data.scene_graph import ObjectNode, SceneGraph


def best_match(ref: Ref, g: SceneGraph) -> tuple[ObjectNode | None, float]:
    """The perceived object a phrase names and a confidence; the program relaxes to fewer
    constraints until something matches (colour and kind, colour, kind, anything), each
    relaxation halving the confidence."""
    relaxed = [ref, Ref(category=ref.category, colour=ref.colour),
               Ref(colour=ref.colour), Ref(category=ref.category), Ref()]
    for i, r in enumerate(relaxed):
        found = resolve(r, g, lenient=True)
        if found:
            if r.select is None and r.ordinal is None and r.relation is None:
                found = sorted(found, key=lambda o: -o.pixels)
            return found[0], (1.0 / len(found)) * (0.5 ** i)
    return None, 0.0


def place_anchors(place: Place, g: SceneGraph) -> list[ObjectNode] | None:
    """The perceived objects a place phrase's anchors name (``best_match`` each); None when
    one names nothing or two name the same object."""
    anchors = [best_match(a, g)[0] for a in place.anchors]
    if any(a is None for a in anchors) or len({a.id for a in anchors}) < len(anchors):
        return None
    return anchors


class GeometricReferrer:
    def __init__(self, perceive_cfg: PerceiveConfig | None = None,
                 camera_pose: np.ndarray | None = None, max_gripper_width: float = 0.085):
        self.cfg = perceive_cfg or PerceiveConfig()
        self.camera_pose = camera_pose
        self.max_gripper_width = max_gripper_width

    def set_camera_pose(self, camera_pose: np.ndarray | None) -> None:
        """Camera optical -> robot base extrinsics; without them "the robot's left" is read
        in a table frame facing away from the camera."""
        self.camera_pose = None if camera_pose is None else np.asarray(camera_pose, float)

    def predict(self, rgb: np.ndarray, depth_m: np.ndarray, intrinsics,
                instruction: str) -> Prediction:
        h, w = np.asarray(depth_m).shape[:2]
        t0 = time.perf_counter()
        try:
            program = parse(instruction)
        except ParseError:
            return Prediction.from_norm(0.5, 0.5, w, h, confidence=0.0)
        t1 = time.perf_counter()
        seen = perceive(rgb, depth_m, intrinsics, self.camera_pose, self.cfg)
        t2 = time.perf_counter()
        g = seen.graph
        if isinstance(program, Place):
            pred = self._place(program, g, intrinsics, seen.labels, w, h)
        else:
            pred = self._refer(program, g, seen.labels, w, h)
        pred.timings = {"parse_s": t1 - t0, "perceive_s": t2 - t1,
                        "reason_s": time.perf_counter() - t2}
        return pred

    def _refer(self, ref: Ref, g: SceneGraph, labels: np.ndarray, w: int, h: int
               ) -> Prediction:
        target, conf = best_match(ref, g)
        if target is None:
            return Prediction.from_norm(0.5, 0.5, w, h, confidence=0.0)
        u, v = interior_point(labels == target.id)
        grasp = grasps.top_down_grasp(target, self.max_gripper_width)
        if grasp is None:
            return Prediction.from_px(u, v, w, h, confidence=conf)
        cam = grasps.to_camera(grasp, g)
        return Prediction.from_px(u, v, w, h, confidence=conf, rotation=cam.rotation,
                                  gripper_width=cam.width, position=cam.position)

    def _place(self, place: Place, g: SceneGraph, intr, labels: np.ndarray, w: int, h: int
               ) -> Prediction:
        anchors = place_anchors(place, g)
        if anchors is None:
            return Prediction.from_norm(0.5, 0.5, w, h, confidence=0.0)
        region = region_mask(g, intr, labels, place.relation, anchors)
        if region is None:
            if place.relation == "inside":
                u, v = anchors[0].centroid_px
                return Prediction.from_px(u, v, w, h, confidence=0.2)
            return Prediction.from_norm(0.5, 0.5, w, h, confidence=0.0)
        return Prediction.from_px(*region.point_px, w, h, confidence=0.8)
