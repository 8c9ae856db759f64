"""Pixels + metric depth -> 3D points in the camera optical frame (z forward, x right, y down).

Whole depth images are back-projected with a cached per-intrinsics *ray grid* (the undistorted
normalized coordinates of every pixel), so the per-frame cost is three multiplications per
pixel; lens distortion is paid once per camera, not once per frame.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from spatial_ros.geometry.intrinsics import Intrinsics


def undistort_normalized(x: np.ndarray, y: np.ndarray, intr: Intrinsics,
                         iterations: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Maps distorted normalized coordinates ((u-cx)/fx, (v-cy)/fy) to ideal pinhole ones.

    plumb_bob / rational_polynomial: fixed-point inversion (the scheme of OpenCV's
    undistortPoints); rs_inverse_brown_conrady: the iteration librealsense 2.59 uses in
    rs2_deproject_pixel_to_point; equidistant: Newton on theta (as librealsense does).
    """
    if not intr.has_distortion:
        return x, y
    c = np.asarray(intr.coeffs + (0.0,) * 8, dtype=np.float64)
    if intr.model in ("plumb_bob", "rational_polynomial"):
        k1, k2, p1, p2, k3, k4, k5, k6 = c[:8]
        x0, y0 = x, y
        xu, yu = x0.copy(), y0.copy()
        for _ in range(iterations):
            r2 = xu * xu + yu * yu
            radial = (1 + ((k6 * r2 + k5) * r2 + k4) * r2) / (1 + ((k3 * r2 + k2) * r2 + k1) * r2)
            dx = 2 * p1 * xu * yu + p2 * (r2 + 2 * xu * xu)
            dy = p1 * (r2 + 2 * yu * yu) + 2 * p2 * xu * yu
            xn, yn = (x0 - dx) * radial, (y0 - dy) * radial
            converged = np.max(np.abs(xn - xu), initial=0.0) < 1e-12 and \
                np.max(np.abs(yn - yu), initial=0.0) < 1e-12
            xu, yu = xn, yn
            if converged:
                break
        return xu, yu
    if intr.model == "rs_inverse_brown_conrady":
        # librealsense 2.5x iterates this model too, evaluating the tangential term at the
        # radially re-distorted point; we follow the SDK so results agree with rs.align.
        k1, k2, p1, p2, k3 = c[:5]
        x0, y0 = x, y
        xu, yu = x0.copy(), y0.copy()
        for _ in range(10):
            r2 = xu * xu + yu * yu
            radial = 1 + ((k3 * r2 + k2) * r2 + k1) * r2
            xq, yq = xu * radial, yu * radial
            dx = 2 * p1 * xq * yq + p2 * (r2 + 2 * xq * xq)
            dy = 2 * p2 * xq * yq + p1 * (r2 + 2 * yq * yq)
            xu, yu = (x0 - dx) / radial, (y0 - dy) / radial
        return xu, yu
    if intr.model == "equidistant":
        rd = np.maximum(np.hypot(x, y), 1e-12)
        theta = rd.copy()
        for _ in range(iterations):
            t2 = theta * theta
            f = theta * (1 + t2 * (c[0] + t2 * (c[1] + t2 * (c[2] + t2 * c[3])))) - rd
            df = 1 + t2 * (3 * c[0] + t2 * (5 * c[1] + t2 * (7 * c[2] + 9 * t2 * c[3])))
            theta = theta - f / df
        scale = np.tan(theta) / rd
        return x * scale, y * scale
    raise ValueError(f"back-projection through distortion model '{intr.model}' is not supported")


def backproject_pixels(u, v, depth_m, intr: Intrinsics) -> np.ndarray:
    """(N,3) float64 points for pixel coordinates ``u`` (column), ``v`` (row) and metric depth
    along the optical axis. Accepts scalars or arrays (broadcast together)."""
    u, v, z = np.broadcast_arrays(np.asarray(u, dtype=np.float64),
                                  np.asarray(v, dtype=np.float64),
                                  np.asarray(depth_m, dtype=np.float64))
    x, y = undistort_normalized((u.reshape(-1) - intr.cx) / intr.fx,
                                (v.reshape(-1) - intr.cy) / intr.fy, intr)
    z = z.reshape(-1)
    return np.stack([x * z, y * z, z], axis=1)


@lru_cache(maxsize=16)
def ray_grid(intr: Intrinsics) -> tuple[np.ndarray, np.ndarray]:
    """Read-only float32 (H*W,) arrays x/z and y/z for every pixel, row-major; cached."""
    v, u = np.mgrid[0:intr.height, 0:intr.width].astype(np.float64)
    x, y = undistort_normalized((u.reshape(-1) - intr.cx) / intr.fx,
                                (v.reshape(-1) - intr.cy) / intr.fy, intr)
    rx, ry = x.astype(np.float32), y.astype(np.float32)
    rx.setflags(write=False)
    ry.setflags(write=False)
    return rx, ry


def depth_to_metres(depth: np.ndarray, depth_scale: float = 0.001) -> np.ndarray:
    """float32 metres; integer depth is multiplied by ``depth_scale``, floating depth is taken
    as metres already. NaN, inf and negative values become 0 (= no depth)."""
    depth = np.asarray(depth)
    if np.issubdtype(depth.dtype, np.integer):
        return depth.astype(np.float32) * np.float32(depth_scale)
    if not np.issubdtype(depth.dtype, np.floating):
        raise ValueError(f"depth must be an integer or floating array, got dtype {depth.dtype}")
    z = depth.astype(np.float32, copy=True)
    z[~(z > 0) | ~np.isfinite(z)] = 0.0
    return z


def depth_to_points(depth: np.ndarray, intr: Intrinsics, depth_scale: float = 0.001,
                    out: np.ndarray | None = None) -> np.ndarray:
    """Organized float32 (H*W,3) point cloud in metres, row-major like the image.

    Pixels without depth give (0, 0, 0), as ``rs.pointcloud`` does; keep
    ``points[:, 2] > 0`` for the valid ones. ``out`` may be a preallocated (H*W,3) float32
    array to avoid an allocation per frame.
    """
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(f"depth must be a 2-D (H, W) image, got shape {depth.shape}")
    if depth.shape != (intr.height, intr.width):
        raise ValueError(f"depth image is {depth.shape[1]}x{depth.shape[0]} but the intrinsics "
                         f"are for {intr.width}x{intr.height}")
    rx, ry = ray_grid(intr)
    n = rx.size
    if out is None:
        out = np.empty((n, 3), dtype=np.float32)
    elif out.shape != (n, 3) or out.dtype != np.float32:
        raise ValueError(f"out must be float32 ({n}, 3), got {out.dtype} {out.shape}")
    z = out[:, 2]
    if np.issubdtype(depth.dtype, np.integer):
        np.multiply(depth.reshape(-1), np.float32(depth_scale), out=z, casting="unsafe")
    elif np.issubdtype(depth.dtype, np.floating):
        flat = depth.reshape(-1)
        # One fused pass: NaN fails both comparisons, inf fails the second -> 0 (no depth).
        z[...] = 0.0
        np.copyto(z, flat, where=(flat > 0) & (flat < np.inf), casting="same_kind")
    else:
        raise ValueError(f"depth must be an integer or floating array, got dtype {depth.dtype}")
    np.multiply(rx, z, out=out[:, 0])
    np.multiply(ry, z, out=out[:, 1])
    return out


def depth_to_cloud(depth: np.ndarray, intr: Intrinsics, rgb: np.ndarray | None = None,
                   depth_scale: float = 0.001, max_depth_m: float = np.inf
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """Unorganized cloud of valid points only (0 < z <= max_depth_m) and their colours
    (float in [0,1]) when ``rgb`` (H,W,3 uint8) is given."""
    points = depth_to_points(depth, intr, depth_scale)
    keep = (points[:, 2] > 0) & (points[:, 2] <= max_depth_m)
    colors = None
    if rgb is not None:
        rgb = np.asarray(rgb)
        if rgb.shape[:2] != depth.shape:
            raise ValueError(f"colour image {rgb.shape[1]}x{rgb.shape[0]} does not match depth "
                             f"{depth.shape[1]}x{depth.shape[0]}")
        colors = rgb.reshape(-1, rgb.shape[-1])[keep, :3].astype(np.float32) / 255.0
    return points[keep], colors
