"""geometry layer: checked against pyrealsense2, open3d and scipy rather than against itself."""

from __future__ import annotations

import numpy as np
import open3d as o3d
import pyrealsense2 as rs
import pytest
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import CameraInfo

from spatial_ros.geometry import depth_encoding as enc
from spatial_ros.geometry.backproject import (
    backproject_pixels,
    depth_to_cloud,
    depth_to_points,
    ray_grid,
)
from spatial_ros.geometry.depth_query import query_depth
from spatial_ros.geometry.intrinsics import Intrinsics, camera_info_fields
from spatial_ros.geometry.rotations import (
    geodesic_deg,
    matrix_to_quat_wxyz,
    matrix_to_quat_xyzw,
    matrix_to_rot6d,
    quat_wxyz_to_matrix,
    quat_xyzw_to_matrix,
    rot6d_to_matrix,
)
from spatial_ros.geometry.se3 import Transform, look_at

D435 = Intrinsics(640, 480, 615.3, 615.9, 321.7, 238.4)


def rs_intrinsics(model: str, coeffs) -> rs.intrinsics:
    intr = rs.intrinsics()
    intr.width, intr.height, intr.fx, intr.fy, intr.ppx, intr.ppy = 640, 480, 600, 605, 318, 242
    intr.model = getattr(rs.distortion, model)
    intr.coeffs = list(coeffs)
    return intr


# --- intrinsics ---------------------------------------------------------------------------

def test_intrinsics_from_camera_info_message_and_back():
    msg = CameraInfo()
    msg.width, msg.height = 640, 480
    msg.k = [610.0, 0.0, 320.5, 0.0, 611.0, 240.5, 0.0, 0.0, 1.0]
    msg.d = [0.1, -0.05, 0.001, 0.002, 0.01]
    msg.distortion_model = "plumb_bob"
    intr = Intrinsics.from_camera_info(msg)
    assert (intr.fx, intr.fy, intr.cx, intr.cy) == (610.0, 611.0, 320.5, 240.5)
    assert intr.coeffs == pytest.approx((0.1, -0.05, 0.001, 0.002, 0.01))
    fields = camera_info_fields(intr)
    assert fields["k"] == list(msg.k)
    assert fields["p"][:3] == [610.0, 0.0, 320.5] and fields["p"][3] == 0.0
    assert Intrinsics.from_dict(intr.to_dict()) == intr


def test_intrinsics_reject_bad_input():
    msg = CameraInfo()  # all-zero K, as an uncalibrated driver publishes
    msg.width, msg.height = 640, 480
    with pytest.raises(ValueError, match="focal"):
        Intrinsics.from_camera_info(msg)
    with pytest.raises(ValueError, match="size"):
        Intrinsics(0, 480, 1, 1, 0, 0)
    with pytest.raises(ValueError, match="distortion model"):
        Intrinsics(640, 480, 1, 1, 0, 0, model="fisheye9000")
    with pytest.raises(ValueError, match="unknown key"):
        Intrinsics.from_dict({**D435.to_dict(), "f": 1})


def test_intrinsics_from_rs_roundtrip_and_scaling():
    intr = Intrinsics.from_rs(rs_intrinsics("inverse_brown_conrady", [0.1, 0.02, 0, 0, 0]))
    assert intr.model == "rs_inverse_brown_conrady" and intr.cx == 318
    back = intr.to_rs()
    assert back.model == rs.distortion.inverse_brown_conrady and back.fy == 605
    half = D435.scaled(320, 240)
    assert half.fx == pytest.approx(D435.fx / 2)
    # The same ray through pixel centres before and after resizing.
    p_full = backproject_pixels(400.5, 300.5, 1.0, D435)
    p_half = backproject_pixels((400.5 + 0.5) / 2 - 0.5, (300.5 + 0.5) / 2 - 0.5, 1.0, half)
    np.testing.assert_allclose(p_full, p_half, atol=1e-9)


# --- back-projection ----------------------------------------------------------------------

@pytest.mark.parametrize("model,coeffs", [
    ("none", [0, 0, 0, 0, 0]),
    ("inverse_brown_conrady", [0.12, -0.2, 0.001, -0.002, 0.05]),
    ("brown_conrady", [-0.05, 0.03, 0.001, 0.0005, 0.0]),
    ("kannala_brandt4", [0.1, -0.02, 0.003, -0.001, 0]),
])
def test_backproject_matches_librealsense_deprojection(model, coeffs):
    rsi = rs_intrinsics(model, coeffs)
    intr = Intrinsics.from_rs(rsi)
    rng = np.random.default_rng(1)
    u, v = rng.uniform(0, 640, 50), rng.uniform(0, 480, 50)
    z = rng.uniform(0.2, 3.0, 50)
    ours = backproject_pixels(u, v, z, intr)
    theirs = np.array([rs.rs2_deproject_pixel_to_point(rsi, [a, b], c)
                       for a, b, c in zip(u, v, z, strict=True)])
    np.testing.assert_allclose(ours, theirs, atol=2e-4 * z.max())


def test_plumb_bob_backprojection_inverts_librealsense_projection():
    """Brown-Conrady projection (librealsense) followed by our deprojection is the identity."""
    rsi = rs_intrinsics("brown_conrady", [-0.08, 0.05, 0.002, -0.001, 0.01])
    intr = Intrinsics.from_rs(rsi)
    rng = np.random.default_rng(2)
    pts = np.c_[rng.uniform(-0.4, 0.4, (40, 2)), rng.uniform(0.5, 2.0, 40)]
    px = np.array([rs.rs2_project_point_to_pixel(rsi, p.tolist()) for p in pts])
    np.testing.assert_allclose(backproject_pixels(px[:, 0], px[:, 1], pts[:, 2], intr), pts,
                               atol=1e-5)


def test_depth_to_points_matches_open3d_and_pixels():
    rng = np.random.default_rng(3)
    depth = rng.integers(300, 3000, (480, 640)).astype(np.uint16)
    depth[::7, ::5] = 0  # holes
    points = depth_to_points(depth, D435)
    assert points.shape == (480 * 640, 3) and points.dtype == np.float32
    assert np.all(points[depth.reshape(-1) == 0] == 0)
    o3d_intr = o3d.camera.PinholeCameraIntrinsic(640, 480, D435.fx, D435.fy, D435.cx, D435.cy)
    cloud = o3d.geometry.PointCloud.create_from_depth_image(
        o3d.geometry.Image(depth), o3d_intr, depth_scale=1000.0, depth_trunc=1e6)
    ref = np.asarray(cloud.points)
    ours = points[points[:, 2] > 0]
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    v, u = 123, 456
    np.testing.assert_allclose(points[v * 640 + u],
                               backproject_pixels(u, v, depth[v, u] / 1000, D435)[0], rtol=1e-6)


def test_depth_to_points_float_metres_nan_and_shape_errors():
    depth = np.full((480, 640), 1.5, np.float32)
    depth[0, 0], depth[0, 1], depth[0, 2] = np.nan, -1.0, np.inf
    pts = depth_to_points(depth, D435)
    assert pts[0, 2] == 0 and pts[1, 2] == 0 and pts[2, 2] == 0 and pts[3, 2] == 1.5
    with pytest.raises(ValueError, match="640x480"):
        depth_to_points(np.zeros((480, 641), np.uint16), D435)
    rgb = np.zeros((480, 640, 3), np.uint8)
    rgb[..., 0] = 255
    cloud, colors = depth_to_cloud(depth, D435, rgb=rgb, max_depth_m=2.0)
    assert len(cloud) == 480 * 640 - 3 and np.all(colors[:, 0] == 1.0)
    with pytest.raises(ValueError, match="does not match"):
        depth_to_cloud(depth, D435, rgb=rgb[:10])


def test_ray_grid_is_cached_and_read_only():
    a, _ = ray_grid(D435)
    b, _ = ray_grid(Intrinsics(**D435.to_dict()))
    assert a is b and not a.flags.writeable


# --- depth query (SpatialBot depth API) -------------------------------------------------

def test_query_depth_statistics_over_valid_pixels():
    depth = np.zeros((100, 100), np.float32)
    depth[40:45, 60:65] = np.arange(25, dtype=np.float32).reshape(5, 5) / 10 + 1.0
    depth[42, 62] = np.nan  # centre: no depth
    q = query_depth(depth, 62, 42, window=5, stat="median")
    vals = np.delete(np.arange(25) / 10 + 1.0, 12)
    assert q.valid and q.n_valid == 24 and q.depth_m == pytest.approx(np.median(vals))
    assert query_depth(depth, 62, 42, stat="min").depth_m == pytest.approx(1.0)
    assert query_depth(depth, 62, 42, stat="max").depth_m == pytest.approx(3.4)
    assert query_depth(depth, 62, 42, stat="mean").depth_m == pytest.approx(vals.mean(), 1e-6)
    c = query_depth(depth, 62.7, 42.2, stat="center")  # centre invalid -> nearest valid pixel
    assert c.valid and abs(c.u - 62) + abs(c.v - 42) == 1
    assert query_depth(depth, 61, 41, stat="center").depth_m == pytest.approx(1.6)


def test_query_depth_nearest_valid_fallback_and_failures():
    depth = np.zeros((480, 640), np.uint16)
    depth[200, 308] = 750  # 8 px left of the query
    q = query_depth(depth, 316, 200, window=3, search_radius=10)
    assert q.valid and (q.u, q.v) == (308, 200) and q.depth_m == pytest.approx(0.75)
    miss = query_depth(depth, 316, 200, window=3, search_radius=5)
    assert not miss.valid and np.isnan(miss.depth_m) and miss.n_valid == 0
    far = query_depth(depth, 308, 200, max_depth_m=0.5)
    assert not far.valid
    with pytest.raises(ValueError, match="outside"):
        query_depth(depth, 640, 10)
    with pytest.raises(ValueError, match="not finite"):
        query_depth(depth, np.nan, 10)
    with pytest.raises(ValueError, match="statistic"):
        query_depth(depth, 1, 1, stat="mode")
    with pytest.raises(ValueError, match="odd"):
        query_depth(depth, 1, 1, window=4)


# --- rotations ------------------------------------------------------------------------------

def test_rot6d_roundtrip_and_gram_schmidt():
    rots = Rotation.random(64, random_state=4).as_matrix()
    np.testing.assert_allclose(rot6d_to_matrix(matrix_to_rot6d(rots)), rots, atol=1e-12)
    noisy = matrix_to_rot6d(rots) + np.random.default_rng(5).normal(0, 0.05, (64, 6))
    fixed = rot6d_to_matrix(noisy)
    np.testing.assert_allclose(fixed @ np.swapaxes(fixed, 1, 2), np.broadcast_to(np.eye(3),
                               (64, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(fixed), 1.0)
    assert np.all(geodesic_deg(fixed, rots) < 10)
    with pytest.raises(ValueError, match="parallel"):
        rot6d_to_matrix([1, 0, 0, 2, 0, 0])


def test_geodesic_and_quaternions_agree_with_scipy():
    r1 = Rotation.from_euler("xyz", [10, 20, 30], degrees=True)
    r2 = r1 * Rotation.from_rotvec([0, 0, np.radians(37)])
    assert geodesic_deg(r1.as_matrix(), r2.as_matrix()) == pytest.approx(37)
    assert geodesic_deg(np.eye(3), np.diag([1, -1, -1])) == pytest.approx(180)
    q = matrix_to_quat_xyzw(r1.as_matrix())
    assert q[3] >= 0
    np.testing.assert_allclose(quat_xyzw_to_matrix(q), r1.as_matrix(), atol=1e-12)
    wxyz = matrix_to_quat_wxyz(r1.as_matrix())
    np.testing.assert_allclose(wxyz, np.r_[q[3], q[:3]])
    np.testing.assert_allclose(quat_wxyz_to_matrix(wxyz), r1.as_matrix(), atol=1e-12)
    with pytest.raises(ValueError, match="zero norm"):
        quat_xyzw_to_matrix([0, 0, 0, 0])


# --- SE(3) ----------------------------------------------------------------------------------

def test_transform_compose_inverse_apply():
    a = Transform.from_quat([0.1, 0.2, 0.3], Rotation.from_euler("z", 90, degrees=True).as_quat())
    b = Transform(Rotation.from_euler("x", 30, degrees=True).as_matrix(), [1, 0, 0])
    p = np.array([[0.5, -0.2, 1.0], [0, 0, 0]])
    np.testing.assert_allclose((a @ b).apply(p), a.apply(b.apply(p)), atol=1e-12)
    np.testing.assert_allclose((a @ a.inverse()).as_matrix(), np.eye(4), atol=1e-12)
    np.testing.assert_allclose(Transform.from_matrix(a.as_matrix()).apply(p), a.apply(p))
    t, q = a.to_quat()
    np.testing.assert_allclose(Transform.from_quat(t, q).as_matrix(), a.as_matrix(), atol=1e-12)
    with pytest.raises(ValueError, match="rotation"):
        Transform(np.diag([1, 1, -1]), [0, 0, 0])
    with pytest.raises(ValueError, match="translation"):
        Transform(np.eye(3), [0, np.nan, 0])


def test_look_at_gives_an_optical_frame():
    cam = look_at([1.0, 0.0, 1.0], [0.0, 0.0, 0.0])
    direction = cam.apply_rotation([0, 0, 1])  # optical z looks at the target
    np.testing.assert_allclose(direction, np.array([-1, 0, -1]) / np.sqrt(2), atol=1e-12)
    assert cam.apply_rotation([0, 1, 0])[2] < 0  # image "down" points down in the world


# --- depth encodings ----------------------------------------------------------------------

def test_spatialbot_packing_is_lossless_and_matches_reference_formula():
    d = np.arange(0, 65536, dtype=np.uint16).reshape(256, 256)
    packed = enc.pack_spatialbot(d)
    ref = np.zeros((*d.shape, 3), np.uint8)
    ref[..., 0] = ((d.astype(np.int64) // 1024) * 4).astype(np.uint8)
    ref[..., 1] = ((d.astype(np.int64) // 32) * 8 % 256).astype(np.uint8)
    ref[..., 2] = ((d.astype(np.int64) % 32) * 8).astype(np.uint8)
    np.testing.assert_array_equal(packed, ref)
    np.testing.assert_array_equal(enc.unpack_spatialbot(packed), d)
    with pytest.raises(ValueError, match="integer"):
        enc.pack_spatialbot(np.zeros((2, 2), np.float32))


def test_mm_metre_conversions_keep_no_depth_as_zero():
    m = np.array([0.0, 0.5, np.nan, -1.0, 70.0, np.inf, 1.2344], np.float32)
    mm = enc.m_to_mm(m)
    np.testing.assert_array_equal(mm, [0, 500, 0, 0, 0, 0, 1234])
    np.testing.assert_allclose(enc.mm_to_m(mm), [0, 0.5, 0, 0, 0, 0, 1.234], rtol=1e-6)
    with pytest.raises(ValueError, match="integer"):
        enc.mm_to_m(m)


def test_normalized_depth_for_models():
    d = np.array([0.0, 0.1, 1.55, 3.0, 5.0, np.nan], np.float32)
    n = enc.normalize_depth(d, 0.1, 3.0, invalid_value=-1.0)
    np.testing.assert_allclose(n, [-1, 0, 0.5, 1, 1, -1], atol=1e-6)
    np.testing.assert_allclose(enc.denormalize_depth(n[1:4], 0.1, 3.0), d[1:4], atol=1e-6)
    vis = enc.colorize_depth(d.reshape(1, -1))
    assert vis.shape == (1, 6, 3) and vis[0, 0].sum() == 0 and vis[0, 2].sum() > 0
    with pytest.raises(ValueError, match="exceed"):
        enc.normalize_depth(d, 1.0, 1.0)
