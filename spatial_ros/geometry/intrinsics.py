"""Pinhole camera intrinsics with lens distortion, shared by every layer.

One frozen type so the camera node, the simulator, the dataset and the model agree on what
``fx`` or ``coeffs`` mean; conversions from the two sources we meet in practice
(``sensor_msgs/CameraInfo`` and ``pyrealsense2.intrinsics``) live here and nowhere else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

# pyrealsense2 distortion enum name -> our model name. realsense-ros publishes "plumb_bob" for
# the Brown-Conrady family and "equidistant" for Kannala-Brandt; we keep the inverse variant
# distinct because its deprojection is closed-form while plumb_bob needs iteration.
_RS_TO_MODEL = {
    "none": "plumb_bob",
    "brown_conrady": "plumb_bob",
    "modified_brown_conrady": "rs_modified_brown_conrady",
    "inverse_brown_conrady": "rs_inverse_brown_conrady",
    "kannala_brandt4": "equidistant",
    "ftheta": "rs_ftheta",
}
MODELS = ("plumb_bob", "rational_polynomial", "equidistant", "rs_inverse_brown_conrady",
          "rs_modified_brown_conrady", "rs_ftheta")


@dataclass(frozen=True)
class Intrinsics:
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    model: str = "plumb_bob"
    coeffs: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise ValueError(f"intrinsics: image size must be positive, got "
                             f"{self.width}x{self.height}")
        if not (np.isfinite(self.fx) and np.isfinite(self.fy) and self.fx > 0 and self.fy > 0):
            raise ValueError(f"intrinsics: focal lengths must be positive and finite, got "
                             f"fx={self.fx} fy={self.fy}")
        if not (np.isfinite(self.cx) and np.isfinite(self.cy)):
            raise ValueError(f"intrinsics: principal point must be finite, got "
                             f"cx={self.cx} cy={self.cy}")
        if self.model not in MODELS:
            raise ValueError(f"intrinsics: unknown distortion model '{self.model}'; "
                             f"known: {list(MODELS)}")
        coeffs = tuple(float(c) for c in self.coeffs)
        if not all(np.isfinite(coeffs)):
            raise ValueError(f"intrinsics: distortion coefficients must be finite: {coeffs}")
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))
        for name in ("fx", "fy", "cx", "cy"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "coeffs", coeffs)

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), the order OpenCV and PIL use."""
        return self.width, self.height

    @property
    def has_distortion(self) -> bool:
        return any(c != 0.0 for c in self.coeffs)

    def scaled(self, width: int, height: int) -> Intrinsics:
        """Intrinsics of the same camera resized to ``width`` x ``height`` (pixel-centre
        convention: a pixel's centre at i + 0.5 maps to (i + 0.5) * s)."""
        sx, sy = width / self.width, height / self.height
        return replace(self, width=width, height=height, fx=self.fx * sx, fy=self.fy * sy,
                       cx=(self.cx + 0.5) * sx - 0.5, cy=(self.cy + 0.5) * sy - 0.5)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Pinhole projection (distortion ignored) of (N,3) camera-frame points to (N,2) pixels."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        z = points[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.fx * points[:, 0] / z + self.cx
            v = self.fy * points[:, 1] / z + self.cy
        return np.stack([u, v], axis=1)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["coeffs"] = list(self.coeffs)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Intrinsics:
        allowed = {"width", "height", "fx", "fy", "cx", "cy", "model", "coeffs"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"intrinsics: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
        missing = sorted({"width", "height", "fx", "fy", "cx", "cy"} - set(data))
        if missing:
            raise ValueError(f"intrinsics: missing key(s) {missing}")
        data = dict(data)
        if "coeffs" in data:
            data["coeffs"] = tuple(data["coeffs"])
        return cls(**data)

    @classmethod
    def from_camera_info(cls, msg: Any) -> Intrinsics:
        """From a ``sensor_msgs/CameraInfo`` (or anything with ``width, height, k, d,
        distortion_model``). An all-zero K (an uncalibrated camera) is an error."""
        k = np.asarray(msg.k, dtype=np.float64).reshape(-1)
        if k.size != 9:
            raise ValueError(f"camera_info: K must have 9 elements, got {k.size}")
        if k[0] <= 0 or k[4] <= 0:
            raise ValueError("camera_info: K has no focal length (uncalibrated camera?)")
        model = msg.distortion_model or "plumb_bob"
        d = tuple(float(x) for x in msg.d)
        if not d:
            d = (0.0,) * 5
        return cls(width=int(msg.width), height=int(msg.height), fx=k[0], fy=k[4], cx=k[2],
                   cy=k[5], model=model, coeffs=d)

    @classmethod
    def from_rs(cls, intr: Any) -> Intrinsics:
        """From ``pyrealsense2.intrinsics`` (what ``video_stream_profile.get_intrinsics()``
        returns); the distortion model is mapped to the CameraInfo vocabulary."""
        name = str(intr.model).split(".")[-1]
        if name not in _RS_TO_MODEL:
            raise ValueError(f"intrinsics: unsupported RealSense distortion model {intr.model}")
        return cls(width=intr.width, height=intr.height, fx=intr.fx, fy=intr.fy, cx=intr.ppx,
                   cy=intr.ppy, model=_RS_TO_MODEL[name], coeffs=tuple(intr.coeffs))

    def to_rs(self) -> Any:
        """A ``pyrealsense2.intrinsics`` (imported lazily; used for software_device streams)."""
        import pyrealsense2 as rs

        models = {v: k for k, v in _RS_TO_MODEL.items() if k != "none"}
        intr = rs.intrinsics()
        intr.width, intr.height = self.width, self.height
        intr.fx, intr.fy, intr.ppx, intr.ppy = self.fx, self.fy, self.cx, self.cy
        name = models.get(self.model, "brown_conrady")
        if not self.has_distortion:
            name = "none"
        intr.model = getattr(rs.distortion, name)
        intr.coeffs = list((list(self.coeffs) + [0.0] * 5)[:5])
        return intr


def camera_info_fields(intr: Intrinsics) -> dict[str, Any]:
    """The CameraInfo fields (k, d, r, p, ...) for ``intr``, as plain lists, so a node can
    fill a message without this layer importing ROS."""
    k = intr.K
    p = np.zeros((3, 4))
    p[:, :3] = k
    return {
        "width": intr.width,
        "height": intr.height,
        "distortion_model": intr.model if intr.model in ("plumb_bob", "rational_polynomial",
                                                         "equidistant") else "plumb_bob",
        "d": list(intr.coeffs),
        "k": k.reshape(-1).tolist(),
        "r": np.eye(3).reshape(-1).tolist(),
        "p": p.reshape(-1).tolist(),
    }
