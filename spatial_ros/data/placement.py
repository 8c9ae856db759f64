"""Free-space placement regions on the table ("the free spot to the right of the bowl").

A region is defined on the table plane in metric terms (a band beside the anchor, a stretch
of the segment between two anchors, a container's opening) minus everything within a
clearance of any object; its mask is that region seen through the camera: each pixel's ray
is intersected with the table plane, and pixels where an object hides the table are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spatial_ros.data.scene_graph import ObjectNode, SceneGraph
from spatial_ros.geometry.intrinsics import Intrinsics


@dataclass(frozen=True)
class PlacementConfig:
    gap: float = 0.02  # m between the anchor's side and the region's near edge
    reach: float = 0.16  # m, how far the band extends beyond the anchor
    clearance: float = 0.045  # m every region point keeps from any object's footprint
    table_margin: float = 0.04  # m kept from the table edge
    min_pixels: int = 60


@dataclass
class Region:
    mask: np.ndarray  # bool HxW
    point_px: tuple[float, float]  # (u, v) pixel centre of the recommended point, in the mask
    point_base: np.ndarray  # the same point on the table, base frame


def table_plane_points(g: SceneGraph, intr: Intrinsics) -> tuple[np.ndarray, np.ndarray]:
    """Base-frame (x, y) where each pixel's ray meets the table plane, and a validity mask
    (cached on the graph: several placement prompts share one frame)."""
    cached = getattr(g, "_table_xy", None)
    if cached is not None and cached[0] == (intr.width, intr.height):
        return cached[1], cached[2]
    u, v = np.meshgrid(np.arange(intr.width, dtype=float), np.arange(intr.height, dtype=float))
    rays = np.stack([(u - intr.cx) / intr.fx, (v - intr.cy) / intr.fy, np.ones_like(u)], -1)
    R, c = g.camera_pose[:3, :3], g.camera_pose[:3, 3]
    d = rays @ R.T
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (g.table_height - c[2]) / d[..., 2]
    ok = np.isfinite(t) & (t > 0)
    xy = c[:2] + np.where(ok, t, 0.0)[..., None] * d[..., :2]
    g._table_xy = ((intr.width, intr.height), xy, ok)
    return xy, ok


def footprint_distance(xy: np.ndarray, o: ObjectNode) -> np.ndarray:
    """Distance on the table plane from points (...,2) to an object's axis-aligned footprint."""
    lo, hi = o.aabb
    dx = np.maximum(np.maximum(lo[0] - xy[..., 0], xy[..., 0] - hi[0]), 0.0)
    dy = np.maximum(np.maximum(lo[1] - xy[..., 1], xy[..., 1] - hi[1]), 0.0)
    return np.hypot(dx, dy)


def _extent_along(o: ObjectNode, axis: np.ndarray) -> float:
    """Half the object's extent along a horizontal unit axis."""
    c = o.corners()[:, :2] - o.position[:2]
    return float(np.abs(c @ axis[:2]).max())


def _direction(g: SceneGraph, relation: str) -> np.ndarray:
    name, _, view = relation.partition(":")
    right, fwd = g.view_axes(view or "camera")
    return {"left_of": -right, "right_of": right, "in_front_of": -fwd, "behind": fwd}[name]


def region_mask(g: SceneGraph, intr: Intrinsics, segmentation: np.ndarray, relation: str,
                anchors: list[ObjectNode], cfg: PlacementConfig = PlacementConfig()
                ) -> Region | None:
    """The visible free region for a placement relation, or None when there is none."""
    if relation == "inside":
        return _inside_region(g, intr, segmentation, anchors[0], cfg)
    xy, ok = table_plane_points(g, intr)
    if relation == "between":
        a, b = anchors
        p, q = a.position[:2], b.position[:2]
        d = q - p
        length = float(np.linalg.norm(d))
        if length < 1e-6:
            return None
        t = ((xy - p) @ d) / length**2
        rel_xy = xy - p
        off = np.abs(d[0] * rel_xy[..., 1] - d[1] * rel_xy[..., 0]) / length
        inside = (t > 0.25) & (t < 0.75) & (off < max(0.03, 0.2 * length))
        ideal = (p + q) / 2.0
    else:
        anchor = anchors[0]
        axis = _direction(g, relation)
        perp = np.array([-axis[1], axis[0], 0.0])
        rel_xy = xy - anchor.position[:2]
        along = rel_xy @ axis[:2]
        across = np.abs(rel_xy @ perp[:2])
        near = _extent_along(anchor, axis) + cfg.gap
        half_width = max(0.05, _extent_along(anchor, perp))
        inside = (along > near) & (along < near + cfg.reach) & (across < half_width)
        ideal = anchor.position[:2] + axis[:2] * (near + cfg.clearance + 0.02)
    mask = ok & inside
    if g.table_bounds is not None:
        x0, x1, y0, y1 = g.table_bounds
        m = cfg.table_margin
        mask &= ((xy[..., 0] > x0 + m) & (xy[..., 0] < x1 - m)
                 & (xy[..., 1] > y0 + m) & (xy[..., 1] < y1 - m))
    if not mask.any():
        return None
    vs, us = np.nonzero(mask)
    keep = np.ones(len(vs), bool)
    for o in g.objects:
        keep &= footprint_distance(xy[vs, us], o) > cfg.clearance
    mask[vs[~keep], us[~keep]] = False
    object_ids = [o.id for o in g.objects]
    mask &= ~np.isin(segmentation, object_ids)  # table hidden behind an object
    if int(mask.sum()) < cfg.min_pixels:
        return None
    vs, us = np.nonzero(mask)
    k = int(np.argmin(np.linalg.norm(xy[vs, us] - ideal, axis=1)))
    point_base = np.array([*xy[vs[k], us[k]], g.table_height])
    return Region(mask, (float(us[k]), float(vs[k])), point_base)


def _inside_region(g: SceneGraph, intr: Intrinsics, segmentation: np.ndarray,
                   container: ObjectNode, cfg: PlacementConfig) -> Region | None:
    """A container's visible pixels; the point is its floor centre projected to the image."""
    if not container.is_container:
        return None
    mask = segmentation == container.id
    if int(mask.sum()) < cfg.min_pixels:
        return None
    floor = container.position.copy()
    floor[2] = container.bottom + 0.01
    pc = g.to_camera(floor[None])[0]
    u = intr.fx * pc[0] / pc[2] + intr.cx
    v = intr.fy * pc[1] / pc[2] + intr.cy
    vs, us = np.nonzero(mask)
    k = int(np.argmin((us - u) ** 2 + (vs - v) ** 2))
    return Region(mask, (float(us[k]), float(vs[k])), floor)
