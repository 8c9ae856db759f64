"""The footprint of the object a referred point lies on, from depth alone.

A referred point says *which* object, not where its middle is: a point on a container's rim
or wall is a correct answer to "the box" but a bad place to drop something "into the box"
(the object lands on the rim). The footprint is the connected region of pixels standing
above the local support surface around the point, measured in the robot base frame; its
centre is where a drop into a container goes, its top how high the walls are.

The support height is estimated locally, so no table height has to be configured and a
camera mount error of a few millimetres does not matter: it is the highest level below the
point that covers a real share of the window (the table top), not the window's lowest
heights, because a camera that sees past the table's edge (the G1's head camera) has the
floor in the window, and measured from the floor the whole table stands out as "object".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from spatial_ros.geometry.backproject import backproject_pixels
from spatial_ros.geometry.intrinsics import Intrinsics


@dataclass
class FootprintConfig:
    enabled: bool = True
    window_px: int = 110  # half-size of the image window searched around the point
    stride: int = 2  # look at every n-th pixel (the footprint needs centimetres, not pixels)
    min_height_m: float = 0.012  # what stands this far above the support is "object"
    support_percentile: float = 10.0  # low end of the support level's own heights (noise)
    support_share: float = 0.1  # a level covering this much of the window can be a support
    support_bin_m: float = 0.01  # height histogram bin for finding those levels
    max_extent_m: float = 0.35  # a region wider than this is a surface, not one object
    seed_radius_px: int = 8  # the point may sit a few pixels outside its object's region
    min_pixels: int = 12

    def __post_init__(self) -> None:
        if self.window_px < 4 or self.stride < 1 or self.min_height_m <= 0:
            raise ValueError("footprint window_px >= 4, stride >= 1 and min_height_m > 0")
        if not 0 < self.support_share <= 1 or self.support_bin_m <= 0:
            raise ValueError("footprint support_share must be in (0, 1] and support_bin_m > 0")


def support_height(z: np.ndarray, seed_z: float, cfg: FootprintConfig) -> float:
    """Height of the surface an object at height ``seed_z`` stands on, from the heights
    ``z`` in the window: the highest histogram level below the object (by at least
    ``min_height_m``) that holds ``support_share`` of the window; the window's low
    percentile when no level does (a window full of objects)."""
    below = z[z < seed_z - cfg.min_height_m]
    if below.size:
        edges = np.arange(below.min(), below.max() + 2 * cfg.support_bin_m, cfg.support_bin_m)
        counts, edges = np.histogram(below, bins=edges)
        levels = np.flatnonzero(counts >= cfg.support_share * z.size)
        if levels.size:
            lo = edges[levels[-1]]
            level = below[(below >= lo - cfg.support_bin_m) & (below < lo + 2 * cfg.support_bin_m)]
            return float(np.percentile(level, cfg.support_percentile))
    return float(np.percentile(z, cfg.support_percentile))


@dataclass(frozen=True)
class Footprint:
    center: list[float]  # base frame: middle of the region's xy extent, z = support height
    extent: list[float]  # xy size of the region (m)
    top_z: float  # highest point of the region (rim of a container)
    n_pixels: int
    #: the smallest rectangle around the region at any yaw: the object's own axes, which a
    #: grasp can close across when the model's jaw direction fails (see execution.grounding)
    yaw: float = 0.0  # base frame, rad in [0, pi/2): direction of ``size[0]``
    size: list[float] = field(default_factory=lambda: [0.0, 0.0])  # along yaw, across it


YAW_STEPS = 30  # 3 degree steps over a quarter turn: a rectangle repeats after 90 degrees
MAX_RECTANGLE_POINTS = 400  # ~0.5 ms for the rectangle, whatever the region's size


def oriented_extent(xy: np.ndarray, low: float = 2.0, high: float = 98.0
                    ) -> tuple[float, list[float]]:
    """Yaw and sizes of the smallest-area rectangle around ``xy`` (N, 2), the sides
    measured between percentiles so a few stray pixels (depth edges) do not widen it."""
    xy = xy[::-(-len(xy) // MAX_RECTANGLE_POINTS)]  # every n-th: percentiles of ~400 suffice
    angles = np.arange(YAW_STEPS) * (0.5 * np.pi / YAW_STEPS)
    axes = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (A, 2): side 0 direction
    normals = np.stack([-axes[:, 1], axes[:, 0]], axis=1)
    along, across = axes @ xy.T, normals @ xy.T  # (A, N)
    lo_a, hi_a = np.percentile(along, [low, high], axis=1)
    lo_c, hi_c = np.percentile(across, [low, high], axis=1)
    best = int(np.argmin((hi_a - lo_a) * (hi_c - lo_c)))
    return float(angles[best]), [float(hi_a[best] - lo_a[best]), float(hi_c[best] - lo_c[best])]


def object_footprint(depth_m: np.ndarray, intr: Intrinsics, cam_to_base, u: float, v: float,
                     cfg: FootprintConfig | None = None) -> Footprint | None:
    """Footprint of the object under pixel (u, v); None when no object region is found
    (the point is on the bare table, or depth is missing there)."""
    cfg = cfg or FootprintConfig()
    h, w = depth_m.shape
    c0, c1 = max(0, int(u) - cfg.window_px), min(w, int(u) + cfg.window_px + 1)
    r0, r1 = max(0, int(v) - cfg.window_px), min(h, int(v) + cfg.window_px + 1)
    rows = np.arange(r0, r1, cfg.stride)
    cols = np.arange(c0, c1, cfg.stride)
    crop = depth_m[np.ix_(rows, cols)]
    valid = np.isfinite(crop) & (crop > 0)
    if valid.sum() < cfg.min_pixels:
        return None
    cc, rr = np.meshgrid(cols, rows)
    pts = np.full((*crop.shape, 3), np.nan)
    pts[valid] = cam_to_base.point(backproject_pixels(cc[valid], rr[valid], crop[valid], intr))
    z = pts[..., 2]
    si, sj = (v - r0) / cfg.stride, (u - c0) / cfg.stride
    near = valid & ((np.arange(len(rows))[:, None] - si) ** 2 + (np.arange(len(cols)) - sj) ** 2
                    <= (cfg.seed_radius_px / cfg.stride) ** 2)
    if not near.any():  # no depth within the seed radius: no region can be the point's
        return None
    # the highest point near the seed: the object's top even when the point is on its side
    support = support_height(z[valid], float(z[near].max()), cfg)
    above = valid & (z > support + cfg.min_height_m)
    labels, n = ndimage.label(above, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return None
    li, lj = np.nonzero(labels)
    d2 = (li - si) ** 2 + (lj - sj) ** 2
    nearest = int(np.argmin(d2))
    if d2[nearest] > (cfg.seed_radius_px / cfg.stride) ** 2:
        return None
    region = pts[labels == labels[li[nearest], lj[nearest]]]
    if len(region) < cfg.min_pixels:
        return None
    lo, hi = np.percentile(region[:, :2], 2, axis=0), np.percentile(region[:, :2], 98, axis=0)
    if np.max(hi - lo) > cfg.max_extent_m:  # the point is on a surface (a table), not on it
        return None
    mid = 0.5 * (lo + hi)
    yaw, size = oriented_extent(region[:, :2])
    return Footprint(center=[float(mid[0]), float(mid[1]), support],
                     extent=[float(e) for e in hi - lo],
                     top_z=float(np.percentile(region[:, 2], 98)), n_pixels=len(region),
                     yaw=yaw, size=size)
