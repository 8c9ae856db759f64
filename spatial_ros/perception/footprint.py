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

Two things a single view gets wrong are corrected here. Objects standing close together touch
in the image (the nearer one hides the gap), so the region grows only between neighbouring
pixels that are also close in 3D (``max_step_m``): a depth jump separates them; but what
stands inside a container stays part of it (``enclosing_regions``). And a camera
sees a round object's near side but not its far side, so the visible region's middle lies
towards the camera (1 cm on a 6 cm sphere) and its depth along the view is short: the
middle is taken from the region's top layer (a top face, a rim, a sphere's cap: seen whole
from above), and the sides from the region made point-symmetric about that middle (every
object here is, in plan view, but a mug's handle).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.csgraph import connected_components

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
    #: neighbouring pixels farther apart than this in 3D belong to different objects (a depth
    #: jump); 0 joins every touching pixel (image connectivity only)
    max_step_m: float = 0.015
    top_band_m: float = 0.01  # the region's top layer (its middle is the footprint's middle)
    #: False: the middle of the visible region, not completed by symmetry (before the
    #: eighteenth session; with ``max_step_m=0`` the old footprint, kept to measure against)
    top_centred: bool = True
    #: a region whose plan-view rectangle holds the point's region's middle this far inside
    #: is the container it stands in, and part of the footprint
    enclose_margin_m: float = 0.01

    def __post_init__(self) -> None:
        if self.window_px < 4 or self.stride < 1 or self.min_height_m <= 0:
            raise ValueError("footprint window_px >= 4, stride >= 1 and min_height_m > 0")
        if not 0 < self.support_share <= 1 or self.support_bin_m <= 0:
            raise ValueError("footprint support_share must be in (0, 1] and support_bin_m > 0")
        if self.max_step_m < 0 or self.top_band_m <= 0:
            raise ValueError("footprint max_step_m >= 0 and top_band_m > 0")


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
    center: list[float]  # base frame: xy middle of the region's top layer, z = support height
    extent: list[float]  # xy size of the region completed by symmetry (m), axis-aligned
    top_z: float  # highest point of the region (rim of a container)
    n_pixels: int
    #: the smallest rectangle around the region at any yaw: the object's own axes, which a
    #: grasp can close across when the model's jaw direction fails (see execution.grounding)
    yaw: float = 0.0  # base frame, rad in [0, pi/2): direction of ``size[0]``
    size: list[float] = field(default_factory=lambda: [0.0, 0.0])  # along yaw, across it


YAW_STEPS = 30  # 3 degree steps over a quarter turn: a rectangle repeats after 90 degrees
MAX_RECTANGLE_POINTS = 400  # ~0.5 ms for the rectangle, whatever the region's size
STANDING_M = 0.02  # a region reaching this close to the "object" height stands on the support


#: the four neighbour offsets (row, col) that, with their opposites, make 8-connectivity
_NEIGHBOURS = ((0, 1), (1, 0), (1, 1), (1, -1))


def label_regions(mask: np.ndarray, pts: np.ndarray, max_step: float) -> tuple[np.ndarray, int]:
    """Connected regions of ``mask`` (H, W) whose neighbouring pixels' points ``pts``
    (H, W, 3) are within ``max_step`` of each other; labels 1..n, 0 off the mask."""
    if max_step <= 0:
        return ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    h, w = mask.shape
    index = np.arange(h * w).reshape(h, w)
    rows, cols = [], []
    for dr, dc in _NEIGHBOURS:
        a = (slice(0, h - dr), slice(max(0, -dc), w - max(0, dc)))
        b = (slice(dr, h), slice(max(0, dc), w - max(0, -dc)))
        ok = mask[a] & mask[b]
        ok[ok] = np.linalg.norm(pts[a][ok] - pts[b][ok], axis=1) <= max_step
        rows.append(index[a][ok])
        cols.append(index[b][ok])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = sparse.coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(h * w, h * w))
    _, comp = connected_components(graph, directed=False)
    comp = comp.reshape(h, w)
    # renumber the components on the mask 1..n (pixels off it are singletons: label 0)
    uniq, inverse = np.unique(comp[mask], return_inverse=True)
    labels = np.zeros((h, w), dtype=np.int64)
    labels[mask] = inverse + 1
    return labels, len(uniq)


def oriented_box(xy: np.ndarray, low: float = 2.0, high: float = 98.0
                 ) -> tuple[float, np.ndarray, np.ndarray]:
    """The smallest-area rectangle around ``xy`` (N, 2): its yaw and the low and high ends of
    its sides along (cos yaw, sin yaw) and the normal, measured between percentiles so a few
    stray pixels (depth edges) do not widen it."""
    xy = xy[::-(-len(xy) // MAX_RECTANGLE_POINTS)]  # every n-th: percentiles of ~400 suffice
    angles = np.arange(YAW_STEPS) * (0.5 * np.pi / YAW_STEPS)
    axes = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (A, 2): side 0 direction
    normals = np.stack([-axes[:, 1], axes[:, 0]], axis=1)
    along, across = axes @ xy.T, normals @ xy.T  # (A, N)
    lo_a, hi_a = np.percentile(along, [low, high], axis=1)
    lo_c, hi_c = np.percentile(across, [low, high], axis=1)
    best = int(np.argmin((hi_a - lo_a) * (hi_c - lo_c)))
    return (float(angles[best]), np.array([lo_a[best], lo_c[best]]),
            np.array([hi_a[best], hi_c[best]]))


def oriented_extent(xy: np.ndarray, low: float = 2.0, high: float = 98.0
                    ) -> tuple[float, list[float]]:
    """Yaw and sizes of ``oriented_box``."""
    yaw, lo, hi = oriented_box(xy, low, high)
    return yaw, [float(hi[0] - lo[0]), float(hi[1] - lo[1])]


def encloses(xy: np.ndarray, point: np.ndarray, margin: float) -> bool:
    """Whether ``point`` lies inside the rectangle around ``xy`` by at least ``margin``."""
    yaw, lo, hi = oriented_box(xy)
    c, s = np.cos(yaw), np.sin(yaw)
    q = np.array([[c, s], [-s, c]]) @ point
    return bool(np.all(q > lo + margin) and np.all(q < hi - margin))


def enclosing_regions(labels: np.ndarray, seed: tuple[int, int], inside: np.ndarray,
                      pts: np.ndarray, support: float, cfg: FootprintConfig) -> np.ndarray:
    """Mask of the regions around the seed's region (mask ``inside``) in plan view that stand
    on the support: the walls of the container it stands in. What stands in a box is, for a
    drop "into" or "beside" it, part of the box (a depth jump separates it from the walls,
    and the seed may be on it); a gripper hovering over it is not (it does not reach down to
    the table)."""
    label = labels[seed]
    inner = pts[inside, :2].mean(axis=0)
    out = np.zeros(labels.shape, dtype=bool)
    for other, box in enumerate(ndimage.find_objects(labels), start=1):
        if other == label or box is None or not (box[0].start <= seed[0] < box[0].stop
                                                 and box[1].start <= seed[1] < box[1].stop):
            continue  # only regions whose image box holds the seed can surround it
        mask = labels == other
        if mask.sum() < cfg.min_pixels or \
                np.percentile(pts[mask, 2], 2) > support + cfg.min_height_m + STANDING_M:
            continue
        if encloses(pts[mask, :2], inner, cfg.enclose_margin_m):
            out |= mask
    return out


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
    labels, n = label_regions(above, pts, cfg.max_step_m)
    if n == 0:
        return None
    li, lj = np.nonzero(labels)
    d2 = (li - si) ** 2 + (lj - sj) ** 2
    nearest = int(np.argmin(d2))
    if d2[nearest] > (cfg.seed_radius_px / cfg.stride) ** 2:
        return None
    seed = (int(li[nearest]), int(lj[nearest]))
    mask = labels == labels[seed]
    around = (enclosing_regions(labels, seed, mask, pts, support, cfg)
              if cfg.max_step_m > 0 else np.zeros_like(mask))
    region = pts[mask | around]
    if len(region) < cfg.min_pixels:
        return None
    xy = region[:, :2]
    lo, hi = np.percentile(xy, [2, 98], axis=0)
    if np.max(hi - lo) > cfg.max_extent_m:  # the point is on a surface (a table), not on it
        return None
    top_z = float(np.percentile(region[:, 2], 98))
    mid = 0.5 * (lo + hi)
    if cfg.top_centred:
        # in a container, its rim: what stands in it may stand taller than its walls
        outer = pts[around] if around.any() else region
        outer_top = float(np.percentile(outer[:, 2], 98))
        top = outer[outer[:, 2] >= outer_top - cfg.top_band_m, :2]
        mid = np.percentile(top, [2, 98], axis=0).mean(axis=0)
        # the hidden far side mirrors the seen near side about the middle
        xy = np.concatenate([xy, 2 * mid - xy])
        lo, hi = np.percentile(xy, [2, 98], axis=0)
    yaw, size = oriented_extent(xy)
    return Footprint(center=[float(mid[0]), float(mid[1]), support],
                     extent=[float(e) for e in hi - lo], top_z=top_z, n_pixels=len(region),
                     yaw=yaw, size=size)
