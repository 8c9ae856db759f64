"""Every perception-node parameter in one flat dataclass.

Flat because ROS parameters are flat; the node declares one ROS parameter per field (so
``--ros-args -p refine:=false`` and ``config/perception.yaml`` both work) and the same
YAML loads here through ``common.config`` for tests and scripts without ROS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatial_ros.common.config import from_dict, load_yaml
from spatial_ros.perception.extrinsics import ExtrinsicsConfig
from spatial_ros.perception.footprint import FootprintConfig
from spatial_ros.perception.pipeline import PipelineConfig
from spatial_ros.perception.refine import DepthConfig

NODE_NAME = "perception_node"


@dataclass
class PerceptionParams:
    # inputs (realsense-ros names)
    camera_namespace: str = "/camera/camera"
    color_topic: str = "color/image_raw"
    depth_topic: str = "aligned_depth_to_color/image_raw"
    info_topic: str = "color/camera_info"
    image_qos: str = "sensor_data"  # sensor_data | reliable
    depth_scale: float = 0.001  # 16UC1 units -> metres
    instruction_topic: str = "/spatial/instruction"
    # outputs: <output_namespace>/{result,target_point,grasp_pose,debug_image,markers}
    output_namespace: str = "/spatial"
    publish_debug_image: bool = True
    # referrer
    referrer: str = "model"  # model | geometric
    model_path: str = ""  # "" = the checkpoint shipped in spatial_ros/checkpoints
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # CPU inference threads; 0 = torch's default (all cores). 1 keeps OpenMP threads from
    # spin-waiting on a core the image callbacks hold (2 cores: quick-run p95 67 vs 270 ms)
    torch_threads: int = 1
    warm_up: bool = True  # one blank inference at start-up (model referrer)
    # torch.compile the model for one question at a time (2 cores: model 43 -> 21 ms on one
    # thread); the first start compiles for about a minute, later ones load torch's cache
    compile_model: bool = True
    # check the model's answer against the phrase's colour and kind (depth + colour, no
    # weights; perception/attribute_check.py): a contradicted answer yields to the model's
    # next-best object that fits; a place answer ("a free spot left of X") that is not where
    # the words put it yields to the model's best candidate that is (perception/
    # place_region.py), and one closer than 5 cm to an object moves clear of it
    # (perception/free_space.py). Model referrer only; ~90 ms per question on 2 cores
    attribute_check: bool = True
    # run the pipeline in a child process: the image callbacks then cannot take the GIL from
    # inference (2 cores, 30 Hz RGB-D: model p95 176-279 ms in-process; pipeline_process.py)
    inference_process: bool = True
    min_confidence: float = 0.0
    # the model's instruction gate: text scoring below this ("qwv zzk", "tell me a joke") is
    # answered with an error, not a grasp; 0 = off
    min_instruction_score: float = 0.5
    max_instruction_chars: int = 512
    # synchronisation and serving
    sync_slop_s: float = 0.02
    sync_queue_size: int = 10
    max_frame_age_s: float = 2.0  # newest frame older than this (node clock) is stale; 0 = off
    request_queue_size: int = 4
    # depth (SpatialBot depth API) and refinement
    refine: bool = True
    depth_window: int = 5
    depth_stat: str = "median"
    depth_search_radius: int = 10
    refine_radius_px: int = 8
    refine_gap_m: float = 0.015
    refine_min_support: float = 0.2
    min_depth_m: float = 0.05
    max_depth_m: float = 6.0
    # object footprint under the point (base frame; where "put it into X" drops)
    footprint: bool = True
    footprint_window_px: int = 110
    footprint_min_height_m: float = 0.012
    footprint_max_step_m: float = 0.015  # a depth jump this large parts two objects; 0: never
    # frames
    base_frame: str = "base_link"
    camera_frame: str = ""  # "" = the colour image's header.frame_id
    use_tf: bool = True  # look up base<-camera with tf2 when tf2_ros is importable
    # PoseStamped of the camera frame in the base frame (a calibration node, the sim's
    # /sim/camera_pose); "" = off. Used when tf gives nothing, before the parameters below.
    extrinsics_topic: str = ""
    extrinsics_translation: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    extrinsics_quaternion_xyzw: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 1.0])

    def __post_init__(self) -> None:
        if self.referrer not in ("model", "geometric"):
            raise ValueError(f"referrer must be 'model' or 'geometric', got '{self.referrer}'")
        if self.image_qos not in ("sensor_data", "reliable"):
            raise ValueError(f"image_qos must be sensor_data or reliable, got '{self.image_qos}'")
        if self.request_queue_size < 1 or self.sync_queue_size < 1:
            raise ValueError("request_queue_size and sync_queue_size must be >= 1")
        if self.torch_threads < 0:
            raise ValueError(f"torch_threads must be >= 0, got {self.torch_threads}")
        if self.max_instruction_chars < 1:
            raise ValueError("max_instruction_chars must be >= 1")

    def topic(self, name: str) -> str:
        """Camera topic ``name`` under ``camera_namespace`` (absolute names pass through)."""
        if name.startswith("/"):
            return name
        return f"{self.camera_namespace.rstrip('/')}/{name}"

    def output(self, name: str) -> str:
        return f"{self.output_namespace.rstrip('/')}/{name}"

    def pipeline_config(self) -> PipelineConfig:
        depth = DepthConfig(refine=self.refine, window=self.depth_window, stat=self.depth_stat,
                            search_radius=self.depth_search_radius,
                            cluster_radius_px=self.refine_radius_px,
                            cluster_gap_m=self.refine_gap_m,
                            cluster_min_support=self.refine_min_support,
                            min_depth_m=self.min_depth_m, max_depth_m=self.max_depth_m)
        footprint = FootprintConfig(enabled=self.footprint, window_px=self.footprint_window_px,
                                    min_height_m=self.footprint_min_height_m,
                                    max_step_m=self.footprint_max_step_m)
        return PipelineConfig(depth=depth, footprint=footprint,
                              min_confidence=self.min_confidence,
                              min_instruction_score=self.min_instruction_score,
                              max_instruction_chars=self.max_instruction_chars)

    def extrinsics_config(self, camera_frame: str) -> ExtrinsicsConfig:
        return ExtrinsicsConfig(self.base_frame, camera_frame or self.camera_frame,
                                list(self.extrinsics_translation),
                                list(self.extrinsics_quaternion_xyzw))


def params_from_ros_yaml(path: str | Path, node_name: str = NODE_NAME) -> PerceptionParams:
    """Reads ``<node_name>: ros__parameters: {...}`` or ``/**: ros__parameters: {...}``
    (the ROS params-file layout)."""
    data: dict[str, Any] = load_yaml(path)
    section = data.get(node_name, data.get("/**", {}))
    if not isinstance(section, dict) or "ros__parameters" not in section:
        raise ValueError(f"{path}: no '{node_name}:' or '/**:' section with ros__parameters")
    return from_dict(PerceptionParams, section["ros__parameters"], where=f"{Path(path).name}")
