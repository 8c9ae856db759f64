"""A random object found by the geometric perception, ignoring the instruction: measures
how much "point at some object" alone scores."""

from __future__ import annotations

import time

import numpy as np

from spatial_ros.data.perceive import PerceiveConfig, perceive
from spatial_ros.data.prediction import Prediction
from spatial_ros.data.samples import interior_point


class RandomObjectReferrer:
    def __init__(self, seed: int = 0, perceive_cfg: PerceiveConfig = PerceiveConfig()) -> None:
        self.rng = np.random.default_rng(seed)
        self.cfg = perceive_cfg

    def predict(self, rgb: np.ndarray, depth_m: np.ndarray, intrinsics,
                instruction: str) -> Prediction:
        t0 = time.perf_counter()
        seen = perceive(rgb, depth_m, intrinsics, cfg=self.cfg)
        h, w = np.asarray(depth_m).shape[:2]
        timings = {"perceive_s": time.perf_counter() - t0}
        objs = seen.graph.objects
        if not objs:
            return Prediction.from_norm(0.5, 0.5, w, h, confidence=0.0, timings=timings)
        o = objs[int(self.rng.integers(len(objs)))]
        u, v = interior_point(seen.labels == o.id)
        return Prediction.from_px(u, v, w, h, confidence=1.0 / len(objs), timings=timings)
