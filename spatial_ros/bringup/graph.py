"""Which nodes make up a bring-up, with which executables, parameter files and overrides.

One description, two consumers: `launch/*.launch.py` turns each ``NodeSpec`` into a
``launch_ros.actions.Node``; `spatial-ros up` starts each as its own process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from spatial_ros.bringup.paths import PACKAGE, config_path, urdf_path

ROBOTS = ("ur5", "franka", "g1")
BACKENDS = ("sim", "moveit", "trajectory", "unitree")
CAMERAS = ("spatial_ros", "realsense2", "none")

# console entry point -> python module, for starting our nodes without ros2 run
MODULES = {
    "camera_node": "spatial_ros.nodes.camera_node",
    "sim_node": "spatial_ros.nodes.sim_node",
    "perception_node": "spatial_ros.nodes.perception_node",
    "executor_node": "spatial_ros.nodes.executor_node",
}


@dataclass
class NodeSpec:
    package: str
    executable: str
    name: str
    namespace: str = ""
    param_files: list[Path] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    remappings: list[tuple[str, str]] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)

    @property
    def module(self) -> str | None:
        return MODULES.get(self.executable) if self.package == PACKAGE else None

    def ros_args(self, overrides_dir: Path) -> list[str]:
        """`--ros-args` for this node, as ros2 launch would pass them.

        Overrides go through a generated parameter file (not ``-p``) so values such as a
        multi-line URDF survive intact; it comes last, so it wins over the YAML files.
        """
        args = ["--ros-args", "-r", f"__node:={self.name}"]
        if self.namespace:
            args += ["-r", f"__ns:={self.namespace}"]
        for path in self.param_files:
            args += ["--params-file", str(path)]
        if self.parameters:
            overrides = Path(overrides_dir) / f"{self.name}.overrides.yaml"
            overrides.write_text(yaml.safe_dump({"/**": {"ros__parameters": self.parameters}}))
            args += ["--params-file", str(overrides)]
        for src, dst in self.remappings:
            args += ["-r", f"{src}:={dst}"]
        return args


@dataclass
class BringupOptions:
    robot: Literal["ur5", "franka", "g1"] = "ur5"
    sim: bool = False
    backend: str = ""  # "" = sim when simulated, else moveit (arms) / unitree (g1)
    camera: Literal["spatial_ros", "realsense2", "none"] = "spatial_ros"
    model: str = ""  # "" = the checkpoint shipped in the package
    referrer: Literal["model", "geometric"] = "model"
    device: str = "auto"
    use_sim_time: bool = False
    rviz: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.robot not in ROBOTS:
            raise ValueError(f"robot '{self.robot}' unknown; choose one of {ROBOTS}")
        if self.camera not in CAMERAS:
            raise ValueError(f"camera '{self.camera}' unknown; choose one of {CAMERAS}")
        if self.referrer not in ("model", "geometric"):
            raise ValueError(f"referrer '{self.referrer}' unknown; choose model or geometric")
        if self.backend and self.backend not in BACKENDS:
            raise ValueError(f"backend '{self.backend}' unknown; choose one of {BACKENDS}")
        if not self.backend:
            self.backend = "sim" if self.sim else ("unitree" if self.robot == "g1" else "moveit")


def bringup_graph(opts: BringupOptions) -> list[NodeSpec]:
    """Camera (or sim), perception, executor and robot_state_publisher for one robot."""
    time = {"use_sim_time": opts.use_sim_time}
    nodes: list[NodeSpec] = []
    if opts.sim:
        nodes.append(NodeSpec(PACKAGE, "sim_node", "sim", param_files=[config_path("sim.yaml")],
                              parameters={"robot": opts.robot, "seed": opts.seed, **time}))
    elif opts.camera == "spatial_ros":
        nodes.append(NodeSpec(PACKAGE, "camera_node", "camera", namespace="camera",
                              param_files=[config_path("camera.yaml")], parameters=time))
    elif opts.camera == "realsense2":
        nodes.append(NodeSpec("realsense2_camera", "realsense2_camera_node", "camera",
                              namespace="camera",
                              parameters={"align_depth.enable": True, **time}))
    perception = {"device": opts.device, "referrer": opts.referrer, **time}
    if opts.model:
        perception["model_path"] = opts.model
    if opts.sim:  # the sim publishes its camera pose; on a robot it comes from calibration/tf
        perception["extrinsics_topic"] = "/sim/camera_pose"
    nodes.append(NodeSpec(PACKAGE, "perception_node", "perception",
                          param_files=[config_path("perception.yaml")], parameters=perception))
    # The executor reads config/executor_<robot>.yaml itself (nested, validated dataclasses).
    nodes.append(NodeSpec(PACKAGE, "executor_node", "executor",
                          parameters={"robot": opts.robot, "backend": opts.backend, **time}))
    nodes.append(robot_state_publisher(opts.robot, opts.use_sim_time))
    if opts.rviz:
        nodes.append(NodeSpec("rviz2", "rviz2", "rviz2",
                              arguments=["-d", str(config_path("spatial_ros.rviz"))],
                              parameters=time))
    return nodes


def replay_graph(opts: BringupOptions) -> list[NodeSpec]:
    """Perception on a recorded bag: the bag player provides the camera topics and clock."""
    opts.use_sim_time = True
    perception = {"device": opts.device, "referrer": opts.referrer, "use_sim_time": True}
    if opts.model:
        perception["model_path"] = opts.model
    return [NodeSpec(PACKAGE, "perception_node", "perception",
                     param_files=[config_path("perception.yaml")], parameters=perception)]


def robot_state_publisher(robot: str, use_sim_time: bool) -> NodeSpec:
    return NodeSpec("robot_state_publisher", "robot_state_publisher", "robot_state_publisher",
                    parameters={"robot_description": urdf_path(robot).read_text(),
                                "use_sim_time": use_sim_time})
