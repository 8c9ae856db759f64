"""Debug image: what the robot was told, where it looked and how it means to grasp.

Drawn with PIL on a copy of the colour frame so an operator can check a result in RViz
or a saved PNG without any other tool.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy.spatial.transform import Rotation

from spatial_ros.perception.result import PerceptionResult

AXIS_COLOURS = ((255, 40, 40), (40, 220, 40), (60, 120, 255))  # x, y, z like RViz


@dataclass
class OverlayConfig:
    axis_length_m: float = 0.05
    point_radius_px: int = 6
    wrap_chars: int = 60


def project(points_cam: np.ndarray, fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """Pinhole projection of (N, 3) camera-frame points (z forward) to (N, 2) pixels."""
    points_cam = np.atleast_2d(np.asarray(points_cam, dtype=np.float64))
    z = np.clip(points_cam[:, 2], 1e-6, None)
    return np.stack([fx * points_cam[:, 0] / z + cx, fy * points_cam[:, 1] / z + cy], axis=1)


def draw_overlay(rgb: np.ndarray, result: PerceptionResult, intrinsics=None,
                 config: OverlayConfig | None = None) -> np.ndarray:
    """Returns an (H, W, 3) uint8 copy of ``rgb`` with instruction, point and grasp axes."""
    cfg = config or OverlayConfig()
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"overlay needs an (H, W, 3) image, got shape {rgb.shape}")
    image = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()

    if result.point_px_model is not None and result.point_px is not None:
        draw.line([tuple(result.point_px_model), tuple(result.point_px)], fill=(255, 255, 0))
    moved_from = (result.check or {}).get("model_point_px")
    if moved_from is not None and result.point_px is not None:  # the spot the check moved
        u0, v0 = moved_from
        r = cfg.point_radius_px // 2
        draw.ellipse([u0 - r, v0 - r, u0 + r, v0 + r], outline=(255, 210, 60), width=1)
        draw.line([(u0, v0), tuple(result.point_px)], fill=(255, 210, 60))
    if result.point_px is not None:
        u, v = result.point_px
        r = cfg.point_radius_px
        draw.ellipse([u - r, v - r, u + r, v + r], outline=(255, 0, 255), width=2)
        draw.line([u - 2 * r, v, u + 2 * r, v], fill=(255, 0, 255))
        draw.line([u, v - 2 * r, u, v + 2 * r], fill=(255, 0, 255))

    grasp = result.grasp_camera
    if grasp is not None and intrinsics is not None:
        origin = np.asarray(grasp.position, dtype=np.float64)
        axes = Rotation.from_quat(grasp.quaternion_xyzw).as_matrix().T * cfg.axis_length_m
        pts = project(np.vstack([origin, origin + axes]), intrinsics.fx, intrinsics.fy,
                      intrinsics.cx, intrinsics.cy)
        for tip, colour in zip(pts[1:], AXIS_COLOURS, strict=True):
            draw.line([tuple(pts[0]), tuple(tip)], fill=colour, width=3)

    lines = textwrap.wrap(result.instruction or "(no instruction)", cfg.wrap_chars)[:3]
    if result.error:
        lines += textwrap.wrap(f"error: {result.error}", cfg.wrap_chars)[:2]
    elif result.confidence is not None:
        lines.append(f"conf {result.confidence:.2f}  depth {result.depth_m or 0:.3f} m"
                     + ("  grasp from the side" if result.grasp_approach == "side" else ""))
    check = result.check or {}
    if check.get("place_region"):  # a place answer: its region, then its clearance
        lines.append(_place_line(check))
    elif check.get("overruled"):  # the answer is not the model's first
        other = "another " if check["model_object"] == check["chosen_object"] else ""
        lines.append(f"check: model said {check['model_object']}, took {other}"
                     f"{check['chosen_object']}" + (" (relation)" if check.get("misfit")
                                                    == "relation" else ""))
    elif check.get("free_space"):  # a place answer's clearance was checked
        lines.append(_free_space_line(check))
    line_h = 12
    draw.rectangle([0, 0, image.width, 4 + line_h * len(lines)], fill=(0, 0, 0))
    for i, line in enumerate(lines):
        colour = (255, 90, 90) if line.startswith("error") else \
            (255, 210, 60) if line.startswith("check") else (255, 255, 255)
        draw.text((4, 2 + i * line_h), line, fill=colour, font=font)
    return np.asarray(image)


def _place_line(check: dict) -> str:
    relation, _, view = check["relation"].partition(":")
    where = (f"{relation.replace('_', ' ')} {' and '.join(check['anchors']) or '(anchor not seen)'}"
             + (f" ({view}'s view)" if view else ""))
    if check["overruled"]:
        line = f"check: model's spot not {where}, took its #{check['candidate'] + 1}"
    elif check["model_in_region"]:
        line = f"check: spot {where}"
    elif not check["region_seen"]:
        line = f"check: no region {where} seen"
    elif check["model_in_region"] is None:  # the referrer ranked no candidates
        line = f"check: region {where} seen"
    else:
        line = f"check: no ranked spot {where}"
    if check.get("free_space") and check["moved_cm"] > 0:
        line += f", moved {check['moved_cm']:.1f} cm clear"
    return line


def _free_space_line(check: dict) -> str:
    if check["moved_cm"] > 0:
        return f"check: spot moved {check['moved_cm']:.1f} cm clear of objects"
    if not check["clear"]:
        near = check["clearance_cm"]
        return "check: no clear spot near the answer" + (
            f" ({near:.1f} cm from an object)" if near is not None else "")
    return "check: spot clear of objects"
