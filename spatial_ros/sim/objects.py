"""Catalog of graspable objects and containers, each built from MuJoCo primitives.

Primitives (boxes, cylinders, spheres) collide fast and exactly, so eight objects plus an arm
still simulate many times faster than real time; hollow shapes (bowl, mug, tray) are rings of
thin boxes, which is what makes them real containers that other objects can fall into.
Every shape's body origin is the centre of its bounding box, so a reported pose is where a
person would say the object "is".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation


@dataclass(frozen=True)
class GeomPart:
    """One MuJoCo geom of an object, in the object's body frame (quat is w, x, y, z)."""

    type: str  # box | cylinder | sphere | capsule
    size: tuple[float, ...]  # MuJoCo half-sizes
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class ObjectSpec:
    category: str
    sizes: dict[str, tuple[float, ...]]  # size label -> shape parameters (metres)
    graspable: bool
    is_container: bool
    density: float  # kg/m^3 of the material (walls for hollow shapes)


CATALOG: dict[str, ObjectSpec] = {s.category: s for s in (
    # cube: edge
    ObjectSpec("cube", {"small": (0.04,), "medium": (0.05,), "large": (0.06,)}, True, False, 600),
    # block: x, y, z extents
    ObjectSpec("block", {"small": (0.07, 0.035, 0.035), "large": (0.09, 0.045, 0.04)},
               True, False, 600),
    # cylinder: radius, height
    ObjectSpec("cylinder", {"small": (0.025, 0.07), "medium": (0.03, 0.09),
                            "large": (0.035, 0.11)}, True, False, 500),
    # sphere: radius
    ObjectSpec("sphere", {"small": (0.025,), "medium": (0.03,), "large": (0.035,)},
               True, False, 400),
    # mug: radius, height (plus a handle)
    ObjectSpec("mug", {"small": (0.035, 0.08), "large": (0.04, 0.095)}, True, False, 1200),
    # bowl: rim radius, height
    ObjectSpec("bowl", {"small": (0.07, 0.045), "medium": (0.08, 0.05), "large": (0.09, 0.055)},
               False, True, 1200),
    # box: open tray, x, y, z extents
    ObjectSpec("box", {"small": (0.16, 0.12, 0.06), "medium": (0.2, 0.15, 0.07),
                       "large": (0.24, 0.18, 0.08)}, False, True, 800),
)}

WALL = 0.006  # wall thickness of hollow objects (m)
#: where a mug's body axis is in its frame: the frame centres the bounding box, and the
#: handle sticks out on +x
MUG_BODY_X = -0.0135


def _quat(rot: Rotation) -> tuple[float, float, float, float]:
    x, y, z, w = rot.as_quat()
    return (float(w), float(x), float(y), float(z))


def _ring(radius: float, height: float, z_bottom: float, n: int, tilt_deg: float = 0.0,
          start_deg: float = 0.0) -> list[GeomPart]:
    """``n`` thin wall boxes around a circle; ``tilt_deg`` leans them outward (a bowl)."""
    tilt = np.deg2rad(tilt_deg)
    half_len = radius * np.tan(np.pi / n) * 1.08
    parts = []
    for i in range(n):
        theta = np.deg2rad(start_deg) + 2.0 * np.pi * i / n
        r_mid = radius - 0.5 * height * np.tan(tilt)  # radius at the wall's mid-height
        pos = (r_mid * np.cos(theta), r_mid * np.sin(theta), z_bottom + 0.5 * height)
        rot = Rotation.from_euler("z", theta) * Rotation.from_euler("y", tilt)
        parts.append(GeomPart("box", (WALL / 2, half_len, 0.5 * height / np.cos(tilt)),
                              tuple(float(p) for p in pos), _quat(rot)))
    return parts


def shape_parts(category: str, params: tuple[float, ...]) -> tuple[list[GeomPart], tuple]:
    """Geoms of one object and its bounding-box extents (x, y, z) in metres."""
    if category == "cube":
        (s,) = params
        return [GeomPart("box", (s / 2, s / 2, s / 2))], (s, s, s)
    if category == "block":
        x, y, z = params
        return [GeomPart("box", (x / 2, y / 2, z / 2))], (x, y, z)
    if category == "cylinder":
        r, h = params
        return [GeomPart("cylinder", (r, h / 2))], (2 * r, 2 * r, h)
    if category == "sphere":
        (r,) = params
        return [GeomPart("sphere", (r,))], (2 * r, 2 * r, 2 * r)
    if category == "mug":
        r, h = params
        parts = [GeomPart("cylinder", (r, WALL / 2), (0.0, 0.0, -h / 2 + WALL / 2))]
        parts += _ring(r - WALL / 2, h - WALL, -h / 2 + WALL, 12, start_deg=15.0)
        hx, hz = r + 0.022, 0.3 * h  # handle: two arms and a grip on +x
        parts += [GeomPart("box", (0.012, 0.006, 0.005), (r + 0.01, 0.0, hz)),
                  GeomPart("box", (0.012, 0.006, 0.005), (r + 0.01, 0.0, -hz)),
                  GeomPart("box", (0.005, 0.006, hz + 0.005), (hx, 0.0, 0.0))]
        parts = [GeomPart(p.type, p.size, (p.pos[0] + MUG_BODY_X, p.pos[1], p.pos[2]), p.quat)
                 for p in parts]
        return parts, (2 * r + 0.027, 2 * r, h)
    if category == "bowl":
        r, h = params
        tilt = 35.0
        r_bottom = r - h * np.tan(np.deg2rad(tilt))
        parts = [GeomPart("cylinder", (r_bottom, WALL / 2), (0.0, 0.0, -h / 2 + WALL / 2))]
        parts += _ring(r - WALL / 2, h - 0.002, -h / 2 + 0.002, 16, tilt_deg=tilt)
        return parts, (2 * r, 2 * r, h)
    if category == "box":
        x, y, z = params
        w = WALL + 0.002
        parts = [GeomPart("box", (x / 2, y / 2, w / 2), (0.0, 0.0, -z / 2 + w / 2))]
        wall_z = 0.5 * w
        for sx in (-1, 1):
            parts.append(GeomPart("box", (w / 2, y / 2, z / 2 - w / 2),
                                  (sx * (x / 2 - w / 2), 0.0, wall_z)))
        for sy in (-1, 1):
            parts.append(GeomPart("box", (x / 2 - w, w / 2, z / 2 - w / 2),
                                  (0.0, sy * (y / 2 - w / 2), wall_z)))
        return parts, (x, y, z)
    raise ValueError(f"unknown object category '{category}'; known: {sorted(CATALOG)}")


def object_spec(category: str) -> ObjectSpec:
    try:
        return CATALOG[category]
    except KeyError:
        raise ValueError(f"unknown object category '{category}'; known: {sorted(CATALOG)}") \
            from None
