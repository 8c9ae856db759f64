"""A second look at a place answer: does the spot stand where the words put it?

"A free spot left of the red bowl" names a region: a band beside the anchor on the side the
relation says, the middle of the segment between two anchors, a container's opening. Of the
model's test-split place answers that miss, most are on the wrong side or beside the wrong
anchor, while one of its eight ranked cells is in the labelled region for 88 % of the place
prompts (its first: 62 %). Perception (table plane, clusters, HSV colour names:
``data.perceive``) finds the anchors the way the geometric baseline does (``place_anchors``)
and the region the data engine labels (``data.placement.region_mask``, without its
clearance: clearing neighbours is ``perception.free_space``'s job). A candidate outside that
region keeps only a share of its probability, so the model's answer stands when it is in the
region, and yields to the best of its other candidates that is; when none is, or perception
finds no anchor or no region, the model's answer stands (perception's own spot as that
fallback won on one val split, tied or lost on the two others and lost on three of the four
test splits).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from spatial_ros.data.baselines.geometric import place_anchors
from spatial_ros.data.expressions import Place
from spatial_ros.data.perceive import Perceived
from spatial_ros.data.placement import PlacementConfig, Region, region_mask
from spatial_ros.data.scene_graph import ObjectNode
from spatial_ros.geometry.intrinsics import Intrinsics


@dataclass
class PlaceRegionConfig:
    enabled: bool = True
    #: a candidate outside the perceived region keeps this share of its probability (a sweep
    #: on the v1, robots and rollouts val splits' place prompts: 0 / 0.1 / 0.3 / 0.5 ->
    #: 71.2 / 71.6 / 69.9 / 66.4 %)
    outside_weight: float = 0.1
    #: the region's shape (band, segment, container); the clearance is free_space's
    region: PlacementConfig = field(
        default_factory=lambda: PlacementConfig(clearance=0.0, min_pixels=1))

    def __post_init__(self) -> None:
        if not 0.0 <= self.outside_weight <= 1.0:
            raise ValueError(f"place region outside_weight must be in [0, 1], got "
                             f"{self.outside_weight}")


@dataclass
class RegionCheck:
    index: int  # the chosen candidate, in the model's order (0: the model's answer)
    anchors: list[ObjectNode]  # as perception resolved them; empty when it could not
    region: Region | None  # None: no anchor, or no visible table where the words point
    inside: list[bool]  # per candidate: its pixel is in the region
    share: float  # the chosen candidate's share of the weighted probability


def perceived_region(seen: Perceived, intr: Intrinsics, place: Place,
                     cfg: PlaceRegionConfig = PlaceRegionConfig()
                     ) -> tuple[list[ObjectNode], Region | None]:
    """The anchors perception reads for the words and the region they define."""
    anchors = place_anchors(place, seen.graph)
    if anchors is None:
        return [], None
    region = region_mask(seen.graph, intr, seen.labels, place.relation, anchors, cfg.region)
    if region is not None and place.relation == "inside":
        # a container's floor stands too low to be clustered with its walls: it is in the
        # image region the walls enclose
        region.mask = ndimage.binary_fill_holes(region.mask)
    return anchors, region


def choose_place_candidate(candidates: list[tuple[float, float, float]], seen: Perceived,
                           intr: Intrinsics, place: Place,
                           cfg: PlaceRegionConfig = PlaceRegionConfig()) -> RegionCheck:
    """The model's best-weighted candidate (normalized x, y, probability), candidates
    outside the perceived region down-weighted; the first when nothing is in it."""
    anchors, region = perceived_region(seen, intr, place, cfg)
    if region is None or not candidates:
        return RegionCheck(0, anchors, region, [], 1.0)
    h, w = region.mask.shape
    inside = []
    for x, y, _ in candidates:
        col = int(np.clip(round(x * w - 0.5), 0, w - 1))
        row = int(np.clip(round(y * h - 0.5), 0, h - 1))
        inside.append(bool(region.mask[row, col]))
    if not any(inside):
        return RegionCheck(0, anchors, region, inside, 1.0)
    scores = [p * (1.0 if ok else cfg.outside_weight)
              for (_, _, p), ok in zip(candidates, inside, strict=True)]
    best = int(np.argmax(scores))  # ties: the model's order
    return RegionCheck(best, anchors, region, inside, scores[best] / max(sum(scores), 1e-9))
