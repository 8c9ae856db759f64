"""The answer every referrer gives: one data type shared by the model, the baselines and
the evaluator, so the benchmark can compare them without adapters."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Prediction:
    """A referred point (normalized and in pixels) and, optionally, a 7-DoF grasp.

    Pixel convention (OpenCV, as ``Intrinsics`` projects): pixel (i, j) has its centre at
    ``point_px = (i, j)`` and covers ``point_norm`` in ``[i/W, (i+1)/W) x [j/H, (j+1)/H)``, so
    ``point_norm = (point_px + 0.5) / (W, H)``.

    ``rotation`` is a 3x3 matrix in the camera optical frame (grasp convention in
    ``spatial_ros.data.grasps``); ``position`` is the grasp/target point in metres in the
    camera frame when the referrer estimates one (else the evaluator back-projects the point).
    """

    point_norm: tuple[float, float]
    point_px: tuple[float, float]
    confidence: float = 1.0
    rotation: np.ndarray | None = None
    gripper_width: float | None = None
    position: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: the referrer's next-best answers when it ranks several, best first:
    #: ``(x_norm, y_norm, probability)``; the first is ``point_norm``
    candidates: list[tuple[float, float, float]] = field(default_factory=list)
    #: where the grasp comes from: "top" (down onto the object) or "side" (level with the
    #: table, when the instruction asks for it and the referrer can tell)
    grasp_approach: str = "top"
    #: how much the words read as a request about the scene, 0-1 (the model's instruction
    #: gate, already a factor of ``confidence``); None: the referrer does not tell
    instruction_score: float | None = None

    @classmethod
    def from_norm(cls, x: float, y: float, width: int, height: int, **kw) -> Prediction:
        x = float(np.clip(x, 0.0, 1.0))
        y = float(np.clip(y, 0.0, 1.0))
        return cls((x, y), (x * width - 0.5, y * height - 0.5), **kw)

    @classmethod
    def from_px(cls, u: float, v: float, width: int, height: int, **kw) -> Prediction:
        u = float(np.clip(u, -0.5, width - 0.5))
        v = float(np.clip(v, -0.5, height - 0.5))
        return cls(((u + 0.5) / width, (v + 0.5) / height), (u, v), **kw)
