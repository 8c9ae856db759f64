"""Geometry speed: full-frame back-projection vs open3d, and the SpatialBot depth query.

    .venv/bin/python bench/bench_geometry.py [--quick]

Prints a Markdown table; every ratio compares timings taken side by side in this one run.
Targets (issue 3): 640x480 depth -> points <= 3 ms and >= 3x faster than
open3d.geometry.PointCloud.create_from_depth_image; depth query <= 50 us.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import timeit

import numpy as np
import open3d as o3d
import pyrealsense2 as rs

from spatial_ros.geometry.backproject import backproject_pixels, depth_to_points, ray_grid
from spatial_ros.geometry.depth_query import query_depth
from spatial_ros.geometry.intrinsics import Intrinsics

INTR = Intrinsics(640, 480, 615.3, 615.9, 321.7, 238.4)
DISTORTED = Intrinsics(640, 480, 615.3, 615.9, 321.7, 238.4, "plumb_bob",
                       (-0.05, 0.03, 0.001, 0.0005, 0.0))


def per_call_s(fn, number: int, repeat: int) -> float:
    """Median over ``repeat`` runs of the mean time per call (the machine is shared, so the
    median is steadier than the mean and more honest than the minimum)."""
    return statistics.median(t / number for t in timeit.repeat(fn, number=number,
                                                                repeat=repeat))


def depth_frame() -> np.ndarray:
    rng = np.random.default_rng(0)
    depth = rng.integers(300, 3000, (480, 640)).astype(np.uint16)
    depth[rng.random((480, 640)) < 0.05] = 0  # 5 % holes, like a real D435 frame
    return depth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    n, rep = (20, 5) if args.quick else (100, 9)
    depth = depth_frame()
    depth_m = depth.astype(np.float32) / 1000.0
    out = np.empty((depth.size, 3), np.float32)
    o3d_intr = o3d.camera.PinholeCameraIntrinsic(640, 480, INTR.fx, INTR.fy, INTR.cx, INTR.cy)
    ray_grid(INTR)
    ray_grid(DISTORTED)

    def o3d_cloud():
        return o3d.geometry.PointCloud.create_from_depth_image(
            o3d.geometry.Image(depth), o3d_intr, depth_scale=1000.0, depth_trunc=1e6)

    rows = []
    t_o3d = per_call_s(o3d_cloud, n, rep)
    t_ours = per_call_s(lambda: depth_to_points(depth, INTR), n, rep)
    t_out = per_call_s(lambda: depth_to_points(depth, INTR, out=out), n, rep)
    t_dist = per_call_s(lambda: depth_to_points(depth, DISTORTED), n, rep)
    t_float = per_call_s(lambda: depth_to_points(depth_m, INTR), n, rep)
    t_grid = per_call_s(lambda: (ray_grid.cache_clear(), ray_grid(DISTORTED)), 2, 3)
    rows += [
        ("open3d create_from_depth_image (uint16 640x480)", t_o3d * 1e3, "ms", "1.00x", ""),
        ("depth_to_points uint16 640x480", t_ours * 1e3, "ms", f"{t_o3d / t_ours:.2f}x",
         "<= 3 ms, >= 3x open3d"),
        ("depth_to_points uint16, preallocated out", t_out * 1e3, "ms", f"{t_o3d / t_out:.2f}x",
         ""),
        ("depth_to_points float metres (NaN-safe)", t_float * 1e3, "ms",
         f"{t_o3d / t_float:.2f}x", ""),
        ("depth_to_points plumb_bob distortion (cached rays)", t_dist * 1e3, "ms",
         f"{t_o3d / t_dist:.2f}x", ""),
        ("ray grid build, plumb_bob (once per camera)", t_grid * 1e3, "ms", "", ""),
    ]
    ray_grid(INTR)

    # Sparse pixels: ours (vectorized) vs librealsense's per-pixel deprojection.
    rsi = DISTORTED.to_rs()
    rng = np.random.default_rng(1)
    u, v, z = rng.uniform(0, 640, 1000), rng.uniform(0, 480, 1000), rng.uniform(0.3, 3, 1000)
    uvz = list(zip(u.tolist(), v.tolist(), z.tolist(), strict=True))
    t_rs = per_call_s(lambda: [rs.rs2_deproject_pixel_to_point(rsi, [a, b], c)
                               for a, b, c in uvz], max(n // 10, 2), rep)
    t_bp = per_call_s(lambda: backproject_pixels(u, v, z, DISTORTED), n, rep)
    rows += [
        ("rs2_deproject_pixel_to_point x1000 (python loop)", t_rs * 1e3, "ms", "1.00x", ""),
        ("backproject_pixels x1000 (plumb_bob)", t_bp * 1e3, "ms", f"{t_rs / t_bp:.2f}x", ""),
    ]

    holes = depth_m.copy()
    holes[190:211, 290:311] = 0
    holes[200, 308] = 1.0
    qn = n * 50
    for stat in ("median", "center", "mean", "min", "max"):
        t = per_call_s(lambda s=stat: query_depth(depth_m, 300, 200, stat=s), qn, rep)
        rows.append((f"query_depth 5x5 {stat} (float m)", t * 1e6, "us", "",
                     "<= 50 us" if stat == "median" else ""))
    t = per_call_s(lambda: query_depth(depth, 300, 200), qn, rep)
    rows.append(("query_depth 5x5 median (uint16 mm)", t * 1e6, "us", "", "<= 50 us"))
    t = per_call_s(lambda: query_depth(holes, 300, 200, search_radius=10), qn, rep)
    rows.append(("query_depth hole -> nearest valid within 10 px", t * 1e6, "us", "", ""))

    print(f"Machine: {platform.processor() or platform.machine()}, numpy {np.__version__}, "
          f"open3d {o3d.__version__}; median of {rep} repeats; shared 2-core box, so "
          f"absolute times are pessimistic.\n")
    print("| operation | time | unit | speed-up vs baseline row | target |")
    print("|---|---:|---|---:|---|")
    for name, value, unit, ratio, target in rows:
        print(f"| {name} | {value:.3f} | {unit} | {ratio} | {target} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
