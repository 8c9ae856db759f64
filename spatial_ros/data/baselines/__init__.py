"""Referrers that need no learned weights: the bars a trained model must clear.

All implement ``predict(rgb, depth_m, intrinsics, instruction) -> Prediction``.
"""

from spatial_ros.data.baselines.centre import CentreReferrer
from spatial_ros.data.baselines.geometric import GeometricReferrer
from spatial_ros.data.baselines.random_object import RandomObjectReferrer

BASELINES = {"centre": CentreReferrer, "random": RandomObjectReferrer,
             "geometric": GeometricReferrer}


def make_baseline(name: str, **kw):
    """A baseline by name: ``centre``, ``random`` or ``geometric``."""
    try:
        return BASELINES[name](**kw)
    except KeyError:
        raise ValueError(f"unknown baseline {name!r}; known: {sorted(BASELINES)}") from None


__all__ = ["BASELINES", "CentreReferrer", "GeometricReferrer", "RandomObjectReferrer",
           "make_baseline"]
