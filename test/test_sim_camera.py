"""The simulated RealSense: depth, masks and projection agree with MuJoCo's geometry."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from spatial_ros.geometry.backproject import depth_to_points
from spatial_ros.geometry.intrinsics import Intrinsics
from spatial_ros.sim.camera import SimRealSense
from spatial_ros.sim.camera_mount import CameraConfig, DepthNoiseConfig
from spatial_ros.sim.depth_noise import add_depth_noise, to_millimetres
from spatial_ros.sim.world import WorldConfig, build_world


@pytest.fixture(scope="module")
def scene():
    """One settled 8-object scene and an exact (noise-free) camera on it."""
    world = build_world(WorldConfig(n_objects=8), seed=5)
    cam = SimRealSense(world, noise=False)
    yield world, cam, cam.render()
    cam.close()


def _to_world(frame, points_cam):
    return points_cam @ frame.camera_pose[:3, :3].T + frame.camera_pose[:3, 3]


def test_frame_layout_and_d435_intrinsics(scene):
    _, _, frame = scene
    assert frame.rgb.shape == (480, 640, 3) and frame.rgb.dtype == np.uint8
    assert frame.depth_mm.shape == (480, 640) and frame.depth_mm.dtype == np.uint16
    assert frame.segmentation.dtype == np.int32
    intr = frame.intrinsics
    assert isinstance(intr, Intrinsics)
    assert (intr.width, intr.height, intr.fx, intr.fy) == (640, 480, 615.0, 615.0)
    assert abs(intr.cx - 320) < 1 and abs(intr.cy - 240) < 1
    r = frame.camera_pose[:3, :3]
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(r) > 0
    # optical frame: z looks down at the table (pitch 45-60 deg), y points down in the image
    pitch = np.degrees(np.arcsin(-r[2, 2]))
    assert 45.0 <= pitch <= 60.0
    assert r[2, 1] < 0  # image "down" has a downward world component
    assert frame.rgb.std() > 20, "image is flat: nothing rendered"


def test_table_depth_backprojects_onto_table_plane(scene):
    world, cam, frame = scene
    table_geom = mujoco.mj_name2id(world.model, mujoco.mjtObj.mjOBJ_GEOM, "table_top")
    on_table = cam.render_geom_ids() == table_geom
    assert on_table.mean() > 0.3, "table should fill a good part of the view"
    pts = depth_to_points(frame.depth_mm, frame.intrinsics)[on_table.reshape(-1)]
    assert (pts[:, 2] > 0).all(), "noise-free depth must be valid on the whole table"
    z_world = _to_world(frame, pts.astype(np.float64))[:, 2]
    err = np.abs(z_world - world.table_top_z)
    assert err.max() < 0.003, f"table plane error up to {err.max() * 1000:.2f} mm"
    # float depth (no mm quantization) is better still
    exact = cam.render_depth_m()
    pts = depth_to_points(exact.astype(np.float32), frame.intrinsics)[on_table.reshape(-1)]
    assert np.abs(_to_world(frame, pts.astype(np.float64))[:, 2]
                  - world.table_top_z).max() < 0.0015


def test_segmentation_masks_match_objects(scene):
    world, _, frame = scene
    seg = frame.segmentation
    ids = set(np.unique(seg).tolist())
    assert ids <= {-1} | {o.id for o in world.objects}
    visible = [o for o in world.objects if (seg == o.id).sum() > 150]
    assert len(visible) >= 6, f"only {len(visible)} of 8 objects visible"
    pts = depth_to_points(frame.depth_mm, frame.intrinsics).reshape(480, 640, 3)
    for obj in visible:
        mask = seg == obj.id
        # every masked pixel back-projects inside (or on) the object's bounding box
        p_world = _to_world(frame, pts[mask].astype(np.float64))
        local = (p_world - obj.pose[:3, 3]) @ obj.pose[:3, :3]
        half = np.asarray(obj.size) / 2 + 0.004
        inside = np.all(np.abs(local) <= half, axis=1).mean()
        assert inside > 0.98, f"{obj.name}: only {inside:.1%} of its mask lies on it"
        # and the mask sits where the object's centre projects
        centre_cam = np.linalg.inv(frame.camera_pose) @ obj.pose[:, 3]
        u, v = frame.intrinsics.project(centre_cam[:3])[0]
        rows, cols = np.nonzero(mask)
        assert cols.min() - 3 <= u <= cols.max() + 3 and rows.min() - 3 <= v <= rows.max() + 3
    assert frame.object_poses.keys() == {o.id for o in world.objects}


def test_known_point_projects_where_intrinsics_say():
    """A ball's mask centroid is the pinhole projection of its centre, for off-centre optics."""
    cam_cfg = CameraConfig(width=424, height=240, fx=300.0, fy=310.0, cx=200.0, cy=130.0)
    world = build_world(WorldConfig(n_objects=1, categories=["sphere"], camera=cam_cfg),
                        seed=1)
    with SimRealSense(world, noise=False) as cam:
        frame = cam.render()
    obj = world.objects[0]
    rows, cols = np.nonzero(frame.segmentation == obj.id)
    assert rows.size > 50
    centre = np.linalg.inv(frame.camera_pose) @ obj.pose[:, 3]
    u, v = frame.intrinsics.project(centre[:3])[0]
    assert abs(cols.mean() - u) < 0.6 and abs(rows.mean() - v) < 0.6, (cols.mean(), rows.mean(),
                                                                      u, v)
    # the depth at the ball's nearest point is its centre distance minus the radius
    z = frame.depth_m[frame.segmentation == obj.id]
    dist = np.linalg.norm(centre[:3])
    assert abs(z.min() - (dist - obj.size[0] / 2)) < 0.004


def test_noise_model_grows_with_z_squared_and_drops_pixels():
    cfg = DepthNoiseConfig(subpixel_step=0.0)
    rng = np.random.default_rng(0)
    near = add_depth_noise(np.full((200, 200), 0.5), 615.0, cfg, rng)
    far = add_depth_noise(np.full((200, 200), 2.0), 615.0, cfg, rng)
    ratio = (far[far > 0] - 2.0).std() / (near[near > 0] - 0.5).std()
    assert 12.0 < ratio < 20.0, f"noise std ratio 2 m / 0.5 m = {ratio:.1f}, expected ~16"
    expected_far = 2.0 ** 2 * cfg.subpixel_std / (615.0 * cfg.baseline_m)
    assert abs((far[far > 0] - 2.0).std() - expected_far) < 0.25 * expected_far
    # range limits
    out = add_depth_noise(np.array([[0.05, 7.0, 1.0]]), 615.0, cfg, rng)
    assert out[0, 0] == 0 and out[0, 1] == 0 and out[0, 2] > 0
    # a depth step loses pixels on the edge only; dark surfaces lose pixels; glass loses all
    step = np.full((100, 100), 1.0)
    step[:, 50:] = 1.5
    noisy = add_depth_noise(step, 615.0, cfg, rng)
    assert (noisy[:, 49:51] == 0).mean() > 0.3 and (noisy[:, 10:40] == 0).mean() == 0
    dark = np.zeros((100, 100), bool)
    dark[:50] = True
    noisy = add_depth_noise(np.full((100, 100), 1.0), 615.0, cfg, rng, dark=dark,
                            transparent=~dark)
    assert abs((noisy[:50] == 0).mean() - cfg.dark_dropout) < 0.05
    assert (noisy[50:] == 0).all()
    np.testing.assert_array_equal(to_millimetres(np.array([0.0, 1.2344, 0.1])), [0, 1234, 100])


def test_noisy_frame_is_seeded_and_close_to_exact(scene):
    world, _, exact = scene
    frames = []
    for _ in range(2):
        with SimRealSense(world, seed=3) as cam:
            frames.append(cam.render())
    np.testing.assert_array_equal(frames[0].depth_mm, frames[1].depth_mm)
    # a noise seed of its own (bench_executor --noise-seed): the same scene, other noise
    with SimRealSense(world, seed=[3, 1]) as cam:
        other = cam.render()
    np.testing.assert_array_equal(other.rgb, frames[0].rgb)
    assert np.mean(other.depth_mm != frames[0].depth_mm) > 0.2
    noisy = frames[0].depth_mm.astype(float)
    both = (noisy > 0) & (exact.depth_mm > 0)
    assert 0.85 < both.sum() / (exact.depth_mm > 0).sum() < 0.999  # some pixels dropped
    z = np.median(exact.depth_mm[both]) / 1000.0
    sigma_mm = 1000.0 * z**2 * 0.08 / (615.0 * 0.05)  # D435 model: disparity noise 0.08 px
    err = np.median(np.abs(noisy[both] - exact.depth_mm[both]))
    assert 0.3 * sigma_mm < err < 1.5 * sigma_mm + 1.0, (err, sigma_mm)


def test_wrist_mount_follows_its_body():
    cfg = CameraConfig(mount="wrist", wrist_body="table", wrist_pos=(0.0, 0.0, 0.5),
                       wrist_rpy_deg=(180.0, 0.0, 0.0))
    world = build_world(WorldConfig(n_objects=2, camera=cfg), seed=0)
    with SimRealSense(world, noise=False) as cam:
        frame = cam.render()
        table = world.model.body("table").id
        expected = world.data.xpos[table] + [0, 0, 0.5]
        np.testing.assert_allclose(frame.camera_pose[:3, 3], expected, atol=1e-9)
        np.testing.assert_allclose(frame.camera_pose[:3, 2], [0, 0, -1], atol=1e-9)  # looks down
        centre_depth = frame.depth_m[240, 320]
        assert abs(centre_depth - (0.5 - 0.02)) < 0.02  # table top is 2 cm above the body


def test_bad_camera_configs_are_named_errors():
    with pytest.raises(ValueError, match="no wrist_body"):
        build_world(WorldConfig(camera=CameraConfig(mount="wrist")), settle=False)
    with pytest.raises(ValueError, match="'gripper_cam' is not a body"):
        build_world(WorldConfig(camera=CameraConfig(mount="wrist", wrist_body="gripper_cam")),
                    settle=False)
    with pytest.raises(ValueError, match=r"camera\.mount"):
        build_world(WorldConfig(camera=CameraConfig(mount="ceiling")), settle=False)


def test_dark_and_transparent_objects_lose_depth_in_renders():
    world = build_world(WorldConfig(n_objects=2, categories=["cube"], colours=["black"]),
                        seed=0)
    glass = world.objects[1]
    world.model.geom_rgba[list(glass.geom_ids), 3] = 0.3  # make the second cube glass-like
    with SimRealSense(world, seed=0) as cam:
        frame = cam.render()
    black = frame.segmentation == world.objects[0].id
    clear = frame.segmentation == glass.id
    assert black.sum() > 100 and clear.sum() > 100
    lost = (frame.depth_mm[black] == 0).mean()
    assert 0.55 < lost < 0.9, f"black cube lost {lost:.0%} of its depth, expected ~70%"
    assert (frame.depth_mm[clear] == 0).all()
    table = frame.segmentation == -1
    assert (frame.depth_mm[table] == 0).mean() < 0.15


def test_wrist_camera_rides_on_the_robot_hand():
    from spatial_ros.sim.simulation import Simulation

    world = build_world(WorldConfig(n_objects=3, camera=CameraConfig(mount="wrist")),
                        robot="ur5", seed=0)
    flange = int(world.model.cam_bodyid[world.model.camera(world.cfg.camera.name).id])
    assert world.model.body(flange).name in (world.robot.tip_body, "tool0")

    def flange_pose():
        pose = np.eye(4)
        pose[:3, :3] = world.data.xmat[flange].reshape(3, 3)
        pose[:3, 3] = world.data.xpos[flange]
        return pose

    before = world.camera_pose()
    relative = np.linalg.inv(flange_pose()) @ before
    sim = Simulation(world)
    names = list(world.robot.group.joints)
    q0 = np.array(sim.joint_state().position[:len(names)])
    sim.command_trajectory(names, [0.5], [(q0 + 0.3).tolist()])
    sim.step(400)
    mujoco.mj_forward(world.model, world.data)
    moved = world.camera_pose()
    assert np.linalg.norm(moved[:3, 3] - (flange_pose() @ relative)[:3, 3]) < 1e-9
    assert np.linalg.norm(moved[:3, 3] - before[:3, 3]) > 0.05  # the arm really moved it
    with SimRealSense(world, noise=False) as cam:
        frame = cam.render()
    np.testing.assert_allclose(frame.camera_pose, moved, atol=1e-9)
    assert (frame.depth_mm > 0).mean() > 0.5
