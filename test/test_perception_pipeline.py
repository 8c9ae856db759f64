"""Perception pipeline (no ROS): ray-cast frames with exact ground truth through the real
back-projection, depth query, refinement and camera->base transform."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from spatial_ros.data.prediction import Prediction
from spatial_ros.geometry.backproject import backproject_pixels
from spatial_ros.perception.config import PerceptionParams, params_from_ros_yaml
from spatial_ros.perception.extrinsics import CameraToBase, ExtrinsicsConfig
from spatial_ros.perception.footprint import object_footprint
from spatial_ros.perception.overlay import draw_overlay
from spatial_ros.perception.pipeline import PerceptionPipeline, PipelineConfig
from spatial_ros.perception.refine import DepthConfig, pick_depth
from spatial_ros.perception.request import decode_utf8, parse_request, string_from_cdr
from spatial_ros.perception.result import PerceptionResult
from spatial_ros.perception.synthetic import box_distance, render

REPO_CONFIG = "config/perception.yaml"
TOP_DOWN = Rotation.from_euler("x", 180, degrees=True).as_matrix()


class MaskReferrer:
    """Points at the named box's mask pixel nearest its centroid (plus an optional pixel
    offset): a referrer whose answer is known, so the pipeline's geometry can be checked."""

    def __init__(self, frame, offset_px=(0.0, 0.0)):
        self.frame, self.offset = frame, offset_px

    def predict(self, rgb, depth_m, intrinsics, instruction):
        idx = next(i for i, b in enumerate(self.frame.boxes) if b.name in instruction)
        rows, cols = np.nonzero(self.frame.segmentation == idx)
        k = np.argmin((rows - rows.mean()) ** 2 + (cols - cols.mean()) ** 2)
        u, v = cols[k] + 0.5 + self.offset[0], rows[k] + 0.5 + self.offset[1]
        rot = self.frame.camera_to_base.rotation.T @ TOP_DOWN  # top-down grasp, camera frame
        return Prediction.from_px(u, v, intrinsics.width, intrinsics.height, confidence=0.9,
                                  rotation=rot, gripper_width=0.07, timings={"fake": 0.0})


@pytest.fixture(scope="module")
def frame():
    return render(noise_mm=1.0, hole_fraction=0.02, seed=1)


def _pipeline(frame, refine=True, referrer=None, **kw):
    ext = CameraToBase.from_matrix(frame.camera_to_base.as_matrix())
    cfg = PipelineConfig(depth=DepthConfig(refine=refine), **kw)
    return PerceptionPipeline(referrer or MaskReferrer(frame), cfg, ext)


@pytest.mark.parametrize("name", ["red", "blue"])
def test_point_lands_on_the_referred_box(frame, name):
    res = _pipeline(frame).run(frame.rgb, frame.depth_m, frame.intrinsics, f"the {name} box",
                               request_id="r1", stamp_ns=123, camera_frame="cam")
    assert res.ok, res.error
    box = next(b for b in frame.boxes if b.name == name)
    # the point is on the visible surface: within 1 cm of the box solid, and in x, y within
    # the box footprint (+1 cm) of the ground-truth centre
    assert box_distance(np.array(res.point_base), box) < 0.01
    assert np.all(np.abs(np.array(res.point_base[:2]) - box.center[:2])
                  <= np.array(box.size[:2]) / 2 + 0.01)
    assert res.request_id == "r1" and res.stamp_ns == 123 and res.camera_frame == "cam"
    assert res.base_frame == "base_link" and res.refined
    # grasp: the camera-frame rotation maps back to the top-down base-frame rotation
    rb = Rotation.from_quat(res.grasp_base.quaternion_xyzw).as_matrix()
    np.testing.assert_allclose(rb, TOP_DOWN, atol=1e-6)
    assert res.grasp_base.width_m == pytest.approx(0.07)
    assert res.grasp_camera.position == res.point_camera
    assert res.grasp_approach == "top" and res.to_dict()["grasp_approach"] == "top"
    assert {"validate", "refer", "depth", "backproject", "transform", "total",
            "refer.fake"} <= set(res.timings_ms)


def test_refinement_snaps_a_point_that_misses_the_edge(frame):
    """Three pixels above the red box's top edge, on the table behind it: refinement moves
    the point onto the box, the plain depth query measures the table."""
    rows, cols = np.nonzero(frame.segmentation == 0)
    col = int(np.median(cols))
    edge = rows[cols == col].min()
    u, v = col + 0.5, edge - 3 + 0.5
    depth = frame.depth_m
    on = pick_depth(depth, u, v, DepthConfig(refine=True))
    off = pick_depth(depth, u, v, DepthConfig(refine=False))
    assert on.refined and not off.refined
    assert frame.segmentation[int(on.v), int(on.u)] == 0  # moved onto the box
    box_depth = np.median(depth[frame.segmentation == 0])
    assert abs(on.depth_m - box_depth) < 0.03
    assert off.depth_m - on.depth_m > 0.03  # the table is farther away


def test_refinement_measured_both_ways_on_every_box_pixel_offset(frame):
    """Over offsets of the referred pixel, refinement keeps more points on the box."""
    hits = {True: 0, False: 0}
    offsets = [(dx, dy) for dx in (-6, -3, 0, 3, 6) for dy in (-6, 0, 6)]
    for refine in (True, False):
        for off in offsets:
            pipe = _pipeline(frame, refine, MaskReferrer(frame, off))
            res = pipe.run(frame.rgb, frame.depth_m, frame.intrinsics, "the red box")
            assert res.ok, res.error
            hits[refine] += box_distance(np.array(res.point_base), frame.boxes[0]) < 0.01
    assert hits[True] >= hits[False]
    assert hits[True] == len(offsets)


@pytest.mark.parametrize("instruction,error", [
    ("", "empty instruction"),
    ("   ", "empty instruction"),
    ("x" * 10_240, "too long"),
])
def test_bad_instructions_become_errors(frame, instruction, error):
    res = _pipeline(frame).run(frame.rgb, frame.depth_m, frame.intrinsics, instruction)
    assert not res.ok and error in res.error
    assert res.point_camera is None
    json.loads(res.to_json())  # still a valid answer


def test_bad_frames_become_errors(frame):
    pipe = _pipeline(frame)
    zero = np.zeros_like(frame.depth_m)
    res = pipe.run(frame.rgb, zero, frame.intrinsics, "the red box")
    assert "all zero" in res.error
    res = pipe.run(frame.rgb, frame.depth_m[::2, ::2], frame.intrinsics, "the red box")
    assert "320x240" in res.error and "640x480" in res.error
    res = pipe.run(frame.rgb, frame.depth_m, frame.intrinsics.scaled(1280, 720), "the red box")
    assert "camera_info is for 1280x720" in res.error
    res = PerceptionPipeline(None, load_error="checkpoint not found").run(
        frame.rgb, frame.depth_m, frame.intrinsics, "the red box")
    assert "checkpoint not found" in res.error


def test_referrer_exception_and_low_confidence_are_reported(frame):
    class Broken:
        def predict(self, *a):
            raise RuntimeError("CUDA out of memory")

    res = _pipeline(frame, referrer=Broken()).run(frame.rgb, frame.depth_m, frame.intrinsics,
                                                  "the red box")
    assert "CUDA out of memory" in res.error
    res = _pipeline(frame, min_confidence=0.95).run(frame.rgb, frame.depth_m,
                                                    frame.intrinsics, "the red box")
    assert "below the threshold" in res.error and res.point_camera is not None


class ScoredReferrer(MaskReferrer):
    """``MaskReferrer`` whose answers carry an instruction score, as the model's do."""

    def __init__(self, frame, score):
        super().__init__(frame)
        self.score = score

    def predict(self, rgb, depth_m, intrinsics, instruction):
        pred = super().predict(rgb, depth_m, intrinsics, instruction)
        pred.instruction_score = self.score
        return pred


def test_words_that_are_no_request_get_an_error_and_no_grasp(frame):
    """Under ``min_instruction_score`` the result says why and carries no 3D target or grasp
    (the robot gets nothing to act on); the model's own answer is kept for debugging."""
    res = _pipeline(frame, referrer=ScoredReferrer(frame, 0.03)).run(
        frame.rgb, frame.depth_m, frame.intrinsics, "the red box")
    assert "does not read as a request about the scene" in res.error and "0.03" in res.error
    assert res.point_camera is None and res.grasp_base is None and res.point_norm is not None
    assert res.instruction_score == pytest.approx(0.03)
    for score, floor in ((0.97, 0.5), (0.03, 0.0)):  # a request; the check turned off
        res = _pipeline(frame, referrer=ScoredReferrer(frame, score),
                        min_instruction_score=floor).run(frame.rgb, frame.depth_m,
                                                         frame.intrinsics, "the red box")
        assert res.ok and res.grasp_base is not None, res.error
    assert PerceptionParams().pipeline_config().min_instruction_score == 0.5


def test_result_json_roundtrip_and_overlay(frame):
    res = _pipeline(frame).run(frame.rgb, frame.depth_m, frame.intrinsics, "the blue box", "7")
    back = PerceptionResult.from_json(res.to_json())
    assert back == res
    img = draw_overlay(frame.rgb, res, frame.intrinsics)
    assert img.shape == frame.rgb.shape and img.dtype == np.uint8
    u, v = (int(x) for x in res.point_px)
    assert np.any(img[v - 8:v + 9, u - 8:u + 9] != frame.rgb[v - 8:v + 9, u - 8:u + 9])
    assert np.any(img[:12] != frame.rgb[:12])  # instruction banner
    # a side grasp says so in the banner's second line
    side = draw_overlay(frame.rgb, PerceptionResult.from_dict(
        dict(res.to_dict(), grasp_approach="side")), frame.intrinsics)
    assert np.any(side[14:28] != img[14:28]) and np.array_equal(side[28:], img[28:])
    nan = PerceptionResult("1", "x", depth_m=float("nan"))
    assert json.loads(nan.to_json())["depth_m"] is None


def test_requests_plain_json_and_bytes():
    assert parse_request("pick the cup", "req-1").request_id == "req-1"
    r = parse_request('{"id": 42, "text": "the cup"}', "req-2")
    assert (r.request_id, r.text, r.error) == ("42", "the cup", None)
    assert "text" in parse_request('{"id": 1}', "req-3").error
    assert parse_request("{not json", "req-4").text == "{not json"
    cdr = b"\x00\x01\x00\x00\x05\x00\x00\x00abcd\x00"
    assert decode_utf8(string_from_cdr(cdr)) == "abcd"
    with pytest.raises(ValueError, match=r"not valid UTF-8 \(byte 0xff at offset 2\)"):
        decode_utf8(b"ab\xffcd")
    with pytest.raises(ValueError, match="malformed"):
        string_from_cdr(b"\x00\x01\x00\x00\xff\x00\x00\x00ab")


def test_config_file_matches_params_and_extrinsics_validate():
    params = params_from_ros_yaml(REPO_CONFIG)
    assert params == PerceptionParams()  # the shipped YAML documents the defaults
    with pytest.raises(ValueError, match="unit norm"):
        CameraToBase.from_config(ExtrinsicsConfig(quaternion_xyzw=[0, 0, 0, 2]))
    with pytest.raises(ValueError, match="referrer"):
        PerceptionParams(referrer="magic")


def _edge_pixel(frame, idx):
    """The box's pixel farthest from its centroid: a correct but off-centre answer."""
    rows, cols = np.nonzero(frame.segmentation == idx)
    k = np.argmax((rows - rows.mean()) ** 2 + (cols - cols.mean()) ** 2)
    return cols[k] + 0.5, rows[k] + 0.5


@pytest.mark.parametrize("idx", [0, 1])
def test_footprint_of_an_edge_point_is_the_whole_object(frame, idx):
    ext = CameraToBase.from_matrix(frame.camera_to_base.as_matrix())
    box = frame.boxes[idx]
    u, v = _edge_pixel(frame, idx)
    fp = object_footprint(frame.depth_m, frame.intrinsics, ext, u, v)
    assert fp is not None
    # the edge pixel is ~half a box away from the centre; the footprint centre is not
    assert np.linalg.norm(np.array(fp.center[:2]) - box.center[:2]) < 0.012
    assert fp.top_z == pytest.approx(box.center[2] + box.size[2] / 2, abs=0.008)
    assert fp.center[2] == pytest.approx(0.0, abs=0.005)  # the table top is the support
    assert all(e <= s + 0.02 for e, s in zip(fp.extent, box.size[:2], strict=True))


def test_footprint_support_is_the_table_when_the_floor_is_in_view():
    """A box near the table's far edge with the floor 75 cm below in the window (as the G1's
    head camera sees it): the support is the table top, not the floor, so the footprint is
    the box alone; measured from the floor the whole table stood out as one region."""
    from spatial_ros.perception.synthetic import Box, SceneSpec

    spec = SceneSpec(boxes=(Box("blue", (0.0, 0.10, 0.025), (0.05, 0.05, 0.05)),),
                     table_far_y=0.16, floor_z=-0.75)
    edge = render(spec, noise_mm=1.0, seed=2)
    ext = CameraToBase.from_matrix(edge.camera_to_base.as_matrix())
    u, v = _edge_pixel(edge, 0)
    fp = object_footprint(edge.depth_m, edge.intrinsics, ext, u, v)
    rows, cols = np.mgrid[0:480:2, 0:640:2]
    window = (np.abs(cols - u) <= 110) & (np.abs(rows - v) <= 110)
    d = edge.depth_m[rows, cols]
    heights = ext.point(backproject_pixels(cols[window & (d > 0)], rows[window & (d > 0)],
                                           d[window & (d > 0)], edge.intrinsics))[:, 2]
    assert np.mean(heights < -0.5) > 0.1  # the floor fills a real share of the window
    assert fp is not None
    assert fp.center[2] == pytest.approx(0.0, abs=0.005)
    assert np.linalg.norm(np.array(fp.center[:2]) - edge.boxes[0].center[:2]) < 0.012
    assert max(fp.size) < 0.07
    # a point on the bare table: the table is no object, however high above the floor
    assert object_footprint(edge.depth_m, edge.intrinsics, ext, 320.5, 470.5) is None


def test_footprint_stops_at_a_depth_jump_between_objects_that_touch_in_the_image():
    """A short box 1.5 cm in front of a tall one: the short box's top meets the tall box's
    face in the image (the gap is hidden), but not in 3D. Joined by image adjacency alone
    (``max_step_m=0``, as before) the two made one footprint between them."""
    from spatial_ros.perception.footprint import FootprintConfig
    from spatial_ros.perception.synthetic import Box, SceneSpec

    short = Box("red", (0.0, 0.0, 0.02), (0.04, 0.04, 0.04))
    tall = Box("blue", (0.0, 0.06, 0.05), (0.05, 0.05, 0.10))  # 1.5 cm behind
    frame = render(SceneSpec(boxes=(short, tall)), noise_mm=1.0, seed=3)
    ext = CameraToBase.from_matrix(frame.camera_to_base.as_matrix())
    rows, cols = np.nonzero(frame.segmentation == 0)
    u, v = cols.mean() + 0.5, rows.mean() + 0.5
    fp = object_footprint(frame.depth_m, frame.intrinsics, ext, u, v)
    assert fp is not None
    assert np.linalg.norm(np.array(fp.center[:2]) - short.center[:2]) < 0.008
    assert max(fp.size) < 0.05 and fp.top_z == pytest.approx(0.04, abs=0.006)
    merged = object_footprint(frame.depth_m, frame.intrinsics, ext, u, v,
                              FootprintConfig(max_step_m=0.0))
    assert merged is not None and max(merged.size) > 0.08  # the case this guards against


def test_footprint_of_what_stands_in_a_container_is_the_container():
    """A block inside an open box: a depth jump separates it from the walls, but a drop
    "into" or "beside the box" answered on the block must measure the box, so the walls
    around it join its footprint, centred on the box's rim even when what stands in it is
    taller than the walls. Seen alone, or with an open gripper hovering over it (around it
    in plan view, but not standing on the table), the block is its own."""
    from spatial_ros.perception.synthetic import Box, SceneSpec

    t, (cx, cy), (sx, sy, sz) = 0.006, (0.0, 0.05), (0.16, 0.12, 0.06)
    walls = (Box("gray", (cx, cy - sy / 2 + t / 2, sz / 2), (sx, t, sz)),
             Box("gray", (cx, cy + sy / 2 - t / 2, sz / 2), (sx, t, sz)),
             Box("gray", (cx - sx / 2 + t / 2, cy, sz / 2), (t, sy, sz)),
             Box("gray", (cx + sx / 2 - t / 2, cy, sz / 2), (t, sy, sz)))
    block = Box("purple", (0.01, 0.05, 0.0175), (0.07, 0.035, 0.035))
    gripper = (Box("white", (0.01, 0.04, 0.15), (0.13, 0.08, 0.01)),  # palm and fingers
               Box("white", (-0.05, 0.015, 0.095), (0.01, 0.03, 0.10)),
               Box("white", (0.07, 0.015, 0.095), (0.01, 0.03, 0.10)))
    tall = Box("purple", (0.03, 0.05, 0.05), (0.04, 0.04, 0.10))  # taller than the walls
    alone = ((0.07, 0.035), 0.035, block.center[:2])
    for boxes, (size, top, centre) in (((block, *walls), ((sx, sy), sz, (cx, cy))),
                                       ((tall, *walls), ((sx, sy), 0.10, (cx, cy))),
                                       ((block,), alone), ((block, *gripper), alone)):
        frame = render(SceneSpec(boxes=boxes), noise_mm=1.0, seed=4)
        ext = CameraToBase.from_matrix(frame.camera_to_base.as_matrix())
        rows, cols = np.nonzero(frame.segmentation == 0)  # on the block
        fp = object_footprint(frame.depth_m, frame.intrinsics, ext, cols.mean() + 0.5,
                              rows.mean() + 0.5)
        assert fp is not None and fp.top_z == pytest.approx(top, abs=0.006)
        assert np.linalg.norm(np.array(fp.center[:2]) - centre) < 0.01
        assert sorted(fp.size) == pytest.approx(sorted(size), abs=0.012)


@pytest.mark.parametrize("robot", ["ur5", "franka", "g1"])
def test_footprint_of_a_round_object_is_centred_though_its_far_side_is_hidden(robot):
    """MuJoCo spheres and cylinders through the simulated RealSense: the camera sees their
    near side only, so the visible region's middle lies towards the camera (1 cm on a
    sphere) and its depth along the view is short. The footprint's middle is the top
    layer's and its sides are the region mirrored about it: centred within 1 cm (9 in 10),
    and for 9 in 10 the jaws opened 3 cm wider than its narrow side (skills.pick) clear it
    by 2 mm a side. The footprint before (the visible region's middle) was off by more.
    """
    from spatial_ros.perception.footprint import FootprintConfig
    from spatial_ros.sim.camera import SimRealSense
    from spatial_ros.sim.world import WorldConfig, build_world

    before_cfg = FootprintConfig(max_step_m=0.0, top_centred=False)
    errors, errors_before, clearances = [], [], []
    for seed in range(12):
        try:
            world = build_world(WorldConfig(), robot=robot, seed=seed)
        except ValueError:  # the seed's objects do not fit this robot's workspace
            continue
        with SimRealSense(world, seed=seed) as cam:
            frame = cam.render(segmentation=False)
        base_inv = np.linalg.inv(world.base_pose)
        ext = CameraToBase.from_matrix(base_inv @ frame.camera_pose)
        world_to_cam = np.linalg.inv(frame.camera_pose)
        for o in world.objects:
            if o.category not in ("sphere", "cylinder") or not o.graspable:
                continue
            pose = world.object_pose(o.id)
            if o.category == "cylinder" and abs(pose[2, 2]) < 0.9:
                continue  # lying on its side: not round in plan view
            top = pose[:3, 3] + [0.0, 0.0, o.size[2] / 2]
            u, v = frame.intrinsics.project((world_to_cam @ np.append(top, 1.0))[None, :3])[0]
            fp = object_footprint(frame.depth_m, frame.intrinsics, ext, u, v)
            before = object_footprint(frame.depth_m, frame.intrinsics, ext, u, v, before_cfg)
            assert fp is not None, (seed, o.colour, o.category)
            truth = (base_inv @ pose)[:2, 3]
            errors.append(np.linalg.norm(np.array(fp.center[:2]) - truth))
            if before is not None:
                errors_before.append(np.linalg.norm(np.array(before.center[:2]) - truth))
            clearances.append((min(fp.size) + 0.03 - o.size[0]) / 2 - errors[-1])
    assert len(errors) >= 8
    assert np.median(errors) < 0.006 and np.percentile(errors, 90) < 0.01, errors
    assert np.percentile(clearances, 10) > 0.002, clearances
    assert np.median(errors_before) > 1.5 * np.median(errors)


def test_footprint_is_none_on_bare_table_and_reported_by_the_pipeline(frame):
    ext = CameraToBase.from_matrix(frame.camera_to_base.as_matrix())
    table = np.argwhere(frame.segmentation == -1)
    v, u = table[len(table) // 2]
    assert object_footprint(frame.depth_m, frame.intrinsics, ext, u + 0.5, v + 0.5) is None
    res = _pipeline(frame, referrer=MaskReferrer(frame)).run(
        frame.rgb, frame.depth_m, frame.intrinsics, "the red box")
    box = frame.boxes[0]
    assert res.ok and res.footprint_base is not None
    assert np.linalg.norm(np.array(res.footprint_base["center"][:2]) - box.center[:2]) < 0.012
    assert PerceptionResult.from_dict(json.loads(res.to_json())).footprint_base == \
        res.footprint_base


def test_grounder_drops_into_the_footprint_centre_not_at_the_rim(frame):
    from spatial_ros.execution.grounding import PerceptionGrounder

    box = frame.boxes[0]
    u, v = _edge_pixel(frame, 0)
    edge = MaskReferrer(frame)
    edge.predict = lambda rgb, d, intr, text: Prediction.from_px(
        u, v, intr.width, intr.height, confidence=0.9)
    pipe = _pipeline(frame, referrer=edge)
    prompts: list[str] = []

    def ask(prompt):
        prompts.append(prompt)
        return pipe.run(frame.rgb, frame.depth_m, frame.intrinsics, prompt)

    for mode, prompt in (("anchor", "Point to the red box"),  # so the check sees the box
                         ("model", "Put it inside the red box")):
        target = PerceptionGrounder(ask, place_beside=mode).place_target("in", "the red box",
                                                                          None)
        assert prompts[-1] == prompt
        assert np.linalg.norm(target.position[:2] - np.array(box.center[:2])) < 0.012
        assert target.surface_z == pytest.approx(box.center[2] + box.size[2] / 2, abs=0.008)
    raw = pipe.run(frame.rgb, frame.depth_m, frame.intrinsics, "the red box").point_base
    assert np.linalg.norm(np.array(raw[:2]) - box.center[:2]) > 0.02  # the rim point was off


def test_grounder_places_beside_the_anchor_footprint_as_the_camera_sees_it(frame):
    from spatial_ros.data.scene_graph import camera_view_axes
    from spatial_ros.execution.grounding import PerceptionGrounder

    box = frame.boxes[0]
    pipe = _pipeline(frame, referrer=MaskReferrer(frame))
    prompts: list[str] = []

    def ask(prompt):
        prompts.append(prompt)
        return pipe.run(frame.rgb, frame.depth_m, frame.intrinsics, prompt)

    right, fwd = camera_view_axes(frame.camera_to_base.as_matrix()[:3, :3])
    for relation, d in (("left_of", -right), ("right_of", right), ("behind", fwd),
                        ("in_front_of", -fwd)):
        target = PerceptionGrounder(ask).place_target(relation, "the red box", None)
        assert prompts[-1] == "Point to the red box"  # the anchor, not the free spot
        half_along = float(np.abs(d[:2]) @ (np.asarray(box.size[:2]) / 2))
        for spot in [target.position, *target.spots]:
            offset = spot[:2] - np.asarray(box.center[:2])
            # beyond the box's side in that direction, room for a held object, same table
            assert offset @ d[:2] > half_along + 0.04, (relation, offset)
            assert spot[2] == 0.0
        assert len(target.spots) == 8
    # asked for the spot directly when so configured
    PerceptionGrounder(ask, place_beside="model").place_target("left_of", "the red box", None)
    assert prompts[-1] == "Place it in the free spot to the left of the red box"
    with pytest.raises(ValueError, match="place_beside"):
        PerceptionGrounder(ask, place_beside="guess")


@pytest.mark.parametrize("yaw_deg", [0.0, 20.0, 45.0, 72.0])
def test_oriented_extent_finds_a_rotated_rectangle_despite_stray_points(yaw_deg):
    from spatial_ros.perception.footprint import oriented_extent

    rng = np.random.default_rng(0)
    local = rng.uniform([-0.045, -0.02], [0.045, 0.02], size=(3000, 2))  # 9 x 4 cm
    c, s = np.cos(np.deg2rad(yaw_deg)), np.sin(np.deg2rad(yaw_deg))
    xy = local @ np.array([[c, s], [-s, c]]) + [0.4, -0.1]
    xy[:20] += rng.normal(0.0, 0.08, size=(20, 2))  # depth-edge outliers
    yaw, size = oriented_extent(xy)
    long_axis = yaw if size[0] >= size[1] else yaw + np.pi / 2
    diff = (long_axis - np.deg2rad(yaw_deg) + np.pi / 2) % np.pi - np.pi / 2
    assert abs(diff) <= np.deg2rad(3.1)
    assert sorted(size) == pytest.approx([0.04, 0.09], abs=0.006)


def test_grounder_reads_a_second_grasp_across_the_narrow_side_of_the_footprint():
    from spatial_ros.execution.grounding import PerceptionGrounder, footprint_grasp
    from spatial_ros.perception.synthetic import Box, SceneSpec

    block = Box("green", (0.02, 0.10, 0.02), (0.04, 0.10, 0.04))  # long along base y
    frame = render(SceneSpec(boxes=(block,)), noise_mm=1.0, seed=2)
    pipe = _pipeline(frame, referrer=MaskReferrer(frame))
    grounder = PerceptionGrounder(
        lambda prompt: pipe.run(frame.rgb, frame.depth_m, frame.intrinsics, prompt),
        max_width=0.08, footprint_grasp="retry")
    target = grounder.locate("the green block")  # the model's grasp, then the footprint's
    retry = target.retry
    assert retry is not None and retry.label == "the green block"
    assert np.linalg.norm(retry.position[:2] - np.array(block.center[:2])) < 0.01
    assert abs(retry.rotation[:, 1] @ [1.0, 0.0, 0.0]) > 0.99  # jaws close across x (4 cm)
    assert retry.rotation[:, 2] == pytest.approx([0.0, 0.0, -1.0])  # top-down
    assert retry.width == pytest.approx(0.04, abs=0.012)
    assert retry.alternatives == []  # the long side (10 cm) does not fit the 8 cm jaws
    # the footprint's jaw direction is also offered beside the model's on the first try
    assert any(np.allclose(a, retry.rotation) for a in target.alternatives)
    off = PerceptionGrounder(grounder.ask_fn, max_width=0.08, footprint_grasp="off")
    assert off.locate("the green block").retry is None
    first = PerceptionGrounder(grounder.ask_fn, max_width=0.08)  # the default
    swapped = first.locate("the green block")  # the footprint's grasp, then the model's
    assert np.allclose(swapped.position, retry.position) and swapped.retry is not None
    assert np.allclose(swapped.retry.position, target.position)
    with pytest.raises(ValueError, match="footprint_grasp"):
        PerceptionGrounder(grounder.ask_fn, footprint_grasp="always")

    fp = {"center": [0.3, 0.0, 0.0], "top_z": 0.05, "extent": [0.05, 0.05]}
    assert footprint_grasp(fp, 0.08, 0.0) is None  # an older node: no rectangle
    assert footprint_grasp({**fp, "yaw": 0.0, "size": [0.20, 0.04]}, 0.08, 0.0) is None
    assert footprint_grasp({**fp, "yaw": 0.0, "size": [0.09, 0.09]}, 0.08, 0.0) is None
    square = footprint_grasp({**fp, "yaw": 0.3, "size": [0.05, 0.05]}, 0.08, 0.0)
    assert len(square.alternatives) == 1  # a cube can be closed on either pair of sides
    assert square.position[2] == pytest.approx(0.025)  # held at mid-height
