"""D435-like depth artefacts applied to exact rendered z-depth.

A stereo camera measures disparity ``d = f * b / z``; its error is roughly constant in
disparity (sub-pixel matching), hence grows with z^2 in depth, and disparity is quantized.
Matching fails at depth discontinuities (the two imagers see different surfaces), on very
dark surfaces (the IR pattern is absorbed) and through transparent ones, and outside the
working range. Missing depth is 0, as in realsense-ros.
"""

from __future__ import annotations

import numpy as np

from spatial_ros.sim.camera_mount import DepthNoiseConfig


def add_depth_noise(z: np.ndarray, fx: float, cfg: DepthNoiseConfig, rng: np.random.Generator,
                    dark: np.ndarray | None = None,
                    transparent: np.ndarray | None = None) -> np.ndarray:
    """Returns noisy z-depth in metres (0 = no depth) for exact depth ``z`` (HxW metres).

    ``dark`` / ``transparent``: boolean HxW masks of surfaces that defeat the stereo match.
    With ``cfg.enabled`` false only the range limits are applied.
    """
    z = np.asarray(z, dtype=np.float32)
    valid = np.isfinite(z) & (z >= cfg.min_depth_m) & (z <= cfg.max_depth_m)
    if not cfg.enabled:
        return np.where(valid, z, np.float32(0.0))
    fb = np.float32(fx * cfg.baseline_m)
    zc = np.where(valid, z, np.float32(cfg.max_depth_m))
    disparity = fb / zc
    disparity += rng.standard_normal(z.shape, dtype=np.float32) * np.float32(cfg.subpixel_std)
    if cfg.subpixel_step > 0:
        step = np.float32(cfg.subpixel_step)
        disparity = np.round(disparity / step) * step
    noisy = fb / np.maximum(disparity, np.float32(1e-6))
    drop = ~valid
    # a depth jump to any 4-neighbour larger than the threshold marks both pixels as an edge
    thresh = np.float32(cfg.edge_threshold_m) * np.maximum(np.float32(1.0), zc)
    edges = np.zeros(z.shape, bool)
    dx = np.abs(np.diff(zc, axis=1)) > thresh[:, 1:]
    dy = np.abs(np.diff(zc, axis=0)) > thresh[1:, :]
    edges[:, 1:] |= dx
    edges[:, :-1] |= dx
    edges[1:, :] |= dy
    edges[:-1, :] |= dy
    _drop_some(drop, edges, cfg.edge_dropout, rng)
    if dark is not None:
        _drop_some(drop, dark, cfg.dark_dropout, rng)
    if transparent is not None:
        drop |= transparent
    noisy[drop] = 0.0
    noisy[(noisy < cfg.min_depth_m) | (noisy > cfg.max_depth_m)] = 0.0
    return noisy


def _drop_some(drop: np.ndarray, candidates: np.ndarray, p: float,
               rng: np.random.Generator) -> None:
    """Sets ``drop`` on a random share ``p`` of the ``candidates`` pixels (in place)."""
    idx = np.flatnonzero(candidates)
    if idx.size and p > 0:
        drop.reshape(-1)[idx[rng.random(idx.size) < p]] = True


def to_millimetres(z_m: np.ndarray) -> np.ndarray:
    """Metres -> uint16 millimetres (0 stays 0, values beyond 65.535 m saturate)."""
    return np.clip(np.round(np.asarray(z_m) * 1000.0), 0, 65535).astype(np.uint16)
