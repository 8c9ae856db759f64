"""Camera -> robot base transform from configuration.

On a ROS install with tf2 the node asks tf for the transform at the frame's stamp; here
(and as the fallback there) the hand-eye calibration comes from config as a translation
and a quaternion, validated on load.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spatial_ros.geometry.se3 import Transform


@dataclass
class ExtrinsicsConfig:
    """Pose of ``camera_frame`` expressed in ``base_frame`` (maps camera points to base)."""

    base_frame: str = "base_link"
    camera_frame: str = "camera_color_optical_frame"
    translation: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    quaternion_xyzw: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 1.0])


@dataclass(frozen=True)
class CameraToBase:
    transform: Transform  # p_base = transform.apply(p_camera)
    base_frame: str
    camera_frame: str

    @classmethod
    def from_config(cls, cfg: ExtrinsicsConfig) -> CameraToBase:
        q = np.asarray(cfg.quaternion_xyzw, dtype=np.float64)
        if q.shape != (4,) or not np.all(np.isfinite(q)) or abs(np.linalg.norm(q) - 1) > 1e-3:
            raise ValueError(f"extrinsics quaternion_xyzw must be 4 numbers of unit norm, got "
                             f"{list(cfg.quaternion_xyzw)}")
        if len(cfg.translation) != 3:
            raise ValueError(f"extrinsics translation must be 3 numbers, got "
                             f"{list(cfg.translation)}")
        return cls(Transform.from_quat(cfg.translation, q / np.linalg.norm(q)),
                   cfg.base_frame, cfg.camera_frame)

    @classmethod
    def from_matrix(cls, matrix: np.ndarray, base_frame: str = "base_link",
                    camera_frame: str = "camera_color_optical_frame") -> CameraToBase:
        return cls(Transform.from_matrix(matrix), base_frame, camera_frame)

    def point(self, p_cam) -> np.ndarray:
        return self.transform.apply(np.asarray(p_cam, dtype=np.float64))

    def orientation(self, r_cam: np.ndarray) -> np.ndarray:
        return self.transform.rotation @ np.asarray(r_cam, dtype=np.float64)
