"""SpatialBot-style "depth API": the metric depth at a pixel, robust to holes and noise.

A single pixel of a RealSense depth map is often 0 (no stereo match) or an outlier at an
object edge, so the query summarizes a small window of *valid* pixels, and when the whole
window is empty it falls back to the nearest valid pixel within ``search_radius``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

STATS = ("median", "center", "mean", "min", "max")


class DepthQuery(NamedTuple):  # a tuple, not a dataclass: built on every query (hot path)
    depth_m: float  # NaN when nothing valid was found
    u: int  # column actually used (moves when the fallback search found another pixel)
    v: int  # row actually used
    valid: bool
    n_valid: int  # valid pixels in the window that produced depth_m


def _valid(patch: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """lo < d <= hi in the image's own units; NaN compares False and ``hi`` is finite, so
    NaN and inf are invalid without a separate isfinite pass (this runs per query)."""
    return (patch > lo) & (patch <= hi)


@lru_cache(maxsize=8)
def _disk(radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Squared distances of a (2r+1)^2 patch from its centre, and the in-radius mask."""
    d = np.arange(-radius, radius + 1)
    d2 = d[:, None] ** 2 + d[None, :] ** 2
    return d2, d2 <= radius * radius


def query_depth(depth_m: np.ndarray, u: float, v: float, window: int = 5,
                stat: str = "median", search_radius: int = 10, min_depth_m: float = 0.0,
                max_depth_m: float = np.inf, depth_scale: float = 0.001) -> DepthQuery:
    """Depth at pixel (``u`` column, ``v`` row) of an (H, W) depth image.

    ``depth_m`` is metres when floating; integer images (uint16 millimetres) are scaled by
    ``depth_scale``. Valid pixels are finite and in (min_depth_m, max_depth_m]. ``stat``:
    ``center`` = the pixel itself, else median/mean/min/max over the ``window`` x ``window``
    neighbourhood. Raises ValueError for a pixel outside the image or a bad argument.
    """
    if stat not in STATS:
        raise ValueError(f"unknown depth statistic '{stat}'; use one of {list(STATS)}")
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number of pixels, got {window}")
    img = depth_m if isinstance(depth_m, np.ndarray) else np.asarray(depth_m)
    if img.ndim != 2:
        raise ValueError(f"depth must be a 2-D (H, W) image, got shape {img.shape}")
    if not (math.isfinite(u) and math.isfinite(v)):
        raise ValueError(f"pixel ({u}, {v}) is not finite")
    h, w = img.shape
    col, row = math.floor(u), math.floor(v)
    if not (0 <= col < w and 0 <= row < h):
        raise ValueError(f"pixel ({u}, {v}) is outside the {w}x{h} depth image")
    scale = float(depth_scale) if img.dtype.kind in "ui" else 1.0
    # Thresholds in the image's units, so only the few selected values get scaled.
    lo = min_depth_m / scale
    hi = min(float(max_depth_m), 1e30) / scale

    result = _window_stat(img, col, row, window, stat, scale, lo, hi)
    if result is not None:
        return result
    # Nothing valid around the pixel: nearest valid pixel within the search radius.
    r = int(search_radius)
    if r > 0:
        d2, inside = _disk(r)
        r0, c0 = row - r, col - r
        patch = img[max(r0, 0):row + r + 1, max(c0, 0):col + r + 1]
        oy, ox = max(r0, 0) - r0, max(c0, 0) - c0
        d2 = d2[oy:oy + patch.shape[0], ox:ox + patch.shape[1]]
        ok = _valid(patch, lo, hi) & inside[oy:oy + patch.shape[0], ox:ox + patch.shape[1]]
        if ok.any():
            k = int(np.argmin(np.where(ok, d2, np.iinfo(np.int64).max)))
            nr, nc = divmod(k, patch.shape[1])
            found = _window_stat(img, nc + max(c0, 0), nr + max(r0, 0), window, stat, scale,
                                 lo, hi)
            if found is not None:
                return found
    return DepthQuery(float("nan"), col, row, False, 0)


def _window_stat(img: np.ndarray, col: int, row: int, window: int, stat: str, scale: float,
                 lo: float, hi: float) -> DepthQuery | None:
    if stat == "center":
        d = img[row, col]
        return DepthQuery(float(d) * scale, col, row, True, 1) if lo < d <= hi else None
    half = window // 2
    patch = img[max(row - half, 0):row + half + 1, max(col - half, 0):col + half + 1]
    values = patch[_valid(patch, lo, hi)]
    n = values.size
    if n == 0:
        return None
    if stat == "median":  # sort is several times faster than np.median on a few values
        values = np.sort(values)
        d = 0.5 * (float(values[(n - 1) // 2]) + float(values[n // 2]))
    elif stat == "mean":
        d = float(values.mean(dtype=np.float64))
    else:
        d = float(values.min() if stat == "min" else values.max())
    return DepthQuery(d * scale, col, row, True, int(n))
