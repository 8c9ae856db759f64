"""Ray-cast RGB-D frames of coloured boxes on a table (open3d), with exact ground truth.

Lets the perception layer be tested and benchmarked with known geometry (every pixel's
object id, every object's pose) independently of the MuJoCo simulator; depth follows the
RealSense convention (uint16 millimetres, 0 = no data) and can get holes and noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import open3d as o3d

from spatial_ros.geometry.intrinsics import Intrinsics
from spatial_ros.geometry.se3 import Transform, look_at

COLOURS = {"red": (200, 30, 30), "green": (40, 170, 60), "blue": (40, 70, 210),
           "yellow": (220, 200, 40)}
TABLE_RGB = (150, 120, 90)


@dataclass(frozen=True)
class Box:
    name: str  # colour name, e.g. "red"
    center: tuple[float, float, float]  # metres, base frame
    size: tuple[float, float, float]


@dataclass(frozen=True)
class SyntheticFrame:
    rgb: np.ndarray  # (H, W, 3) uint8
    depth_mm: np.ndarray  # (H, W) uint16
    segmentation: np.ndarray  # (H, W) int: box index, -1 table/background
    intrinsics: Intrinsics
    camera_to_base: Transform  # camera optical frame -> base
    boxes: tuple[Box, ...]

    @property
    def depth_m(self) -> np.ndarray:
        return self.depth_mm.astype(np.float32) * np.float32(0.001)


@dataclass
class SceneSpec:
    boxes: tuple[Box, ...] = (
        Box("red", (-0.10, 0.05, 0.03), (0.06, 0.06, 0.06)),
        Box("blue", (0.10, 0.10, 0.025), (0.05, 0.05, 0.05)),
    )
    eye: tuple[float, float, float] = (0.0, -0.45, 0.55)
    target: tuple[float, float, float] = (0.0, 0.08, 0.0)
    intrinsics: Intrinsics = field(
        default_factory=lambda: Intrinsics(640, 480, 615.0, 615.0, 319.5, 239.5))
    table_far_y: float = 1.0  # the table spans x, y in [-1, 1] x [-1, table_far_y]
    floor_z: float | None = None  # a floor this far below the table top (seen past its edge)


def render(spec: SceneSpec | None = None, noise_mm: float = 0.0, hole_fraction: float = 0.0,
           seed: int = 0) -> SyntheticFrame:
    spec = spec or SceneSpec()
    intr = spec.intrinsics
    cam = look_at(spec.eye, spec.target)
    scene = o3d.t.geometry.RaycastingScene()
    table = o3d.geometry.TriangleMesh.create_box(2.0, 1.0 + spec.table_far_y, 0.02).translate(
        (-1.0, -1.0, -0.02))
    ids = [scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(table))]
    if spec.floor_z is not None:
        floor = o3d.geometry.TriangleMesh.create_box(8.0, 8.0, 0.02).translate(
            (-4.0, -4.0, spec.floor_z - 0.02))
        scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(floor))
    for box in spec.boxes:
        mesh = o3d.geometry.TriangleMesh.create_box(*box.size)
        mesh.translate(np.asarray(box.center) - np.asarray(box.size) / 2)
        ids.append(scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(mesh)))

    v, u = np.mgrid[0:intr.height, 0:intr.width].astype(np.float64)
    dirs_cam = np.stack([(u - intr.cx) / intr.fx, (v - intr.cy) / intr.fy,
                         np.ones_like(u)], axis=-1).reshape(-1, 3)
    dirs = cam.apply_rotation(dirs_cam)  # z_cam component stays 1 -> t_hit is depth
    rays = np.hstack([np.broadcast_to(cam.translation, dirs.shape), dirs]).astype(np.float32)
    hit = scene.cast_rays(o3d.core.Tensor(rays))
    depth = hit["t_hit"].numpy().reshape(intr.height, intr.width).astype(np.float64)
    geom = hit["geometry_ids"].numpy().reshape(intr.height, intr.width).astype(np.int64)
    normals = hit["primitive_normals"].numpy().reshape(intr.height, intr.width, 3)

    seg = np.full(geom.shape, -1, dtype=np.int64)
    rgb = np.zeros((*geom.shape, 3), dtype=np.float64)
    rgb[:] = TABLE_RGB
    for i, box in enumerate(spec.boxes):
        mask = geom == ids[i + 1]
        seg[mask] = i
        rgb[mask] = COLOURS.get(box.name, (128, 128, 128))
    shade = 0.55 + 0.45 * np.abs(normals @ np.array([0.3, -0.4, 0.87]))
    rgb = np.clip(rgb * shade[..., None], 0, 255)

    rng = np.random.default_rng(seed)
    valid = np.isfinite(depth)
    depth = np.where(valid, depth, 0.0)
    if noise_mm > 0:
        depth = np.where(valid, depth + rng.normal(0.0, noise_mm * 1e-3, depth.shape), 0.0)
    depth_mm = np.clip(np.round(depth * 1000.0), 0, 65535).astype(np.uint16)
    if hole_fraction > 0:
        depth_mm[rng.random(depth_mm.shape) < hole_fraction] = 0
    return SyntheticFrame(rgb.astype(np.uint8), depth_mm, seg, intr, cam, tuple(spec.boxes))


def box_distance(point_base: np.ndarray, box: Box) -> float:
    """Euclidean distance from a base-frame point to the box's solid (0 inside)."""
    d = np.abs(np.asarray(point_base) - np.asarray(box.center)) - np.asarray(box.size) / 2
    return float(np.linalg.norm(np.maximum(d, 0.0)))
