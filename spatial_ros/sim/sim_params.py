"""Parameters of the sim node (ROS parameters, also the ``sim`` section of config/sim.yaml).

Plain dataclass so the CLI and tests can validate a params file without ROS; the node
declares one ROS parameter per field with these defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

ROBOTS = ("none", "ur5", "franka", "g1")
NODE_NAME = "sim"


@dataclass
class SimParams:
    robot: str = "none"  # none | ur5 | franka | g1
    seed: int = 0
    n_objects: int = 6
    camera_mount: str = "table"  # table | wrist
    camera_width: int = 640
    camera_height: int = 480
    camera_fps: float = 15.0  # in simulated time
    camera_pitch_deg: float = 50.0
    camera_distance: float = 1.15
    camera_yaw_deg: float = 0.0
    depth_noise: bool = True
    shadows: bool = True  # key light casts shadows (about half the render cost on CPU GL)
    randomize: bool = False  # domain randomization of lights/colours/camera at start & reset
    real_time_factor: float = 1.0  # 0 = as fast as possible
    physics_dt: float = 0.002
    joint_state_rate: float = 50.0  # Hz, simulated time
    ground_truth_rate: float = 5.0  # Hz, simulated time
    publish_clock: bool = True  # /clock from the simulation; stamps are simulated time
    camera_namespace: str = "/camera/camera"
    camera_frame: str = "camera_color_optical_frame"
    base_frame: str = "base_link"
    image_qos: str = "reliable"  # reliable matches both reliable and best-effort readers
    controller_name: str = "joint_trajectory_controller"
    gripper_topic: str = "/gripper/command"
    ground_truth_topic: str = "/sim/objects"

    def validate(self) -> None:
        if self.robot not in ROBOTS:
            raise ValueError(f"robot must be one of {ROBOTS}, got '{self.robot}'")
        if self.camera_mount not in ("table", "wrist"):
            raise ValueError(f"camera_mount must be table or wrist, got '{self.camera_mount}'")
        if self.camera_mount == "wrist" and self.robot == "none":
            raise ValueError("camera_mount 'wrist' needs a robot")
        for name in ("camera_fps", "joint_state_rate", "ground_truth_rate", "physics_dt"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.real_time_factor < 0:
            raise ValueError(f"real_time_factor must be >= 0 (0 = as fast as possible), got "
                             f"{self.real_time_factor}")
        if self.n_objects < 0:
            raise ValueError(f"n_objects must be >= 0, got {self.n_objects}")

    def world_config(self):
        from spatial_ros.sim.camera_mount import CameraConfig, DepthNoiseConfig
        from spatial_ros.sim.world import WorldConfig

        cam = CameraConfig(width=self.camera_width, height=self.camera_height,
                           mount=self.camera_mount, pitch_deg=self.camera_pitch_deg,
                           distance=self.camera_distance, yaw_deg=self.camera_yaw_deg,
                           noise=DepthNoiseConfig(enabled=self.depth_noise))
        return WorldConfig(n_objects=self.n_objects, timestep=self.physics_dt, camera=cam,
                           shadows=self.shadows)


def load_sim_params(path, node_name: str = NODE_NAME) -> SimParams:
    """SimParams from a ROS params file (``<node>: ros__parameters: {...}``), validated;
    ROS's own ``use_sim_time`` is allowed and ignored here."""
    from spatial_ros.common.config import ConfigError, from_dict, load_yaml

    data = load_yaml(path)
    try:
        params = dict(data[node_name]["ros__parameters"])
    except (KeyError, TypeError):
        raise ConfigError(f"{path}: missing '{node_name}: ros__parameters:' section") from None
    params.pop("use_sim_time", None)
    out = from_dict(SimParams, params, where=f"{path}:{node_name}")
    out.validate()
    return out
