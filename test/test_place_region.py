"""The region check of place answers on a rendered MuJoCo scene: a candidate of the model's
on the wrong side of the anchor yields to one of its candidates on the right side, a
confident answer or one already in the region stands, and what the check did reaches the
result and the overlay. Pixels are picked from the scene's true regions (the check sees
perception's)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from spatial_ros.data.perceive import perceive
from spatial_ros.data.placement import PlacementConfig, region_mask
from spatial_ros.data.prediction import Prediction
from spatial_ros.data.samples import interior_point
from spatial_ros.perception.attribute_check import AttributeCheckConfig, AttributeCheckedReferrer
from spatial_ros.perception.place_region import PlaceRegionConfig, choose_place_candidate

LEFT = "Point to a free spot to the left of the blue block"


class RankedReferrer:
    """Answers every prompt with fixed ranked candidates: (u, v, probability) pixels."""

    def __init__(self, ranked: list[tuple[float, float, float]]):
        self.ranked = ranked

    def predict(self, rgb, depth_m, intrinsics, instruction, candidates=8):
        w, h = intrinsics.width, intrinsics.height
        cands = [((u + 0.5) / w, (v + 0.5) / h, p) for u, v, p in self.ranked[:candidates]]
        u, v, p = self.ranked[0]
        return Prediction.from_px(u, v, w, h, confidence=p, candidates=cands,
                                  rotation=np.eye(3), position=np.array([0.0, 0.0, 1.0]))


@pytest.fixture(scope="module")
def scene():
    from spatial_ros.data.sim_scene import render_scene

    return render_scene(3)  # a blue block, a white and an orange bowl, mugs, cube, cylinder


def _object(scene, colour, category):
    return next(o for o in scene.graph.objects if (o.colour, o.category) == (colour, category))


def _in_true_region(scene, relation, *anchors) -> tuple[float, float]:
    """A pixel deep inside the scene's true region (no clearance, like the check's)."""
    region = region_mask(scene.graph, scene.intrinsics, scene.segmentation, relation,
                         list(anchors), PlacementConfig(clearance=0.0, min_pixels=1))
    assert region is not None, f"no {relation} region in view"
    inner = ndimage.binary_erosion(region.mask, iterations=6)
    return interior_point(inner if inner.any() else region.mask)


def _depth(scene) -> np.ndarray:
    return scene.depth_mm.astype(np.float32) / 1000.0


def _seen(scene):
    return perceive(scene.rgb, _depth(scene), scene.intrinsics, scene.graph.camera_pose)


def _choose(scene, ranked, text=LEFT, **cfg):
    from spatial_ros.data.parse import parse

    w, h = scene.intrinsics.width, scene.intrinsics.height
    cands = [((u + 0.5) / w, (v + 0.5) / h, p) for u, v, p in ranked]
    return choose_place_candidate(cands, _seen(scene), scene.intrinsics, parse(text),
                                  PlaceRegionConfig(**cfg))


def test_a_candidate_on_the_wrong_side_yields_to_one_on_the_right_side(scene):
    block = _object(scene, "blue", "block")
    right, left = _in_true_region(scene, "right_of", block), _in_true_region(scene, "left_of",
                                                                              block)
    check = _choose(scene, [(*right, 0.6), (*left, 0.1)])
    assert check.index == 1 and check.inside == [False, True]
    assert [a.id for a in check.anchors] and check.anchors[0].category == "block"
    assert check.share == pytest.approx(0.1 / (0.06 + 0.1))


def test_an_answer_in_the_region_or_a_confident_one_stands(scene):
    block = _object(scene, "blue", "block")
    right, left = _in_true_region(scene, "right_of", block), _in_true_region(scene, "left_of",
                                                                              block)
    assert _choose(scene, [(*left, 0.2), (*right, 0.7)]).index == 0  # in the region
    # outside, but 0.9 x 0.1 still outweighs a 5 % candidate inside
    assert _choose(scene, [(*right, 0.9), (*left, 0.05)]).index == 0
    # weight 1: the region is not looked at
    assert _choose(scene, [(*right, 0.6), (*left, 0.1)], outside_weight=1.0).index == 0
    # nothing the model ranked is in the region: its answer stands
    check = _choose(scene, [(*right, 0.6), (*right, 0.1)])
    assert check.index == 0 and check.inside == [False, False] and check.region is not None


def test_between_and_inside_regions_are_checked_too(scene):
    cube, mug = _object(scene, "green", "cube"), _object(scene, "gray", "mug")
    bowl = _object(scene, "orange", "bowl")
    between = _in_true_region(scene, "between", cube, mug)
    inside = _in_true_region(scene, "inside", bowl)
    text = "Mark a vacant spot between the green cube and the gray mug"
    assert _choose(scene, [(*inside, 0.5), (*between, 0.2)], text).index == 1
    assert _choose(scene, [(*between, 0.5), (*inside, 0.2)],
                   "Put it inside the orange bowl").index == 1


def test_the_checked_referrer_takes_the_candidate_and_the_pipeline_reports_it(scene):
    from spatial_ros.perception.extrinsics import CameraToBase
    from spatial_ros.perception.overlay import draw_overlay
    from spatial_ros.perception.pipeline import PerceptionPipeline

    block = _object(scene, "blue", "block")
    right, left = _in_true_region(scene, "right_of", block), _in_true_region(scene, "left_of",
                                                                              block)
    ref = AttributeCheckedReferrer(RankedReferrer([(*right, 0.6), (*left, 0.1)]))
    pipe = PerceptionPipeline(ref, extrinsics=CameraToBase.from_matrix(scene.graph.camera_pose))
    res = pipe.run(scene.rgb, _depth(scene), scene.intrinsics, LEFT)
    check = res.check
    assert res.ok and check["place_region"] and check["overruled"] and check["candidate"] == 1
    assert check["anchors"] == ["blue block"] and check["model_in_region"] is False
    assert check["model_point_px"] == pytest.approx(list(right), abs=0.05)
    assert check["free_space"]  # the chosen spot's clearance was checked as well
    # the answer is the left candidate (moved at most the free-space check's 6 cm)
    true_left = region_mask(scene.graph, scene.intrinsics, scene.segmentation, "left_of",
                            [block], PlacementConfig(clearance=0.0, min_pixels=1)).mask
    col, row = (round(c) for c in res.point_px)
    assert true_left[row, col]
    # its confidence is the candidate's share, not the model's 0.6 for its own spot
    assert res.confidence == pytest.approx(0.1 / 0.16, abs=1e-3)
    drawn = draw_overlay(scene.rgb, res, scene.intrinsics)
    unmarked = draw_overlay(scene.rgb, type(res).from_dict(dict(res.to_dict(), check=None)),
                            scene.intrinsics)
    assert (drawn[:60] != unmarked[:60]).any()  # the banner says what the check did


def test_an_answer_in_the_region_is_left_to_the_free_space_check(scene):
    block = _object(scene, "blue", "block")
    right, left = _in_true_region(scene, "right_of", block), _in_true_region(scene, "left_of",
                                                                              block)
    ref = AttributeCheckedReferrer(RankedReferrer([(*left, 0.5), (*right, 0.3)]))
    pred = ref.predict(scene.rgb, _depth(scene), scene.intrinsics, LEFT)
    check = ref.last_check
    assert not check["overruled"] and check["model_in_region"] is True
    assert pred.confidence == 0.5
    if check["moved_cm"] == 0.0:  # clear already: the model's own prediction, untouched
        assert pred.point_px == pytest.approx(left) and pred.position is not None
    else:
        assert check["model_point_px"] == pytest.approx(list(left), abs=0.05)


def test_the_region_check_can_be_switched_off(scene):
    block = _object(scene, "blue", "block")
    right, left = _in_true_region(scene, "right_of", block), _in_true_region(scene, "left_of",
                                                                              block)
    cfg = AttributeCheckConfig(place_region=PlaceRegionConfig(enabled=False))
    ref = AttributeCheckedReferrer(RankedReferrer([(*right, 0.6), (*left, 0.1)]), cfg)
    ref.predict(scene.rgb, _depth(scene), scene.intrinsics, LEFT)
    assert "place_region" not in ref.last_check and not ref.last_check["overruled"]
    assert ref.last_check["free_space"]


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_bad_weights_are_refused(weight):
    with pytest.raises(ValueError, match="outside_weight"):
        PlaceRegionConfig(outside_weight=weight)


def test_the_overlay_line_says_what_the_region_check_did():
    from spatial_ros.perception.overlay import _place_line

    seen = dict(relation="left_of:robot", anchors=["blue block"], region_seen=True,
                overruled=False, model_in_region=True)
    assert _place_line(seen) == "check: spot left of blue block (robot's view)"
    assert _place_line(dict(seen, overruled=True, model_in_region=False, candidate=2,
                            free_space=True, moved_cm=1.5)) == (
        "check: model's spot not left of blue block (robot's view), took its #3, "
        "moved 1.5 cm clear")
    assert _place_line(dict(seen, model_in_region=False)) == (
        "check: no ranked spot left of blue block (robot's view)")
    assert _place_line(dict(seen, relation="between", anchors=[], region_seen=False,
                            model_in_region=None)) == (
        "check: no region between (anchor not seen) seen")
