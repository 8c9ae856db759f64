"""Rotation conversions used by the grasp head and the executor.

Conventions: quaternions are ``xyzw`` (ROS, scipy) unless the name says ``wxyz`` (MuJoCo);
the 6D representation (Zhou et al., CVPR 2019) is the first two *columns* of the matrix,
flattened column after column: ``[R00, R10, R20, R01, R11, R21]``. Everything is batched
over leading dimensions; scipy does the quaternion work.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


def rot6d_to_matrix(r6: np.ndarray) -> np.ndarray:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt; raises on degenerate (parallel/zero) input."""
    r6 = np.asarray(r6, dtype=np.float64)
    if r6.shape[-1] != 6:
        raise ValueError(f"6D rotation needs a last dimension of 6, got shape {r6.shape}")
    a1, a2 = r6[..., 0:3], r6[..., 3:6]
    n1 = np.linalg.norm(a1, axis=-1, keepdims=True)
    if np.any(n1 < 1e-9) or not np.all(np.isfinite(r6)):
        raise ValueError("6D rotation has a zero or non-finite first column")
    b1 = a1 / n1
    a2p = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
    n2 = np.linalg.norm(a2p, axis=-1, keepdims=True)
    if np.any(n2 < 1e-9):
        raise ValueError("6D rotation has parallel columns")
    b2 = a2p / n2
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=-1)


def matrix_to_rot6d(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 6): the first two columns."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape[-2:] != (3, 3):
        raise ValueError(f"rotation matrix must be (..., 3, 3), got {matrix.shape}")
    return np.concatenate([matrix[..., :, 0], matrix[..., :, 1]], axis=-1)


def geodesic_deg(r1: np.ndarray, r2: np.ndarray) -> np.ndarray | float:
    """Angle in degrees of the relative rotation R1^T R2 (0..180); batched."""
    r1, r2 = np.asarray(r1, dtype=np.float64), np.asarray(r2, dtype=np.float64)
    rel = np.swapaxes(r1, -1, -2) @ r2
    cos = (np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0
    angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return float(angle) if np.ndim(angle) == 0 else angle


def is_rotation(matrix: np.ndarray, tol: float = 1e-6) -> bool:
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape[-2:] != (3, 3):
        return False
    eye = np.swapaxes(matrix, -1, -2) @ matrix
    return bool(np.allclose(eye, np.eye(3), atol=tol)
                and np.allclose(np.linalg.det(matrix), 1.0, atol=tol))


def quat_xyzw_to_matrix(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    if q.shape[-1] != 4 or not np.all(np.isfinite(q)):
        raise ValueError(f"quaternion must be finite (..., 4), got shape {q.shape}")
    if np.any(np.linalg.norm(q, axis=-1) < 1e-9):
        raise ValueError("quaternion has zero norm")
    return Rotation.from_quat(q.reshape(-1, 4)).as_matrix().reshape((*q.shape[:-1], 3, 3))


def matrix_to_quat_xyzw(matrix: np.ndarray, canonical: bool = True) -> np.ndarray:
    """(..., 3, 3) -> (..., 4); ``canonical`` picks the hemisphere with w >= 0."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape[-2:] != (3, 3):
        raise ValueError(f"rotation matrix must be (..., 3, 3), got {matrix.shape}")
    q = Rotation.from_matrix(matrix.reshape(-1, 3, 3)).as_quat(canonical=canonical)
    return q.reshape((*matrix.shape[:-2], 4))


def xyzw_to_wxyz(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    return np.concatenate([q[..., 3:4], q[..., 0:3]], axis=-1)


def wxyz_to_xyzw(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    return np.concatenate([q[..., 1:4], q[..., 0:1]], axis=-1)


def quat_wxyz_to_matrix(q: np.ndarray) -> np.ndarray:
    return quat_xyzw_to_matrix(wxyz_to_xyzw(q))


def matrix_to_quat_wxyz(matrix: np.ndarray) -> np.ndarray:
    return xyzw_to_wxyz(matrix_to_quat_xyzw(matrix))


def rotvec_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    rotvec = np.asarray(rotvec, dtype=np.float64)
    return Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(
        (*rotvec.shape[:-1], 3, 3))


def euler_to_matrix(seq: str, angles, degrees: bool = False) -> np.ndarray:
    """Thin wrapper over scipy's ``from_euler`` (``seq`` such as "xyz" extrinsic, "XYZ"
    intrinsic) so callers need not import scipy for one line."""
    return Rotation.from_euler(seq, angles, degrees=degrees).as_matrix()
