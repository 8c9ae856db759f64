"""The free-space check of place answers on a rendered MuJoCo scene: a spot too close to an
object moves clear of every object (measured against the scene's true footprints), a clear
spot and an "inside" answer stay, and the pipeline reports what the check did."""

from __future__ import annotations

import numpy as np
import pytest

from spatial_ros.data.placement import footprint_distance
from spatial_ros.data.prediction import Prediction
from spatial_ros.perception.attribute_check import AttributeCheckConfig, AttributeCheckedReferrer
from spatial_ros.perception.free_space import FreeSpaceConfig


class FixedReferrer:
    """Answers every prompt at one pixel: a model whose place answer is known."""

    def __init__(self, u: float, v: float):
        self.u, self.v = u, v

    def predict(self, rgb, depth_m, intrinsics, instruction, candidates=8):
        return Prediction.from_px(self.u, self.v, intrinsics.width, intrinsics.height,
                                  confidence=0.7, position=np.array([0.0, 0.0, 1.0]))


@pytest.fixture(scope="module")
def scene():
    from spatial_ros.data.sim_scene import render_scene

    return render_scene(3)


def _pixel(scene, xy) -> tuple[float, float]:
    pc = scene.graph.to_camera(np.array([[xy[0], xy[1], scene.graph.table_height]]))
    u, v = scene.intrinsics.project(pc)[0]
    return float(u), float(v)


def _table_xy(scene, u, v) -> np.ndarray:
    g, k = scene.graph, scene.intrinsics
    ray = g.camera_pose[:3, :3] @ np.array([(u - k.cx) / k.fx, (v - k.cy) / k.fy, 1.0])
    c = g.camera_pose[:3, 3]
    return (c + (g.table_height - c[2]) / ray[2] * ray)[:2]


def _clearance(scene, xy) -> float:
    return min(float(footprint_distance(np.asarray(xy), o)) for o in scene.graph.objects)


def _visible_table(scene, u, v) -> bool:
    h, w = scene.segmentation.shape
    return 0 <= u < w and 0 <= v < h and scene.segmentation[int(v), int(u)] == -1


def _spot_beside(scene, gap: float) -> tuple[float, float]:
    """A visible table pixel ``gap`` m beside some object's footprint (closer than the
    clearance to it). Not beside a container: a single view misses a bowl's thin far rim,
    so perception's footprint of it is centimetres short on that side."""
    for o in sorted(scene.graph.objects, key=lambda o: -o.pixels):
        if o.is_container:
            continue
        lo, hi = o.aabb
        for xy in ([hi[0] + gap, o.position[1]], [lo[0] - gap, o.position[1]],
                   [o.position[0], hi[1] + gap], [o.position[0], lo[1] - gap]):
            u, v = _pixel(scene, xy)
            if _visible_table(scene, u, v) and _clearance(scene, xy) < 0.03:
                return u, v
    raise AssertionError("no visible table beside any object in this scene")


def _checked(scene, u, v, **free_space) -> AttributeCheckedReferrer:
    cfg = AttributeCheckConfig(free_space=FreeSpaceConfig(**free_space))
    ref = AttributeCheckedReferrer(FixedReferrer(u, v), cfg)
    ref.set_camera_pose(scene.graph.camera_pose)
    return ref


def _ask(scene, ref, text) -> Prediction:
    return ref.predict(scene.rgb, scene.depth_mm.astype(np.float32) / 1000.0, scene.intrinsics,
                       text)


def test_a_spot_next_to_an_object_moves_clear_of_every_object(scene):
    u, v = _spot_beside(scene, gap=0.01)
    ref = _checked(scene, u, v)
    pred = _ask(scene, ref, "Point to a free spot to the left of the white bowl")
    moved = _table_xy(scene, *pred.point_px)
    check = ref.last_check
    assert check["free_space"] and check["clear"] and 0 < check["moved_cm"] <= 6.0
    assert check["clearance_cm"] < 5.0  # why it moved
    # true footprints: perception's clusters differ by millimetres, the check keeps 5 cm
    assert _clearance(scene, moved) > 0.04
    assert np.linalg.norm(moved - _table_xy(scene, u, v)) <= 0.061
    assert _visible_table(scene, *pred.point_px)
    assert pred.position is None  # the model's 3D point was for its own spot
    assert pred.confidence == 0.7 and "check_ms" in pred.timings


def _clear_spot(scene) -> tuple[float, float]:
    """A visible table pixel at least 8 cm from every object's footprint."""
    h, w = scene.segmentation.shape
    for v in range(h // 4, h, 16):
        for u in range(w // 8, w, 16):
            if _visible_table(scene, u, v) and _clearance(scene, _table_xy(scene, u, v)) > 0.08:
                return float(u), float(v)
    raise AssertionError("no clear table in view in this scene")


def test_a_clear_spot_and_an_inside_answer_stay(scene):
    u, v = _clear_spot(scene)
    ref = _checked(scene, u, v)
    pred = _ask(scene, ref, "Find a vacant spot between the red mug and the green cube")
    assert pred.point_px == pytest.approx((u, v)) and ref.last_check["moved_cm"] == 0.0
    assert ref.last_check["clear"] and ref.last_check["clearance_cm"] >= 5.0
    box = next(o for o in scene.graph.objects if o.is_container)
    inside = _pixel(scene, box.position[:2])
    ref = _checked(scene, *inside)
    pred = _ask(scene, ref, f"Put it inside the {box.colour} {box.category}")
    assert pred.point_px == pytest.approx(inside) and "free_space" not in ref.last_check


def test_no_clear_spot_within_reach_keeps_the_answer_and_says_so(scene):
    from spatial_ros.data.samples import interior_point

    big = max(scene.graph.objects, key=lambda o: o.pixels)
    u, v = interior_point(scene.segmentation == big.id)  # on an object, far from its edge
    ref = _checked(scene, u, v, max_shift=0.01)
    pred = _ask(scene, ref, "Point to an empty area in front of the red cylinder")
    assert pred.point_px == pytest.approx((u, v))
    assert not ref.last_check["clear"] and ref.last_check["moved_cm"] == 0.0


def test_the_check_can_be_switched_off(scene):
    u, v = _spot_beside(scene, gap=0.01)
    ref = _checked(scene, u, v, enabled=False)
    pred = _ask(scene, ref, "Point to a free spot to the left of the white bowl")
    assert pred.point_px == pytest.approx((u, v)) and "free_space" not in ref.last_check


def test_the_pipeline_reports_a_moved_spot_and_the_overlay_says_so(scene):
    from spatial_ros.perception.extrinsics import CameraToBase
    from spatial_ros.perception.overlay import draw_overlay
    from spatial_ros.perception.pipeline import PerceptionPipeline

    u, v = _spot_beside(scene, gap=0.01)
    pipe = PerceptionPipeline(_checked(scene, u, v),
                              extrinsics=CameraToBase.from_matrix(scene.graph.camera_pose))
    res = pipe.run(scene.rgb, scene.depth_mm.astype(np.float32) / 1000.0, scene.intrinsics,
                   "Mark a free area to the right of the gray mug")
    assert res.ok and res.check["free_space"] and res.check["moved_cm"] > 0
    assert _clearance(scene, np.asarray(res.point_base)[:2]) > 0.04
    assert abs(res.point_base[2] - scene.graph.table_height) < 0.01  # on the table
    drawn = draw_overlay(scene.rgb, res, scene.intrinsics)
    unmarked = draw_overlay(scene.rgb, type(res).from_dict(dict(res.to_dict(), check=None)),
                            scene.intrinsics)
    assert (drawn[:60] != unmarked[:60]).any()  # the banner says the spot was moved
    assert res.check["model_point_px"] == pytest.approx([u, v], abs=0.05)
    col, row = round(u), round(v)  # and the model's own spot is marked where it was
    assert (drawn[row - 4:row + 5, col - 4:col + 5] != unmarked[row - 4:row + 5,
                                                              col - 4:col + 5]).any()


@pytest.mark.parametrize("field", ["clearance", "max_shift", "step", "table_tolerance"])
def test_bad_settings_are_refused(field):
    with pytest.raises(ValueError, match=field):
        FreeSpaceConfig(**{field: 0.0})


def test_no_table_in_view_leaves_the_place_answer_and_says_why(scene):
    u, v = _spot_beside(scene, gap=0.01)
    ref = _checked(scene, u, v)
    pred = ref.predict(scene.rgb, np.zeros(scene.depth_mm.shape, np.float32), scene.intrinsics,
                       "Point to a free spot to the left of the white bowl")
    assert pred.point_px == pytest.approx((u, v)) and "valid points" in ref.last_check["skipped"]
