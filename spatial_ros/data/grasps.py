"""Ground-truth 7-DoF grasps derived from an object's pose and shape.

Convention (shared with ``spatial_ros.sim.robots.gripper``): the grasp frame's +z is the
approach direction (into the object), the fingers close along +y, x = y × z. A top-down grasp
approaches along world -z and closes across the object's narrower horizontal side, at the
object's centre. A side grasp (the ``grasp_side`` task kind) approaches horizontally along the
camera's line of sight to the object and closes across it, level with the table, at the
object's centre. A parallel-jaw grasp is symmetric under a half turn about the approach axis,
so rotation errors take the smallest over it (``grasp_rotation_error_deg``). The object may add
more: a cube approached along a face is the same grasp after a quarter turn, a sphere or an
upright cylinder approached along its axis after any turn (``approach_symmetry``). Its
ground-truth yaw is then an arbitrary choice, so an error that counted it would score a
guess, not the grasp.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from spatial_ros.data.scene_graph import ObjectNode, SceneGraph
from spatial_ros.geometry.rotations import geodesic_deg


@dataclass
class Grasp:
    position: np.ndarray  # metres
    rotation: np.ndarray  # 3x3, columns = grasp x, y (closing), z (approach)
    width: float  # opening needed, metres

    def to_dict(self) -> dict[str, Any]:
        return {"position": [round(float(v), 5) for v in self.position],
                "rotation": np.round(self.rotation, 6).tolist(), "width": round(self.width, 4)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Grasp:
        return cls(np.asarray(d["position"], float), np.asarray(d["rotation"], float),
                   float(d["width"]))


def top_down_grasp(o: ObjectNode, max_width: float = 0.085, margin: float = 0.01
                   ) -> Grasp | None:
    """A top-down grasp in the base frame, or None when the object is not graspable or is
    wider than the gripper opens on both horizontal sides."""
    if not o.graspable:
        return None
    options = []
    for i in (0, 1):
        axis = o.rotation[:, i].copy()
        axis[2] = 0.0
        n = np.linalg.norm(axis)
        if n < 0.3:  # that object axis points mostly up/down: not a horizontal side
            continue
        options.append((o.size[i], axis / n))
    if not options:  # object lies on its side: close across its projected footprint
        lo, hi = o.aabb
        options = [((hi - lo)[0], np.array([1.0, 0.0, 0.0])),
                   ((hi - lo)[1], np.array([0.0, 1.0, 0.0]))]
    extent, y = min(options, key=lambda e: e[0])
    width = float(extent) + margin
    if width > max_width:
        return None
    z = np.array([0.0, 0.0, -1.0])
    x = np.cross(y, z)
    position = o.position.copy()
    return Grasp(position, np.column_stack([x, y, z]), width)


def side_grasp(o: ObjectNode, camera_position: np.ndarray, max_width: float = 0.085,
               margin: float = 0.01, min_height: float = 0.04) -> Grasp | None:
    """A horizontal grasp facing away from the camera, or None when the object is not
    graspable, too flat for the fingers to clear the table, or too wide across."""
    if not o.graspable:
        return None
    lo, hi = o.aabb
    if hi[2] - lo[2] < min_height:
        return None
    z = o.position - np.asarray(camera_position, float)
    z[2] = 0.0
    n = np.linalg.norm(z)
    if n < 1e-6:  # camera straight above: no "side" to come from
        return None
    z /= n
    y = np.cross([0.0, 0.0, 1.0], z)  # horizontal closing axis across the line of sight
    width = float(np.abs(o.rotation.T @ y) @ np.asarray(o.size)) + margin
    if width > max_width:
        return None
    x = np.cross(y, z)
    return Grasp(o.position.copy(), np.column_stack([x, y, z]), width)


def to_camera(grasp: Grasp, g: SceneGraph) -> Grasp:
    """The same grasp expressed in the camera optical frame."""
    R = g.camera_pose[:3, :3]
    return Grasp(g.to_camera(grasp.position[None])[0], R.T @ grasp.rotation, grasp.width)


#: symmetry order about the approach axis: turns by 360° / order give an equal grasp;
#: ANY_TURN: every turn does (only the approach direction matters).
ANY_TURN = 0
HALF_TURN = 2
QUARTER_TURN = 4
_ALONG_AXIS_COS = np.cos(np.deg2rad(10.0))  # approach within 10° of an object axis


def approach_symmetry(category: str, object_rotation: np.ndarray,
                      approach: np.ndarray) -> int:
    """Symmetry order of a parallel-jaw grasp on an object of ``category`` about the grasp's
    ``approach`` direction (same frame as ``object_rotation``'s columns, the object's axes)."""
    if category == "sphere":
        return ANY_TURN
    axes = np.asarray(object_rotation, dtype=float)
    a = np.asarray(approach, dtype=float) / max(float(np.linalg.norm(approach)), 1e-12)
    along = np.abs(axes.T @ a) >= _ALONG_AXIS_COS
    if category == "cylinder" and along[2]:  # the cylinder's axis is its local z
        return ANY_TURN
    if category == "cube" and along.any():
        return QUARTER_TURN
    return HALF_TURN


def grasp_rotation_error_deg(r_pred: np.ndarray, r_true: np.ndarray,
                             symmetry: int = HALF_TURN) -> float:
    """Geodesic angle, the smallest over the grasp's turns about its approach axis
    (``symmetry`` as ``approach_symmetry`` returns); with ``ANY_TURN`` the angle between the
    two approach directions."""
    r_pred, r_true = np.asarray(r_pred, dtype=float), np.asarray(r_true, dtype=float)
    if symmetry == ANY_TURN:
        cos = float(r_pred[:, 2] @ r_true[:, 2])
        return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    turns = [Rotation.from_euler("z", 2.0 * np.pi * k / symmetry).as_matrix()
             for k in range(symmetry)]
    return float(min(geodesic_deg(r_pred, r_true @ t) for t in turns))


def _approach_in_base(camera_pose: np.ndarray, grasp_rotation_camera: np.ndarray) -> np.ndarray:
    """A camera-frame grasp's approach (its z axis) in the base frame."""
    return np.asarray(camera_pose, float)[:3, :3] @ np.asarray(grasp_rotation_camera,
                                                               float)[:, 2]


def sample_grasp_symmetry(target: dict | None, camera_pose: np.ndarray,
                          grasp_rotation_camera: np.ndarray) -> int:
    """``approach_symmetry`` of a dataset sample's grasp (stored in the camera frame) on its
    target object (``RefSample.target_object``); ``HALF_TURN`` when the sample does not say
    what the object is (bags)."""
    if target is None or "rotation" not in target:
        return HALF_TURN
    return approach_symmetry(str(target.get("category")), np.asarray(target["rotation"]),
                             _approach_in_base(camera_pose, grasp_rotation_camera))


SIDE_APPROACH_MAX_DOT = 0.5  # |approach . world up| below this: within 30 deg of level


def is_side_grasp(camera_pose: np.ndarray | None, grasp_rotation_camera: np.ndarray) -> bool:
    """Whether a dataset sample's grasp (camera frame) approaches level with the table, as
    ``side_grasp`` builds, rather than from above: read off the grasp, not the prompt, so it
    labels any kind that asks for one (the model's side-grasp gate learns it)."""
    if camera_pose is None:
        return False
    return bool(abs(_approach_in_base(camera_pose, grasp_rotation_camera)[2])
                < SIDE_APPROACH_MAX_DOT)
