"""Where the simulated RealSense sits and what its lens is, added to the scene as a MuJoCo camera.

MuJoCo cameras look along -z with y up; ROS optical frames (REP-103) look along +z with y down.
The conversion lives here once: ``R_mujoco = R_optical @ diag(1, -1, -1)``. The lens is set
through MuJoCo's intrinsic camera model (focal and principal point in pixels), so a 3D point
projects to exactly the pixel the pinhole ``Intrinsics`` predict (checked by a test).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from spatial_ros.geometry.intrinsics import Intrinsics

OPTICAL_TO_MUJOCO = np.diag([1.0, -1.0, -1.0])
D435_FOCAL_640 = 615.0  # D435 colour camera at 640x480 (fx ~ fy ~ 615 px)


@dataclass
class DepthNoiseConfig:
    """D435-like depth artefacts (see ``depth_noise``); ``enabled: false`` gives exact depth."""

    enabled: bool = True
    baseline_m: float = 0.050  # stereo baseline of the D435
    subpixel_std: float = 0.08  # disparity noise (pixels), RMS error grows with z^2
    subpixel_step: float = 1.0 / 16.0  # disparity quantization (pixels)
    edge_threshold_m: float = 0.02  # depth jump that counts as a discontinuity
    edge_dropout: float = 0.6  # probability of losing a pixel on a depth edge
    dark_value: float = 0.15  # albedo (max of rgb) below which the IR pattern is lost
    dark_dropout: float = 0.7
    transparent_alpha: float = 0.9  # geoms with alpha below this return no depth
    min_depth_m: float = 0.1
    max_depth_m: float = 6.0


@dataclass
class CameraConfig:
    name: str = "d435"
    width: int = 640
    height: int = 480
    fx: float | None = None  # None: D435 value scaled to the resolution
    fy: float | None = None
    cx: float | None = None
    cy: float | None = None
    mount: str = "table"  # table | wrist
    # aim point in the robot base frame; None: centre of the workspace on the table top
    look_at: tuple[float, float, float] | None = None
    distance: float = 1.15  # metres from look_at
    pitch_deg: float = 50.0  # downward tilt (45-60 is typical on a tabletop)
    yaw_deg: float = 0.0  # azimuth of the camera around look_at; 0 = across from the robot
    # wrist mount: pose of the optical frame relative to ``wrist_body``, or, when that is
    # empty, to the robot's TCP site (z = approach axis, y = closing axis): by default 10 cm
    # behind the finger tips, 7 cm to the side, tilted 13 deg to look at the grasp point
    wrist_body: str = ""
    wrist_pos: tuple[float, float, float] = (0.07, 0.0, -0.10)
    wrist_rpy_deg: tuple[float, float, float] = (0.0, -13.0, 0.0)
    noise: DepthNoiseConfig = field(default_factory=DepthNoiseConfig)

    def intrinsics(self) -> Intrinsics:
        sx, sy = self.width / 640.0, self.height / 480.0
        return Intrinsics(
            width=self.width, height=self.height,
            fx=self.fx if self.fx is not None else D435_FOCAL_640 * sx,
            fy=self.fy if self.fy is not None else D435_FOCAL_640 * sy,
            cx=self.cx if self.cx is not None else (self.width - 1) / 2.0,
            cy=self.cy if self.cy is not None else (self.height - 1) / 2.0,
        )

    def validate(self) -> None:
        if self.mount not in ("table", "wrist"):
            raise ValueError(f"camera.mount must be 'table' or 'wrist', got '{self.mount}'")
        if not 0.0 < self.pitch_deg <= 90.0:
            raise ValueError(f"camera.pitch_deg must be in (0, 90], got {self.pitch_deg}")
        if self.distance <= 0.0:
            raise ValueError(f"camera.distance must be positive, got {self.distance}")


def look_at_rotation(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Optical-frame rotation (columns x right, y down, z forward) looking from eye to target."""
    z = np.asarray(target, float) - np.asarray(eye, float)
    z /= np.linalg.norm(z)
    up = np.array([0.0, 0.0, 1.0])
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-6:  # looking straight down: keep image x along world -y
        x = np.array([0.0, -1.0, 0.0])
    x /= np.linalg.norm(x)
    return np.column_stack([x, np.cross(z, x), z])


def table_camera_pose(cfg: CameraConfig, table_frame: np.ndarray) -> np.ndarray:
    """4x4 optical -> world pose of a table-mounted camera aimed at ``cfg.look_at`` (given in
    ``table_frame``: the robot base frame moved down/up onto the table top)."""
    look_at = cfg.look_at if cfg.look_at is not None else (0.5, 0.0, 0.0)
    rot = table_frame[:3, :3]
    target = rot @ np.asarray(look_at, float) + table_frame[:3, 3]
    pitch, yaw = np.deg2rad(cfg.pitch_deg), np.deg2rad(cfg.yaw_deg)
    offset = cfg.distance * np.array([np.cos(pitch) * np.cos(yaw),
                                      np.cos(pitch) * np.sin(yaw), np.sin(pitch)])
    eye = target + rot @ offset
    pose = np.eye(4)
    pose[:3, :3] = look_at_rotation(eye, target)
    pose[:3, 3] = eye
    return pose


def mujoco_quat(r_optical: np.ndarray) -> list[float]:
    x, y, z, w = Rotation.from_matrix(r_optical @ OPTICAL_TO_MUJOCO).as_quat()
    return [float(w), float(x), float(y), float(z)]


def _set_lens(cam: mujoco.MjsCamera, intr: Intrinsics) -> None:
    # Principal offset is measured from the image centre, with the sign MuJoCo uses.
    cam.resolution = [intr.width, intr.height]
    cam.sensor_size = [intr.width * 1e-3, intr.height * 1e-3]
    cam.focal_pixel = [intr.fx, intr.fy]
    cam.principal_pixel = [(intr.width - 1) / 2.0 - intr.cx, (intr.height - 1) / 2.0 - intr.cy]


def add_camera(spec: mujoco.MjSpec, cfg: CameraConfig, table_frame: np.ndarray,
               tcp_site: str | None = None) -> None:
    """Adds camera ``cfg.name`` to ``spec`` (world-fixed, or for a wrist mount on
    ``cfg.wrist_body`` or next to the robot's ``tcp_site``) and sizes the offscreen buffer."""
    cfg.validate()
    intr = cfg.intrinsics()
    if cfg.mount == "table":
        pose = table_camera_pose(cfg, table_frame)
        cam = spec.worldbody.add_camera(name=cfg.name, pos=pose[:3, 3].tolist(),
                                        quat=mujoco_quat(pose[:3, :3]))
    else:
        rot = Rotation.from_euler("xyz", cfg.wrist_rpy_deg, degrees=True).as_matrix()
        pos = np.asarray(cfg.wrist_pos, float)
        if cfg.wrist_body:
            body = spec.body(cfg.wrist_body)
            if body is None:
                names = [b.name for b in spec.bodies][:40]
                raise ValueError(f"camera.wrist_body '{cfg.wrist_body}' is not a body of the "
                                 f"scene; bodies: {names}")
        else:
            site = spec.site(tcp_site) if tcp_site else None
            if site is None:
                raise ValueError("camera.mount is 'wrist' but no wrist_body is set and no "
                                 "robot is loaded (set robot or camera.wrist_body)")
            body = site.parent
            w, x, y, z = site.quat
            r_site = Rotation.from_quat([x, y, z, w]).as_matrix()
            pos = np.asarray(site.pos, float) + r_site @ pos
            rot = r_site @ rot
        cam = body.add_camera(name=cfg.name, pos=pos.tolist(), quat=mujoco_quat(rot))
    _set_lens(cam, intr)
    spec.visual.global_.offwidth = max(spec.visual.global_.offwidth, intr.width)
    spec.visual.global_.offheight = max(spec.visual.global_.offheight, intr.height)
