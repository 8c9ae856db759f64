"""A metric 3D scene graph of one camera frame (SpatialVLM / SpatialRGPT style).

Objects carry what referring expressions talk about (category, colour name, metric size,
3D box and pose, how much of them the camera sees); relations between them are computed
in ``spatial_ros.data.relations`` from these metric quantities, never from pixels.
All positions are in the robot base frame (z up); ``camera_pose`` maps camera-optical
coordinates into that frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class ObjectNode:
    """One object: ``size`` is the full box extent along the object's own axes (metres)."""

    id: int
    category: str
    colour: str
    size: tuple[float, float, float]
    position: np.ndarray
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    pixels: int = 0
    centroid_px: tuple[float, float] | None = None
    graspable: bool = True
    is_container: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        self.position = np.asarray(self.position, dtype=float).reshape(3)
        self.rotation = np.asarray(self.rotation, dtype=float).reshape(3, 3)
        self.size = tuple(float(s) for s in self.size)
        if len(self.size) != 3 or min(self.size) <= 0:
            raise ValueError(f"object {self.id}: size must be 3 positive extents, got {self.size}")

    def corners(self) -> np.ndarray:
        """The 8 box corners in the base frame."""
        half = np.asarray(self.size) / 2.0
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        return self.position + (signs * half) @ self.rotation.T

    @property
    def aabb(self) -> tuple[np.ndarray, np.ndarray]:
        c = self.corners()
        return c.min(axis=0), c.max(axis=0)

    @property
    def bottom(self) -> float:
        return float(self.aabb[0][2])

    @property
    def top(self) -> float:
        return float(self.aabb[1][2])

    @property
    def height(self) -> float:
        return self.top - self.bottom

    @property
    def volume(self) -> float:
        return float(np.prod(self.size))

    @property
    def footprint_radius(self) -> float:
        """Radius of the circle around the centre that covers the object's table footprint."""
        lo, hi = self.aabb
        return float(np.linalg.norm((hi - lo)[:2]) / 2.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": int(self.id), "name": self.name, "category": self.category,
            "colour": self.colour, "size": [round(s, 4) for s in self.size],
            "position": [round(float(v), 4) for v in self.position],
            "rotation": np.round(self.rotation, 5).tolist(), "pixels": int(self.pixels),
            "centroid_px": None if self.centroid_px is None
            else [round(float(v), 2) for v in self.centroid_px],
            "graspable": bool(self.graspable), "is_container": bool(self.is_container),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ObjectNode:
        return cls(
            id=int(d["id"]), category=d["category"], colour=d["colour"], size=tuple(d["size"]),
            position=np.asarray(d["position"]), rotation=np.asarray(d["rotation"]),
            pixels=int(d.get("pixels", 0)),
            centroid_px=None if d.get("centroid_px") is None else tuple(d["centroid_px"]),
            graspable=bool(d.get("graspable", True)), is_container=bool(d.get("is_container")),
            name=d.get("name", ""),
        )


def camera_view_axes(camera_rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(right, forward) on the table plane of a camera whose optical-frame rotation (z ahead,
    x image right) is given in a z-up frame: what "left of" and "behind" mean to it."""
    R = np.asarray(camera_rotation, dtype=float)
    right = R[:, 0].copy()
    right[2] = 0.0
    fwd = R[:, 2].copy()
    fwd[2] = 0.0
    if np.linalg.norm(fwd) < 1e-6:  # camera looking straight down: image up is forward
        fwd = -R[:, 1].copy()
        fwd[2] = 0.0
    return right / np.linalg.norm(right), fwd / np.linalg.norm(fwd)


@dataclass
class SceneGraph:
    """Objects of one frame plus the camera and table geometry that views are defined by."""

    objects: list[ObjectNode]
    camera_pose: np.ndarray  # 4x4 camera optical -> base
    width: int
    height: int
    table_height: float = 0.0
    table_bounds: tuple[float, float, float, float] | None = None  # xmin, xmax, ymin, ymax
    min_target_pixels: int = 150
    min_pool_pixels: int = 10

    def __post_init__(self) -> None:
        self.camera_pose = np.asarray(self.camera_pose, dtype=float).reshape(4, 4)
        ids = [o.id for o in self.objects]
        if len(ids) != len(set(ids)):
            raise ValueError(f"scene graph: duplicate object ids {ids}")

    def by_id(self, oid: int) -> ObjectNode:
        for o in self.objects:
            if o.id == oid:
                return o
        raise KeyError(f"no object with id {oid}")

    @property
    def pool(self) -> list[ObjectNode]:
        """Objects seen at all: they count when checking that an expression is unambiguous."""
        return [o for o in self.objects if o.pixels >= self.min_pool_pixels]

    @property
    def referable(self) -> list[ObjectNode]:
        """Objects visible enough to be a target or an anchor."""
        return [o for o in self.objects if o.pixels >= self.min_target_pixels]

    @property
    def camera_position(self) -> np.ndarray:
        return self.camera_pose[:3, 3]

    def to_camera(self, points_base: np.ndarray) -> np.ndarray:
        """Base-frame points (N,3) into the camera optical frame."""
        R, t = self.camera_pose[:3, :3], self.camera_pose[:3, 3]
        return (np.asarray(points_base, dtype=float).reshape(-1, 3) - t) @ R

    def view_axes(self, view: str) -> tuple[np.ndarray, np.ndarray]:
        """(right, forward) horizontal unit vectors of a viewer: the camera or the robot base.

        The camera's axes are its optical x and z projected onto the table plane; the robot
        looks along +x of its base with +y on its left (REP-103).
        """
        if view == "robot":
            return np.array([0.0, -1.0, 0.0]), np.array([1.0, 0.0, 0.0])
        if view != "camera":
            raise ValueError(f"unknown view {view!r}; expected 'camera' or 'robot'")
        return camera_view_axes(self.camera_pose[:3, :3])

    def viewer_position(self, view: str) -> np.ndarray:
        return self.camera_position if view == "camera" else np.zeros(3)

    def to_dict(self) -> dict[str, Any]:
        return {
            "objects": [o.to_dict() for o in self.objects],
            "camera_pose": np.round(self.camera_pose, 6).tolist(),
            "width": self.width, "height": self.height, "table_height": self.table_height,
            "table_bounds": None if self.table_bounds is None else list(self.table_bounds),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SceneGraph:
        tb = d.get("table_bounds")
        return cls(
            objects=[ObjectNode.from_dict(o) for o in d["objects"]],
            camera_pose=np.asarray(d["camera_pose"]), width=int(d["width"]),
            height=int(d["height"]), table_height=float(d.get("table_height", 0.0)),
            table_bounds=None if tb is None else tuple(tb),
        )


def visible_pixels(segmentation: np.ndarray, ids: list[int]) -> dict[int, tuple[int, tuple]]:
    """Visible pixel count and centroid (u, v) of each object id in a segmentation image."""
    seg = np.asarray(segmentation)
    out: dict[int, tuple[int, tuple]] = {}
    for oid in ids:
        vs, us = np.nonzero(seg == oid)
        out[oid] = (len(us), (float(us.mean()), float(vs.mean())) if len(us) else None)
    return out
