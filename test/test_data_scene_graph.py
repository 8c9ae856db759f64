"""Scene graph, relations, expressions, parser and placement regions on hand-built scenes
(no simulator: these are the pure-geometry parts of the data engine)."""

import json

import numpy as np
import pytest

from spatial_ros.data import relations as rel
from spatial_ros.data import samples, templates
from spatial_ros.data.expressions import (
    Place,
    Ref,
    direct_anchors,
    expression_from_dict,
    is_unambiguous,
    render,
    resolve,
)
from spatial_ros.data.grasps import (
    ANY_TURN,
    HALF_TURN,
    QUARTER_TURN,
    approach_symmetry,
    grasp_rotation_error_deg,
    is_side_grasp,
    side_grasp,
    to_camera,
    top_down_grasp,
)
from spatial_ros.data.parse import ParseError, parse
from spatial_ros.data.placement import region_mask, table_plane_points
from spatial_ros.data.scene_graph import ObjectNode, SceneGraph
from spatial_ros.geometry.intrinsics import Intrinsics
from spatial_ros.geometry.rotations import is_rotation


def _camera_pose() -> np.ndarray:
    """Camera 1 m in front of the robot (+x), 0.6 m up, looking back at the table centre."""
    eye, target = np.array([1.2, 0.0, 0.6]), np.array([0.5, 0.0, 0.0])
    z = (target - eye) / np.linalg.norm(target - eye)
    x = np.cross(z, [0, 0, 1.0])
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, :3] = np.column_stack([x, np.cross(z, x), z])
    pose[:3, 3] = eye
    return pose


INTR = Intrinsics(640, 480, 615.0, 615.0, 319.5, 239.5)


def _obj(i, cat, colour, xy, size=(0.05, 0.05, 0.05), **kw):
    return ObjectNode(i, cat, colour, size, [xy[0], xy[1], size[2] / 2], pixels=500, **kw)


@pytest.fixture
def scene() -> SceneGraph:
    objs = [
        _obj(0, "cube", "red", (0.5, 0.20)),
        _obj(1, "cube", "blue", (0.5, 0.00)),
        _obj(2, "cube", "green", (0.5, -0.20)),
        _obj(3, "bowl", "yellow", (0.35, 0.0), (0.16, 0.16, 0.05), graspable=False,
             is_container=True),
        _obj(4, "cylinder", "red", (0.65, 0.1), (0.06, 0.06, 0.11)),
    ]
    return SceneGraph(objs, _camera_pose(), 640, 480, table_bounds=(-0.1, 1.1, -0.5, 0.5))


def test_camera_and_robot_views_are_mirrored(scene):
    red, blue = scene.by_id(0), scene.by_id(1)
    # red is at +y: the robot's left, but the camera (facing the robot) sees it on its right
    assert rel.left_of(scene, red, blue, "robot") and not rel.left_of(scene, red, blue, "camera")
    assert rel.right_of(scene, red, blue, "camera")
    bowl, cyl = scene.by_id(3), scene.by_id(4)
    assert rel.in_front_of(scene, cyl, bowl, "camera")  # x=0.65 is nearer the camera
    assert rel.in_front_of(scene, bowl, cyl, "robot")
    assert rel.between(scene, blue, scene.by_id(0), scene.by_id(2))
    assert rel.taller_than(scene, cyl, blue) and rel.larger_than(scene, bowl, blue)
    assert (0, "right_of:camera", 1) in rel.relation_table(scene)


def test_superlatives_ordinals_and_ambiguity(scene):
    cubes = resolve(Ref(category="cube"), scene)
    assert len(cubes) == 3
    # camera view: +y is right, so the green cube (y=-0.2) is leftmost
    assert resolve(Ref(category="cube", select="leftmost"), scene) == [scene.by_id(2)]
    assert resolve(Ref(category="cube", ordinal=(2, "left")), scene) == [scene.by_id(1)]
    assert resolve(Ref(select="tallest"), scene) == [scene.by_id(4)]
    # "the red object" is ambiguous (cube and cylinder) and must be rejected
    assert not is_unambiguous(Ref(colour="red"), scene, scene.by_id(0))
    assert is_unambiguous(Ref(category="cube", colour="red"), scene, scene.by_id(0))
    # a relation singles out a cube
    ref = Ref(category="cube", relation="right_of:camera", anchors=(Ref(colour="blue"),))
    assert resolve(ref, scene) == [scene.by_id(0)]
    # cubes of equal size: no "largest cube"
    assert len(resolve(Ref(category="cube", select="largest"), scene)) == 3


def test_every_generated_expression_is_unambiguous_and_parses_back(scene):
    rng = np.random.default_rng(0)
    kinds_seen = set()
    for kind in templates.KINDS:
        for _ in range(15):
            found = templates.propose(scene, kind, rng)
            if found is None:
                continue
            expr, target = found
            kinds_seen.add(kind)
            if isinstance(expr, Ref):
                assert resolve(expr, scene) == [target], kind
            text = render(expr, rng)
            assert parse(text) == expr, (kind, text)
            # a record's program reads back as the expression, its anchors as objects
            record = json.loads(json.dumps(samples._program(expr)))
            assert expression_from_dict(record) == expr, kind
            anchors = direct_anchors(expr, scene)
            assert len(anchors) == len(expr.anchors) and None not in anchors, kind
    assert len(templates.KINDS) >= 20
    assert len(kinds_seen) >= 17, sorted(set(templates.KINDS) - kinds_seen)


def test_parser_rejects_text_without_referents():
    with pytest.raises(ParseError, match="names no object"):
        parse("hello there")
    with pytest.raises(ParseError, match="direction"):
        parse("put it in a free spot")
    assert parse("Drop it into the yellow bowl") == Place(
        "inside", (Ref(category="bowl", colour="yellow"),))


def test_placement_region_is_free_and_on_the_right_side(scene):
    seg = np.full((480, 640), -1, np.int32)
    bowl = scene.by_id(3)
    region = region_mask(scene, INTR, seg, "right_of:camera", [bowl])
    assert region is not None and region.mask.sum() > 100
    xy, _ = table_plane_points(scene, INTR)
    pts = xy[region.mask]
    right, _ = scene.view_axes("camera")
    assert np.all((pts - bowl.position[:2]) @ right[:2] > 0.08 - 1e-6)
    for o in scene.objects:  # every region point keeps clear of every object
        lo, hi = o.aabb
        inside = np.all((pts > lo[:2] - 0.04) & (pts < hi[:2] + 0.04), axis=1)
        assert not inside.any()
    u, v = region.point_px
    assert region.mask[int(v), int(u)]


def test_grasp_is_top_down_across_the_narrow_side():
    block = ObjectNode(0, "block", "red", (0.09, 0.04, 0.04), [0.5, 0.0, 0.02],
                       rotation=np.eye(3))
    g = top_down_grasp(block)
    assert g is not None and is_rotation(g.rotation)
    np.testing.assert_allclose(g.rotation[:, 2], [0, 0, -1], atol=1e-9)  # approach down
    assert abs(g.rotation[:, 1] @ [0, 1, 0]) > 0.99  # closes across the 4 cm side
    assert g.width == pytest.approx(0.05)
    assert top_down_grasp(ObjectNode(1, "box", "red", (0.2, 0.2, 0.1), [0.5, 0, 0.05],
                                     graspable=False)) is None
    graph = SceneGraph([block], _camera_pose(), 640, 480)
    cam = to_camera(g, graph)
    back = graph.camera_pose[:3, :3] @ cam.position + graph.camera_pose[:3, 3]
    np.testing.assert_allclose(back, g.position, atol=1e-9)
    # the half turn about the approach axis is the same parallel-jaw grasp
    flipped = g.rotation @ np.diag([-1.0, -1.0, 1.0])
    assert grasp_rotation_error_deg(flipped, g.rotation) == pytest.approx(0.0, abs=1e-6)


def test_rotation_error_ignores_the_turns_that_give_the_same_grasp():
    """A turn about the approach the object does not see is not an error; one it sees is."""
    from scipy.spatial.transform import Rotation

    down = np.array([0.0, 0.0, -1.0])
    yawed = Rotation.from_euler("z", 25.0, degrees=True).as_matrix()
    upright, lying = np.eye(3), Rotation.from_euler("x", 90.0, degrees=True).as_matrix()
    assert approach_symmetry("sphere", upright, down) == ANY_TURN
    assert approach_symmetry("cylinder", yawed, down) == ANY_TURN
    assert approach_symmetry("cylinder", lying, down) == HALF_TURN  # across its round side
    assert approach_symmetry("cube", yawed, down) == QUARTER_TURN
    assert approach_symmetry("cube", Rotation.from_euler("x", 45.0, degrees=True).as_matrix(),
                             down) == HALF_TURN  # on an edge: no face faces the gripper
    assert approach_symmetry("block", yawed, down) == HALF_TURN
    assert approach_symmetry("mug", upright, down) == HALF_TURN  # the handle breaks it
    g = top_down_grasp(ObjectNode(0, "cube", "red", (0.05, 0.05, 0.05), [0.5, 0.0, 0.025],
                                  rotation=yawed))
    quarter = g.rotation @ Rotation.from_euler("z", 90.0, degrees=True).as_matrix()
    assert grasp_rotation_error_deg(quarter, g.rotation, QUARTER_TURN) == pytest.approx(
        0.0, abs=1e-6)
    assert grasp_rotation_error_deg(quarter, g.rotation, HALF_TURN) == pytest.approx(90.0)
    tilt = Rotation.from_euler("x", 12.0, degrees=True).as_matrix()
    spun = g.rotation @ Rotation.from_euler("z", 70.0, degrees=True).as_matrix() @ tilt
    assert grasp_rotation_error_deg(spun, g.rotation, ANY_TURN) == pytest.approx(12.0)
    assert grasp_rotation_error_deg(spun, g.rotation, QUARTER_TURN) > 20.0


def test_bad_objects_are_rejected_with_clear_errors():
    with pytest.raises(ValueError, match="size must be 3 positive"):
        ObjectNode(0, "cube", "red", (0.05, 0.0, 0.05), [0, 0, 0])
    with pytest.raises(ValueError, match="duplicate object ids"):
        SceneGraph([_obj(0, "cube", "red", (0, 0)), _obj(0, "cube", "blue", (1, 0))],
                   np.eye(4), 640, 480)
    with pytest.raises(ValueError, match="unknown view"):
        SceneGraph([], _camera_pose(), 640, 480).view_axes("drone")


def test_side_grasp_comes_level_along_the_line_of_sight():
    pose = _camera_pose()
    mug = ObjectNode(0, "mug", "red", (0.05, 0.05, 0.1), [0.4, 0.2, 0.05], pixels=2000)
    g = side_grasp(mug, pose[:3, 3])
    assert g is not None and is_rotation(g.rotation)
    sight = mug.position - pose[:3, 3]
    sight[2] = 0.0
    np.testing.assert_allclose(g.rotation[:, 2], sight / np.linalg.norm(sight), atol=1e-9)
    assert abs(g.rotation[:, 1][2]) < 1e-9  # fingers close level with the table
    np.testing.assert_allclose(g.position, mug.position)
    assert 0.05 + 0.01 < g.width <= 0.085  # across the footprint seen at an angle, + margin
    flat = ObjectNode(1, "block", "red", (0.05, 0.05, 0.03), [0.5, 0.0, 0.015], pixels=2000)
    assert side_grasp(flat, pose[:3, 3]) is None  # fingers would hit the table
    wide = ObjectNode(2, "box", "red", (0.12, 0.12, 0.1), [0.5, 0.0, 0.05])
    assert side_grasp(wide, pose[:3, 3]) is None
    # the model's side-grasp label, read off a sample's camera-frame grasp
    graph0 = SceneGraph([mug], pose, 640, 480)
    assert is_side_grasp(pose, to_camera(g, graph0).rotation)
    assert not is_side_grasp(pose, to_camera(top_down_grasp(mug), graph0).rotation)
    assert not is_side_grasp(None, to_camera(g, graph0).rotation)  # no pose: not known
    # the prompt kind renders a side request and keeps the grasp verb
    graph = SceneGraph([mug, flat], pose, 640, 480)
    expr, target = templates.KINDS["grasp_side"](graph, np.random.default_rng(0))
    assert target is mug
    text = render(expr, np.random.default_rng(1), from_side=True)
    assert any(p.strip() in text for p in ("side", "sideways"))
