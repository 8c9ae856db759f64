"""Rigid transforms (SE(3)) with named frames kept out of the math.

``Transform(rotation, translation)`` maps points from a *source* frame into a *target*
frame: ``p_target = R @ p_source + t``. ``a @ b`` composes (apply b first), so
``T_base_cam @ T_cam_obj`` is ``T_base_obj``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spatial_ros.geometry.rotations import (
    is_rotation,
    matrix_to_quat_xyzw,
    quat_xyzw_to_matrix,
)


@dataclass(frozen=True)
class Transform:
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self) -> None:
        r = np.array(self.rotation, dtype=np.float64)
        t = np.array(self.translation, dtype=np.float64).reshape(-1)
        if r.shape != (3, 3) or not is_rotation(r, tol=1e-5):
            raise ValueError(f"Transform: rotation must be a proper 3x3 rotation matrix, got "
                             f"{np.array2string(r, precision=4)}")
        if t.shape != (3,) or not np.all(np.isfinite(t)):
            raise ValueError(f"Transform: translation must be 3 finite numbers, got {t}")
        r.setflags(write=False)
        t.setflags(write=False)
        object.__setattr__(self, "rotation", r)
        object.__setattr__(self, "translation", t)

    @classmethod
    def identity(cls) -> Transform:
        return cls()

    @classmethod
    def from_matrix(cls, matrix: np.ndarray) -> Transform:
        m = np.asarray(matrix, dtype=np.float64)
        if m.shape != (4, 4) or not np.allclose(m[3], [0, 0, 0, 1]):
            raise ValueError(f"Transform: expected a homogeneous 4x4 matrix, got shape {m.shape}")
        return cls(m[:3, :3], m[:3, 3])

    @classmethod
    def from_quat(cls, translation, quat_xyzw) -> Transform:
        return cls(quat_xyzw_to_matrix(quat_xyzw), translation)

    def as_matrix(self) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = self.rotation
        m[:3, 3] = self.translation
        return m

    def to_quat(self) -> tuple[np.ndarray, np.ndarray]:
        """(translation, quaternion xyzw) — the fields of a geometry_msgs/Pose."""
        return self.translation.copy(), matrix_to_quat_xyzw(self.rotation)

    def inverse(self) -> Transform:
        rt = self.rotation.T
        return Transform(rt, -rt @ self.translation)

    def compose(self, other: Transform) -> Transform:
        """self ∘ other: apply ``other`` first, then ``self``."""
        return Transform(self.rotation @ other.rotation,
                         self.rotation @ other.translation + self.translation)

    def __matmul__(self, other: Transform) -> Transform:
        if not isinstance(other, Transform):
            return NotImplemented
        return self.compose(other)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Transforms (3,) or (N,3) points."""
        p = np.asarray(points, dtype=np.float64)
        if p.shape[-1] != 3:
            raise ValueError(f"points must have a last dimension of 3, got shape {p.shape}")
        return p @ self.rotation.T + self.translation

    def apply_rotation(self, vectors: np.ndarray) -> np.ndarray:
        """Rotates direction vectors (no translation)."""
        return np.asarray(vectors, dtype=np.float64) @ self.rotation.T

    def __repr__(self) -> str:
        t = np.array2string(self.translation, precision=4)
        q = np.array2string(matrix_to_quat_xyzw(self.rotation), precision=4)
        return f"Transform(t={t}, q_xyzw={q})"


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> Transform:
    """Pose of a REP-103 *optical* frame (z forward, x right, y down) at ``eye`` looking at
    ``target``, in the frame of the inputs: camera optical -> world."""
    eye, target, up = (np.asarray(a, dtype=np.float64) for a in (eye, target, up))
    z = target - eye
    if np.linalg.norm(z) < 1e-9:
        raise ValueError("look_at: eye and target coincide")
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("look_at: viewing direction is parallel to 'up'")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return Transform(np.stack([x, y, z], axis=1), eye)
