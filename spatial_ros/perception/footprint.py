"""The footprint of the object a referred point lies on, from depth alone.

A referred point says *which* object, not where its middle is: a point on a container's rim
or wall is a correct answer to "the box" but a bad place to drop something "into the box"
(the object lands on the rim). The footprint is the connected region of pixels standing
above the local support surface around the point, measured in the robot base frame; its
centre is where a drop into a container goes, its top how high the walls are.

The support height is estimated locally (a low percentile of the base-frame heights in the
window around the point), so no table height has to be configured and a tilted camera mount
error of a few millimetres does not matter.
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
    support_percentile: float = 10.0  # the support surface is the low end of the window
    seed_radius_px: int = 8  # the point may sit a few pixels outside its object's region
    min_pixels: int = 12

    def __post_init__(self) -> None:
        if self.window_px < 4 or self.stride < 1 or self.min_height_m <= 0:
            raise ValueError("footprint window_px >= 4, stride >= 1 and min_height_m > 0")


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
    support = float(np.percentile(z[valid], cfg.support_percentile))
    above = valid & (z > support + cfg.min_height_m)
    labels, n = ndimage.label(above, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return None
    si, sj = (v - r0) / cfg.stride, (u - c0) / cfg.stride
    li, lj = np.nonzero(labels)
    d2 = (li - si) ** 2 + (lj - sj) ** 2
    nearest = int(np.argmin(d2))
    if d2[nearest] > (cfg.seed_radius_px / cfg.stride) ** 2:
        return None
    region = pts[labels == labels[li[nearest], lj[nearest]]]
    if len(region) < cfg.min_pixels:
        return None
    lo, hi = np.percentile(region[:, :2], 2, axis=0), np.percentile(region[:, :2], 98, axis=0)
    mid = 0.5 * (lo + hi)
    yaw, size = oriented_extent(region[:, :2])
    return Footprint(center=[float(mid[0]), float(mid[1]), support],
                     extent=[float(e) for e in hi - lo],
                     top_z=float(np.percentile(region[:, 2], 98)), n_pixels=len(region),
                     yaw=yaw, size=size)
