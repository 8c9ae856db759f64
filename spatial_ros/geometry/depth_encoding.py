"""Depth image encodings: ROS/RealSense uint16 millimetres, metres, SpatialBot's RGB packing,
and normalized depth for a network.

0 means "no depth" in uint16 images (the RealSense and realsense-ros convention); in float
images NaN or 0 does. Conversions keep that meaning instead of inventing depth.
"""

from __future__ import annotations

import numpy as np

MAX_MM = 65535


def mm_to_m(depth_mm: np.ndarray, depth_scale: float = 0.001) -> np.ndarray:
    """uint16 (raw units, millimetres by default) -> float32 metres; 0 stays 0."""
    depth_mm = np.asarray(depth_mm)
    if not np.issubdtype(depth_mm.dtype, np.integer):
        raise ValueError(f"expected an integer depth image (uint16 mm), got {depth_mm.dtype}")
    return depth_mm.astype(np.float32) * np.float32(depth_scale)


def m_to_mm(depth_m: np.ndarray) -> np.ndarray:
    """float metres -> uint16 millimetres (rounded). NaN, inf, <= 0 and depths beyond
    65.535 m become 0 (no depth) rather than wrapping or clipping to a false distance."""
    depth_m = np.asarray(depth_m, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        mm = np.rint(depth_m * 1000.0)
        ok = np.isfinite(mm) & (mm > 0) & (mm <= MAX_MM)
    out = np.zeros(depth_m.shape, dtype=np.uint16)
    out[ok] = mm[ok].astype(np.uint16)
    return out


def pack_spatialbot(depth_mm: np.ndarray) -> np.ndarray:
    """uint16 mm (H,W) -> uint8 (H,W,3), SpatialBot's lossless packing:
    R = bits 10-15 (x4), G = bits 5-9 (x8), B = bits 0-4 (x8)."""
    d = np.asarray(depth_mm)
    if d.ndim != 2 or not np.issubdtype(d.dtype, np.integer):
        raise ValueError(f"SpatialBot packing needs a 2-D integer (uint16 mm) image, got "
                         f"{d.dtype} {d.shape}")
    if d.size and (d.min() < 0 or d.max() > MAX_MM):
        raise ValueError("depth values must fit in uint16 millimetres (0..65535)")
    d = d.astype(np.uint16)
    out = np.empty((*d.shape, 3), dtype=np.uint8)
    out[..., 0] = (d >> 10) << 2
    out[..., 1] = ((d >> 5) & 0x1F) << 3
    out[..., 2] = (d & 0x1F) << 3
    return out


def unpack_spatialbot(packed: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_spatialbot`: uint8 (H,W,3) -> uint16 mm (H,W)."""
    p = np.asarray(packed)
    if p.ndim != 3 or p.shape[2] != 3 or p.dtype != np.uint8:
        raise ValueError(f"SpatialBot unpacking needs a (H, W, 3) uint8 image, got "
                         f"{p.dtype} {p.shape}")
    p = p.astype(np.uint16)
    return ((p[..., 0] >> 2) << 10) | ((p[..., 1] >> 3) << 5) | (p[..., 2] >> 3)


def normalize_depth(depth_m: np.ndarray, min_m: float = 0.1, max_m: float = 3.0,
                    invalid_value: float = 0.0) -> np.ndarray:
    """float32 in [0, 1] for a model: (clip(d) - min) / (max - min); pixels without depth
    (0, NaN, inf) get ``invalid_value`` so the network can tell them apart if it is < 0."""
    if not max_m > min_m:
        raise ValueError(f"normalize_depth: max_m ({max_m}) must exceed min_m ({min_m})")
    d = np.asarray(depth_m, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(d) & (d > 0)
    out = np.full(d.shape, invalid_value, dtype=np.float32)
    out[valid] = (np.clip(d[valid], min_m, max_m) - min_m) / (max_m - min_m)
    return out


def denormalize_depth(norm: np.ndarray, min_m: float = 0.1, max_m: float = 3.0) -> np.ndarray:
    return np.asarray(norm, dtype=np.float32) * (max_m - min_m) + min_m


def colorize_depth(depth_m: np.ndarray, min_m: float = 0.1, max_m: float = 3.0,
                   cmap: str = "turbo") -> np.ndarray:
    """uint8 RGB visualization (black where there is no depth), via matplotlib colormaps."""
    from matplotlib import colormaps

    norm = normalize_depth(depth_m, min_m, max_m, invalid_value=-1.0)
    rgb = (colormaps[cmap](np.clip(norm, 0, 1))[..., :3] * 255).astype(np.uint8)
    rgb[norm < 0] = 0
    return rgb
