"""RViz markers for a perception result: target sphere, grasp axes, instruction text, and the
object footprint (a translucent box in the base frame, turned to the object's own axes).

Fixed marker ids, so each result replaces the previous one in RViz; a failed result
clears them (DELETEALL) rather than leaving a stale target on screen.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point
from scipy.spatial.transform import Rotation
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from spatial_ros.perception.result import PerceptionResult

NAMESPACE = "spatial_target"
_AXIS_RGBA = ((1.0, 0.1, 0.1, 1.0), (0.1, 0.9, 0.1, 1.0), (0.2, 0.4, 1.0, 1.0))


def _marker(mid: int, mtype: int, frame_id: str, stamp: Time) -> Marker:
    m = Marker()
    m.header.frame_id = frame_id
    m.header.stamp = stamp
    m.ns = NAMESPACE
    m.id = mid
    m.type = mtype
    m.action = Marker.ADD
    m.pose.orientation.w = 1.0
    return m


def _point(xyz) -> Point:
    return Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))


def result_markers(result: PerceptionResult, stamp: Time, axis_length_m: float = 0.06,
                   sphere_m: float = 0.02) -> MarkerArray:
    """Markers in the camera frame (RViz places them with tf)."""
    array = MarkerArray()
    clear = Marker()
    clear.header.stamp = stamp
    clear.ns = NAMESPACE
    clear.action = Marker.DELETEALL
    array.markers.append(clear)
    if result.point_camera is None:
        return array
    frame = result.camera_frame

    sphere = _marker(0, Marker.SPHERE, frame, stamp)
    sphere.pose.position = _point(result.point_camera)
    sphere.scale.x = sphere.scale.y = sphere.scale.z = sphere_m
    sphere.color = ColorRGBA(r=1.0, g=0.0, b=1.0, a=0.9)
    array.markers.append(sphere)

    if result.grasp_camera is not None:
        origin = np.asarray(result.grasp_camera.position, dtype=np.float64)
        axes = Rotation.from_quat(result.grasp_camera.quaternion_xyzw).as_matrix().T
        for i, (axis, rgba) in enumerate(zip(axes, _AXIS_RGBA, strict=True)):
            arrow = _marker(1 + i, Marker.ARROW, frame, stamp)
            arrow.points = [_point(origin), _point(origin + axis * axis_length_m)]
            arrow.scale.x, arrow.scale.y, arrow.scale.z = 0.006, 0.012, 0.015
            arrow.color = ColorRGBA(r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3])
            array.markers.append(arrow)

    text = _marker(4, Marker.TEXT_VIEW_FACING, frame, stamp)
    text.pose.position = _point(np.asarray(result.point_camera) + np.array([0.0, -0.05, 0.0]))
    text.scale.z = 0.03
    text.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
    text.text = result.instruction[:80] + (" (side grasp)" if result.grasp_approach == "side"
                                           else "")
    array.markers.append(text)

    fp = result.footprint_base
    if fp is not None and result.base_frame:
        box = _marker(5, Marker.CUBE, result.base_frame, stamp)
        height = max(float(fp["top_z"]) - float(fp["center"][2]), 0.002)
        box.pose.position = _point([fp["center"][0], fp["center"][1],
                                    float(fp["center"][2]) + height / 2])
        if "yaw" in fp and "size" in fp:  # the object's own rectangle, turned as it stands
            q = Rotation.from_euler("z", float(fp["yaw"])).as_quat()
            box.pose.orientation.x, box.pose.orientation.y = float(q[0]), float(q[1])
            box.pose.orientation.z, box.pose.orientation.w = float(q[2]), float(q[3])
            box.scale.x, box.scale.y = (max(float(e), 0.005) for e in fp["size"])
        else:  # an older perception node: the axis-aligned extent
            box.scale.x, box.scale.y = (max(float(e), 0.005) for e in fp["extent"])
        box.scale.z = height
        box.color = ColorRGBA(r=0.2, g=0.8, b=1.0, a=0.35)
        array.markers.append(box)
    return array
