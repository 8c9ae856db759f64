"""A second look at a place answer: is the spot the model chose free?

"A free spot left of the bowl" asks for table that keeps a clearance from every object (the
data's placement regions keep 4.5 cm). The model is more often right about *where* (which
side of which anchor) than about *how far* from the neighbours: on the test split, 25 of its
38 place answers that miss the free region by at most 10 px lie closer than 4.5 cm to an
object. So the check keeps the chosen spot (the model's, or the candidate of its that
``perception.place_region`` found where the words put it) and moves it the least distance
that clears every object perception sees (``data.perceive``: table plane and clusters, no learned
weights), over the table and in view; a spot already clear stays, and so does one with no
clear spot within ``max_shift`` (the model's answer then is not near any free table).

"Inside the box" is not a free-space question (the spot is the container) and is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spatial_ros.data.perceive import Perceived
from spatial_ros.data.placement import footprint_distance
from spatial_ros.geometry.backproject import backproject_pixels
from spatial_ros.geometry.intrinsics import Intrinsics


@dataclass
class FreeSpaceConfig:
    enabled: bool = True
    #: m every perceived object's footprint keeps from the spot (the placement regions the
    #: data engine labels keep 4.5 cm; the extra 5 mm absorbs perception's footprint error)
    clearance: float = 0.05
    #: m the spot may move: farther, the model's answer is not near any free table
    max_shift: float = 0.06
    step: float = 0.005  # m, the search grid on the table plane
    #: m between the measured depth and the table plane where the new spot is: the spot is
    #: on the table (not past its edge, not on a robot link perception did not cluster)
    table_tolerance: float = 0.015

    def __post_init__(self) -> None:
        for name in ("clearance", "max_shift", "step", "table_tolerance"):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"free-space check {name} must be > 0, got "
                                 f"{getattr(self, name)}")


@dataclass
class SpotCheck:
    point_px: tuple[float, float]  # the spot to answer (the model's when kept)
    clearance_m: float  # the model's spot's distance to the nearest perceived object
    moved_m: float  # on the table plane; 0 when the model's spot stands
    found: bool  # False: the model's spot was too close and no clear one was in reach


def _table_point(seen: Perceived, intr: Intrinsics, u: float, v: float) -> np.ndarray | None:
    """Where pixel (u, v)'s ray meets the table plane, base frame (None: it never does)."""
    g = seen.graph
    ray = g.camera_pose[:3, :3] @ backproject_pixels(u, v, 1.0, intr)[0]
    origin = g.camera_pose[:3, 3]
    if abs(ray[2]) < 1e-9:
        return None
    t = (g.table_height - origin[2]) / ray[2]
    return origin + t * ray if t > 0 else None


def _clearance(seen: Perceived, xy: np.ndarray) -> np.ndarray:
    """Distance from (N, 2) table points to the nearest perceived object's footprint."""
    objects = seen.graph.objects
    if not objects:
        return np.full(len(xy), np.inf)
    return np.min(np.stack([footprint_distance(xy, o) for o in objects]), axis=0)


def check_spot(seen: Perceived, depth_m: np.ndarray, intr: Intrinsics, u: float, v: float,
               cfg: FreeSpaceConfig = FreeSpaceConfig()) -> SpotCheck:
    """The model's place spot (u, v), kept when it is clear, else the nearest clear one."""
    here = _table_point(seen, intr, u, v)
    if here is None:
        return SpotCheck((u, v), float("nan"), 0.0, False)
    clearance = float(_clearance(seen, here[None, :2])[0])
    if clearance >= cfg.clearance:
        return SpotCheck((u, v), clearance, 0.0, True)
    steps = np.arange(-cfg.max_shift, cfg.max_shift + 1e-9, cfg.step)
    offsets = np.stack(np.meshgrid(steps, steps), -1).reshape(-1, 2)
    shift = np.linalg.norm(offsets, axis=1)
    keep = shift <= cfg.max_shift + 1e-9
    offsets, shift = offsets[keep], shift[keep]
    xy = here[:2] + offsets
    clear = _clearance(seen, xy) >= cfg.clearance
    order = np.argsort(shift, kind="stable")
    order = order[clear[order]]
    if order.size == 0:
        return SpotCheck((u, v), clearance, 0.0, False)
    g = seen.graph
    points = np.column_stack([xy[order], np.full(order.size, g.table_height)])
    cam = g.to_camera(points)
    cu, cv = intr.project(cam).T
    h, w = depth_m.shape[:2]
    ok = (cam[:, 2] > 0) & (cu >= 0) & (cu <= w - 1) & (cv >= 0) & (cv <= h - 1)
    for k in np.flatnonzero(ok):
        col, row = int(np.rint(cu[k])), int(np.rint(cv[k]))
        if seen.labels[row, col] >= 0:  # an object hides the table there
            continue
        z = float(depth_m[row, col])
        if np.isfinite(z) and z > 0 and abs(z - cam[k, 2]) < cfg.table_tolerance:
            return SpotCheck((float(cu[k]), float(cv[k])), clearance,
                             float(shift[order[k]]), True)
    return SpotCheck((u, v), clearance, 0.0, False)
