"""Instruction + RGB-D frame -> referred point, metric 3D point and grasp pose.

The stages (validate, refer, depth, back-project, transform) are timed separately so a
slow request says where the time went. The referrer is anything with
``predict(rgb, depth_m, intrinsics, instruction) -> Prediction`` (the SpatialMamba model
or the geometric baseline), so the pipeline neither knows nor cares which one it runs.
Every call returns a ``PerceptionResult``; bad input becomes its ``error``, never an
exception, because a node must answer every request and keep serving.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np
from scipy.spatial.transform import Rotation

from spatial_ros.data.prediction import Prediction
from spatial_ros.geometry.backproject import backproject_pixels
from spatial_ros.geometry.intrinsics import Intrinsics
from spatial_ros.perception.extrinsics import CameraToBase
from spatial_ros.perception.footprint import FootprintConfig, object_footprint
from spatial_ros.perception.refine import DepthConfig, pick_depth
from spatial_ros.perception.result import Grasp, PerceptionResult


class Referrer(Protocol):
    def predict(self, rgb: np.ndarray, depth_m: np.ndarray, intrinsics: Intrinsics,
                instruction: str) -> Prediction: ...


class PerceptionError(ValueError):
    """Input the pipeline cannot answer; the message becomes the result's ``error``."""


@dataclass
class PipelineConfig:
    depth: DepthConfig = field(default_factory=DepthConfig)
    footprint: FootprintConfig = field(default_factory=FootprintConfig)
    min_confidence: float = 0.0  # below this the result carries an error (and the point)
    # the model's instruction gate below this: "not a request about the scene", an error
    # before any grasp is computed (0 turns it off; referrers without a gate pass)
    min_instruction_score: float = 0.5
    max_instruction_chars: int = 512
    default_gripper_width_m: float = 0.08  # when the referrer predicts no width


def check_instruction(text: str, max_chars: int) -> str:
    text = text.strip() if isinstance(text, str) else text
    if not isinstance(text, str):
        raise PerceptionError(f"instruction must be text, got {type(text).__name__}")
    if not text:
        raise PerceptionError("empty instruction")
    if len(text) > max_chars:
        raise PerceptionError(f"instruction too long: {len(text)} characters (max {max_chars})")
    return text


def check_frame(rgb: np.ndarray, depth_m: np.ndarray, intr: Intrinsics) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise PerceptionError(f"colour image must be (H, W, 3) uint8, got {rgb.dtype} "
                              f"{rgb.shape}")
    h, w = rgb.shape[:2]
    if depth_m.ndim != 2:
        raise PerceptionError(f"depth image must be (H, W), got shape {depth_m.shape}")
    if depth_m.shape != (h, w):
        raise PerceptionError(
            f"depth image is {depth_m.shape[1]}x{depth_m.shape[0]} but the colour image is "
            f"{w}x{h}: subscribe to depth aligned to colour")
    if (intr.width, intr.height) != (w, h):
        raise PerceptionError(f"camera_info is for {intr.width}x{intr.height} but the colour "
                              f"image is {w}x{h} (frames from a different camera or mode?)")
    if not np.any(depth_m > 0):
        raise PerceptionError("depth image has no valid pixels (all zero): is the depth "
                              "stream running and the scene within range?")


def _referrer_timings(timings: dict | None) -> dict[str, float]:
    """The referrer's own stage times as ``refer.<stage>`` in ms (keys ending ``_s`` are
    seconds, ``_ms`` or no suffix milliseconds)."""
    out = {}
    for key, value in (timings or {}).items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        if key.endswith("_s"):
            out[f"refer.{key[:-2]}"] = float(value) * 1e3
        else:
            out[f"refer.{key.removesuffix('_ms')}"] = float(value)
    return out


class PerceptionPipeline:
    def __init__(self, referrer: Referrer | None, config: PipelineConfig | None = None,
                 extrinsics: CameraToBase | None = None, referrer_name: str = "",
                 load_error: str | None = None) -> None:
        self.referrer = referrer
        self.config = config or PipelineConfig()
        self.extrinsics = extrinsics
        self.referrer_name = referrer_name or (type(referrer).__name__ if referrer else "")
        self.load_error = load_error  # why there is no referrer (model file missing, ...)

    def run(self, rgb: np.ndarray, depth_m: np.ndarray, intrinsics: Intrinsics,
            instruction: str, request_id: str = "", stamp_ns: int = 0,
            camera_frame: str = "", extrinsics: CameraToBase | None = None) -> PerceptionResult:
        """One request on one frame; ``extrinsics`` overrides the configured camera->base
        (e.g. a tf lookup at the frame's stamp)."""
        ext = extrinsics or self.extrinsics
        res = PerceptionResult(request_id=request_id, instruction=str(instruction)[:512],
                               referrer=self.referrer_name, stamp_ns=int(stamp_ns),
                               camera_frame=camera_frame,
                               base_frame=ext.base_frame if ext else "")
        t_start = time.perf_counter()
        try:
            self._run(res, rgb, depth_m, intrinsics, instruction, ext)
        except PerceptionError as exc:
            res.error = str(exc)
        except Exception as exc:  # a referrer bug must not take the node down
            res.error = f"{type(exc).__name__} in perception: {exc}"
        res.timings_ms["total"] = (time.perf_counter() - t_start) * 1e3
        return res

    def _run(self, res: PerceptionResult, rgb, depth_m, intr: Intrinsics, instruction,
             ext: CameraToBase | None) -> None:
        cfg = self.config
        t0 = time.perf_counter()
        text = check_instruction(instruction, cfg.max_instruction_chars)
        res.instruction = text
        rgb, depth_m = np.asarray(rgb), np.asarray(depth_m, dtype=np.float32)
        check_frame(rgb, depth_m, intr)
        if self.referrer is None:
            raise PerceptionError(f"no referrer loaded: {self.load_error or 'unknown reason'}")
        res.image_size = [intr.width, intr.height]
        t1 = time.perf_counter()
        res.timings_ms["validate"] = (t1 - t0) * 1e3

        set_pose = getattr(self.referrer, "set_camera_pose", None)
        if callable(set_pose):  # e.g. "the robot's left" needs to know where the robot is
            set_pose(ext.transform.as_matrix() if ext is not None else None)
        pred = self.referrer.predict(rgb, depth_m, intr, text)
        t2 = time.perf_counter()
        res.timings_ms["refer"] = (t2 - t1) * 1e3
        res.timings_ms.update(_referrer_timings(pred.timings))
        u, v = (float(pred.point_px[0]), float(pred.point_px[1]))
        if not (np.isfinite(u) and np.isfinite(v)):
            raise PerceptionError(f"referrer returned a non-finite point ({u}, {v})")
        res.point_norm = [float(pred.point_norm[0]), float(pred.point_norm[1])]
        res.point_px_model = [u, v]
        res.confidence = float(pred.confidence)
        check = getattr(self.referrer, "last_check", None)
        res.check = dict(check) if check else None
        res.instruction_score = pred.instruction_score
        if pred.instruction_score is not None \
                and pred.instruction_score < cfg.min_instruction_score:
            raise PerceptionError(
                f"the instruction does not read as a request about the scene (instruction "
                f"score {pred.instruction_score:.2f} < {cfg.min_instruction_score:.2f}): name "
                "an object or a place, e.g. 'pick up the red cup'")
        u = min(max(u, 0.0), intr.width - 1e-3)  # point_px may sit on the far border
        v = min(max(v, 0.0), intr.height - 1e-3)

        pick = pick_depth(depth_m, u, v, cfg.depth)
        t3 = time.perf_counter()
        res.timings_ms["depth"] = (t3 - t2) * 1e3
        res.refined = pick.refined
        res.point_px = [pick.u, pick.v]
        res.refine_shift_px = float(np.hypot(pick.u - u, pick.v - v))
        if not pick.valid:
            raise PerceptionError(f"no valid depth within {cfg.depth.search_radius} px of the "
                                  f"target pixel ({u:.0f}, {v:.0f})")
        res.depth_m = pick.depth_m
        # Back-project the pixel centre the depth belongs to.
        p_cam = backproject_pixels(pick.u, pick.v, pick.depth_m, intr)[0]
        res.point_camera = p_cam.tolist()
        width = pred.gripper_width if pred.gripper_width is not None \
            else cfg.default_gripper_width_m
        # The grasp centre: the referrer's own estimate when it makes one (the model adds a
        # learned offset from the visible surface into the object), else the surface point.
        g_cam = p_cam
        if pred.position is not None and np.all(np.isfinite(pred.position)):
            g_cam = np.asarray(pred.position, dtype=np.float64).reshape(3)
        rot_cam = None
        if pred.rotation is not None:
            rot_cam = Rotation.from_matrix(np.asarray(pred.rotation, dtype=np.float64))
            res.grasp_camera = Grasp(g_cam.tolist(), rot_cam.as_quat().tolist(), float(width),
                                     res.camera_frame)
            res.grasp_approach = pred.grasp_approach
        t4 = time.perf_counter()
        res.timings_ms["backproject"] = (t4 - t3) * 1e3

        if ext is not None:
            res.point_base = ext.point(p_cam).tolist()
            res.camera_quaternion_base = Rotation.from_matrix(
                ext.transform.rotation).as_quat().tolist()
            if rot_cam is not None:
                rot_base = Rotation.from_matrix(ext.orientation(rot_cam.as_matrix()))
                res.grasp_base = Grasp(ext.point(g_cam).tolist(), rot_base.as_quat().tolist(),
                                       float(width), ext.base_frame)
        t5 = time.perf_counter()
        res.timings_ms["transform"] = (t5 - t4) * 1e3
        if ext is not None and cfg.footprint.enabled:  # where a drop "into" the object goes
            fp = object_footprint(depth_m, intr, ext, pick.u, pick.v, cfg.footprint)
            res.footprint_base = asdict(fp) if fp is not None else None
            res.timings_ms["footprint"] = (time.perf_counter() - t5) * 1e3
        if res.confidence < cfg.min_confidence:
            raise PerceptionError(f"confidence {res.confidence:.2f} is below the threshold "
                                  f"{cfg.min_confidence:.2f}")
