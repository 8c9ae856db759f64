"""The image centre, whatever the instruction says: the floor of the benchmark."""

from __future__ import annotations

import numpy as np

from spatial_ros.data.prediction import Prediction


class CentreReferrer:
    def predict(self, rgb: np.ndarray, depth_m: np.ndarray, intrinsics,
                instruction: str) -> Prediction:
        h, w = np.asarray(depth_m).shape[:2]
        return Prediction.from_norm(0.5, 0.5, w, h, confidence=0.0)
