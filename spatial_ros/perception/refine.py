"""Depth at the referred pixel, optionally snapped onto the object's depth cluster.

A referred point near an object's silhouette often lands on the background behind it or
on a flying pixel between the two surfaces, which puts the 3D point centimetres (or
metres) off the object. Refinement looks at a small window around the pixel, splits its
valid depths into surfaces at depth jumps (1-D gap clustering), keeps the *nearest* surface
that has real support near the pixel (referred objects stand in front of what is behind
them), and takes that surface's median depth at the nearest pixel that belongs to it.
With refinement off, the plain SpatialBot depth query is used
(``geometry.depth_query.query_depth``), so the two can be compared directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spatial_ros.geometry.depth_query import STATS, query_depth


@dataclass
class DepthConfig:
    refine: bool = True
    window: int = 5  # SpatialBot depth-API window (odd, pixels)
    stat: str = "median"
    search_radius: int = 10  # fallback search for a valid pixel when the window is a hole
    cluster_radius_px: int = 8  # refinement window half-size
    cluster_gap_m: float = 0.015  # a depth jump larger than this separates two surfaces
    min_cluster_pixels: int = 4
    cluster_min_support: float = 0.2  # share of the distance-weighted window a surface needs
    min_depth_m: float = 0.05
    max_depth_m: float = 6.0

    def __post_init__(self) -> None:
        if self.stat not in STATS:
            raise ValueError(f"depth stat '{self.stat}' is not one of {list(STATS)}")
        if self.window < 1 or self.window % 2 == 0:
            raise ValueError(f"depth window must be a positive odd number, got {self.window}")
        if self.cluster_radius_px < 1 or self.cluster_gap_m <= 0:
            raise ValueError("cluster_radius_px must be >= 1 and cluster_gap_m > 0")
        if not 0 < self.cluster_min_support <= 1:
            raise ValueError(f"cluster_min_support must be in (0, 1], got "
                             f"{self.cluster_min_support}")
        if not 0 <= self.min_depth_m < self.max_depth_m:
            raise ValueError(f"need 0 <= min_depth_m < max_depth_m, got "
                             f"{self.min_depth_m}, {self.max_depth_m}")


@dataclass(frozen=True)
class DepthPick:
    u: float  # pixel the depth belongs to (column)
    v: float  # row
    depth_m: float  # NaN when no valid depth was found
    n_pixels: int  # pixels supporting the estimate
    refined: bool

    @property
    def valid(self) -> bool:
        return bool(np.isfinite(self.depth_m))


def pick_depth(depth_m: np.ndarray, u: float, v: float, cfg: DepthConfig) -> DepthPick:
    """Depth for pixel (u, v): the depth-cluster snap when ``cfg.refine`` and it finds a
    surface, else the plain depth query."""
    if cfg.refine:
        snapped = snap_to_depth_cluster(depth_m, u, v, cfg)
        if snapped is not None:
            return snapped
    q = query_depth(depth_m, u, v, window=cfg.window, stat=cfg.stat,
                    search_radius=cfg.search_radius, min_depth_m=cfg.min_depth_m,
                    max_depth_m=cfg.max_depth_m)
    moved = (q.u, q.v) != (int(np.floor(u)), int(np.floor(v)))
    pu, pv = (q.u + 0.5, q.v + 0.5) if moved else (u, v)
    return DepthPick(pu, pv, q.depth_m, q.n_valid, False)


def snap_to_depth_cluster(depth_m: np.ndarray, u: float, v: float,
                          cfg: DepthConfig) -> DepthPick | None:
    """The nearest surface around (u, v) holding at least ``cluster_min_support`` of the
    distance-weighted valid pixels, or None when the window holds too few valid pixels."""
    col, row, r = int(np.floor(u)), int(np.floor(v)), cfg.cluster_radius_px
    r0, c0 = max(row - r, 0), max(col - r, 0)
    patch = np.asarray(depth_m[r0:row + r + 1, c0:col + r + 1], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(patch) & (patch > cfg.min_depth_m) & (patch <= cfg.max_depth_m)
    rows, cols = np.nonzero(ok)
    if rows.size < cfg.min_cluster_pixels:
        return None
    z = patch[rows, cols]
    order = np.argsort(z)
    labels = np.empty(z.size, dtype=np.int64)
    labels[order] = np.concatenate([[0], np.cumsum(np.diff(z[order]) > cfg.cluster_gap_m)])
    d2 = (rows + r0 - row) ** 2 + (cols + c0 - col) ** 2
    weight = np.exp(-d2 / (2.0 * (r / 2.0) ** 2))
    support = np.bincount(labels, weights=weight)
    sizes = np.bincount(labels)
    strong = (sizes >= cfg.min_cluster_pixels) & (support >= cfg.cluster_min_support
                                                   * support.sum())
    if not strong.any():
        return None
    best = int(np.argmax(strong))  # labels are ordered by depth: first strong = nearest
    member = labels == best
    k = np.flatnonzero(member)[np.argmin(d2[member])]
    if d2[k] == 0:
        pu, pv = u, v
    else:
        pu, pv = cols[k] + c0 + 0.5, rows[k] + r0 + 0.5
    return DepthPick(float(pu), float(pv), float(np.median(z[member])), int(member.sum()), True)
