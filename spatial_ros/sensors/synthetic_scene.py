"""A synthetic tabletop seen by a D435-like stereo pair, ray-cast with open3d.

It gives the software camera something meaningful to stream without hardware: the depth
image is rendered from the *depth* sensor (its own intrinsics and viewpoint) and the colour
image from the *colour* sensor, offset by the depth->colour extrinsics, exactly the situation
the SDK's ``rs.align`` exists for. The colour-frame ground-truth depth is kept so tests can
check the SDK's alignment against geometry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spatial_ros.geometry.depth_encoding import m_to_mm
from spatial_ros.geometry.intrinsics import Intrinsics
from spatial_ros.geometry.se3 import Transform


@dataclass
class BoxSpec:
    """Axis-aligned box in the depth camera's optical frame (metres), with an RGB colour."""

    center: tuple[float, float, float]
    size: tuple[float, float, float]
    rgb: tuple[int, int, int]


def _default_boxes() -> list[BoxSpec]:
    return [
        BoxSpec((-0.15, 0.05, 0.70), (0.08, 0.10, 0.08), (200, 30, 30)),   # red "cup"
        BoxSpec((0.12, 0.08, 0.72), (0.16, 0.06, 0.12), (30, 60, 200)),   # blue "box"
        BoxSpec((0.02, -0.10, 0.75), (0.06, 0.06, 0.06), (40, 170, 60)),  # green cube
    ]


@dataclass
class SyntheticSceneConfig:
    width: int = 640
    height: int = 480
    color_fx: float = 615.0
    color_fy: float = 615.0
    depth_fx: float = 385.0
    depth_fy: float = 385.0
    baseline_m: float = 0.015  # depth -> colour translation along x, as on a D435
    table_distance_m: float = 0.8
    table_rgb: tuple[int, int, int] = (150, 120, 90)
    boxes: list[BoxSpec] = field(default_factory=_default_boxes)


@dataclass
class RGBDScene:
    """One frame pair in sensor coordinates, ready for a software_device."""

    color: np.ndarray  # (H, W, 3) uint8, from the colour sensor
    depth_mm: np.ndarray  # (H, W) uint16, from the depth sensor, 0 = no return
    color_intrinsics: Intrinsics
    depth_intrinsics: Intrinsics
    depth_to_color: Transform
    color_depth_mm: np.ndarray | None = None  # ground truth depth in the colour view


def render_synthetic_scene(cfg: SyntheticSceneConfig | None = None) -> RGBDScene:
    import open3d as o3d

    cfg = cfg or SyntheticSceneConfig()
    w, h = cfg.width, cfg.height
    color_intr = Intrinsics(w, h, cfg.color_fx, cfg.color_fy, (w - 1) / 2, (h - 1) / 2)
    depth_intr = Intrinsics(w, h, cfg.depth_fx, cfg.depth_fy, (w - 1) / 2 + 0.5, (h - 1) / 2)
    depth_to_color = Transform(np.eye(3), [cfg.baseline_m, 0.0, 0.0])

    scene = o3d.t.geometry.RaycastingScene()
    colors = []
    table = o3d.geometry.TriangleMesh.create_box(6.0, 6.0, 0.01)
    table.translate([-3.0, -3.0, cfg.table_distance_m])
    scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(table))
    colors.append(cfg.table_rgb)
    for box in cfg.boxes:
        mesh = o3d.geometry.TriangleMesh.create_box(*box.size)
        mesh.translate(np.asarray(box.center) - np.asarray(box.size) / 2)
        scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(mesh))
        colors.append(box.rgb)
    palette = np.array([*colors, (0, 0, 0)], dtype=np.float32)

    def cast(intr: Intrinsics, world_to_cam: np.ndarray) -> tuple[np.ndarray, dict]:
        rays = scene.create_rays_pinhole(o3d.core.Tensor(intr.K), o3d.core.Tensor(world_to_cam),
                                         intr.width, intr.height)
        hit = scene.cast_rays(rays)
        # z along the optical axis = t_hit times the ray direction's component along it.
        dirs = rays.numpy()[..., 3:6] @ world_to_cam[:3, :3].T
        z = hit["t_hit"].numpy() * dirs[..., 2]
        return np.where(np.isfinite(z), z, 0.0), hit

    depth_m, _ = cast(depth_intr, np.eye(4))
    color_z, hit = cast(color_intr, depth_to_color.as_matrix())
    ids = hit["geometry_ids"].numpy().astype(np.int64)
    ids[ids >= len(colors)] = len(colors)  # INVALID_ID -> black background
    normals = hit["primitive_normals"].numpy()
    shade = 0.55 + 0.45 * np.abs(normals[..., 2:3])  # faces towards the camera are brighter
    color = np.clip(palette[ids] * shade, 0, 255).astype(np.uint8)
    return RGBDScene(color=color, depth_mm=m_to_mm(depth_m), color_intrinsics=color_intr,
                     depth_intrinsics=depth_intr, depth_to_color=depth_to_color,
                     color_depth_mm=m_to_mm(color_z))


def load_image_pair(rgb_path: str, depth_path: str, intrinsics: Intrinsics) -> RGBDScene:
    """An RGB PNG/JPEG and a uint16-millimetre depth PNG that are already registered (same
    viewpoint and intrinsics, like the dataset's ``rgb/`` and ``depth/`` files)."""
    import imageio.v3 as iio

    rgb = np.asarray(iio.imread(rgb_path))
    depth = np.asarray(iio.imread(depth_path))
    if rgb.ndim == 3 and rgb.shape[2] == 4:
        rgb = rgb[..., :3]
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"{rgb_path}: expected an 8-bit RGB image, got {rgb.dtype} {rgb.shape}")
    if depth.ndim != 2 or depth.dtype != np.uint16:
        raise ValueError(f"{depth_path}: expected a single-channel uint16 depth PNG (mm), got "
                         f"{depth.dtype} {depth.shape}")
    if rgb.shape[:2] != depth.shape:
        raise ValueError(f"colour {rgb_path} is {rgb.shape[1]}x{rgb.shape[0]} but depth "
                         f"{depth_path} is {depth.shape[1]}x{depth.shape[0]}")
    if (intrinsics.width, intrinsics.height) != (depth.shape[1], depth.shape[0]):
        raise ValueError(f"intrinsics are for {intrinsics.width}x{intrinsics.height} but the "
                         f"images are {depth.shape[1]}x{depth.shape[0]}")
    return RGBDScene(color=np.ascontiguousarray(rgb), depth_mm=depth, color_intrinsics=intrinsics,
                     depth_intrinsics=intrinsics, depth_to_color=Transform(),
                     color_depth_mm=depth)
