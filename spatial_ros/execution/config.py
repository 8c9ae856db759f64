"""Per-robot executor configuration: gripper widths, approach distances, safety envelope.

One YAML file per robot, ``config/executor_<robot>.yaml``, shaped as a ROS parameter file
(``executor_node: ros__parameters: {...}``) so the same file configures the node and the
plain-Python executor. Values are validated by ``spatial_ros.common.config.from_dict``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from spatial_ros.common.config import ConfigError, from_dict, load_yaml

FootprintGraspMode = Literal["off", "retry", "first"]  # see RunnerConfig.footprint_grasp

NODE_SECTION = "executor_node"
ROBOTS = ("ur5", "franka", "g1")
BACKENDS = ("sim", "inprocess", "moveit", "trajectory", "unitree")


@dataclass
class GripperConfig:
    """Widths in metres between the fingers (jaw opening)."""

    open_width: float = 0.08
    closed_width: float = 0.0
    #: after closing, an opening below this means the fingers met: nothing was grasped.
    min_holding_width: float = 0.004
    settle_time: float = 0.5
    max_effort: float = 40.0


@dataclass
class MotionConfig:
    """Distances (metres) of MoveIt Task Constructor-style pick and place stages."""

    approach_distance: float = 0.10
    #: > 0: the free move goes this far above the pre-grasp first and comes down to it on a
    #: line (a G1's free moves from home dip into the containers beside what it picks)
    pregrasp_hover: float = 0.0
    lift_distance: float = 0.12
    place_hover: float = 0.12
    place_release_height: float = 0.01
    retreat_distance: float = 0.10
    #: fraction of each joint's velocity limit used by planned motions (0, 1].
    speed_scale: float = 0.5
    cartesian_step: float = 0.01
    #: how far the TCP may end from a Cartesian goal before the move counts as failed.
    position_tolerance: float = 0.01
    #: approach tilts (rad from vertical, leaning away from the base) tried in order when a
    #: top-down grasp or release is out of reach.
    grasp_tilts: list[float] = field(default_factory=lambda: [0.0, 0.3, 0.6])
    goal_joint_tolerance: float = 0.02


@dataclass
class EnvelopeConfig:
    """What the robot may ever be commanded to do, in the robot base frame."""

    workspace_min: tuple[float, float, float] = (-1.0, -1.0, -0.2)
    workspace_max: tuple[float, float, float] = (1.0, 1.0, 1.2)
    table_height: float = 0.0
    table_clearance: float = 0.005
    #: per joint ``[lower, upper]`` radians; joints not listed use the model's range.
    joint_limits: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: per joint rad/s; ``default_max_velocity`` for joints not listed.
    max_joint_velocity: dict[str, float] = field(default_factory=dict)
    default_max_velocity: float = 1.5
    max_tcp_speed: float = 0.5
    #: a trajectory must start within this of the measured joint state (no jumps).
    start_tolerance: float = 0.05


@dataclass
class RunnerConfig:
    grasp_retries: int = 1
    max_objects_for_all: int = 6
    min_confidence: float = 0.0
    #: where "put it left of / next to X" goes with perception grounding: "anchor" asks
    #: perception for X and sets the spot beside X's depth footprint, as the camera sees it;
    #: "model" asks the model for the free spot directly (weaker: 24 % on place_relation).
    place_beside: Literal["anchor", "model"] = "anchor"
    #: with perception grounding, a grasp read off the object's depth footprint (its middle,
    #: closing across its narrow side): "first" tries it before the model's grasp (the
    #: model's is then the retry after an empty grasp), "retry" the other way round, "off"
    #: the model's grasp alone. "first" measured best (docs/executor.md, twelfth session)
    footprint_grasp: FootprintGraspMode = "first"
    #: where the arms stand when perception is asked what to pick next: "home" sends an arm
    #: that is elsewhere home first (the model learnt scenes with arms near home, and an arm
    #: left over the table hides objects), "here" asks at once (a motion less per pick).
    #: "home" measured +2 / +4 tasks of 450 with the model, +5 geometric (docs/executor.md)
    observe_from: Literal["home", "here"] = "home"


@dataclass
class ExecutorConfig:
    robot: str = "ur5"
    backend: str = "sim"
    #: G1 only: which arm does the manipulation.
    arm: str = "right"
    base_frame: str = "base_link"
    gripper: GripperConfig = field(default_factory=GripperConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    envelope: EnvelopeConfig = field(default_factory=EnvelopeConfig)
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    #: backend specific settings (topics, planning group, network interface, ...).
    backend_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.robot not in ROBOTS:
            raise ConfigError(f"robot: '{self.robot}' is not one of {list(ROBOTS)}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend: '{self.backend}' is not one of {list(BACKENDS)}")
        if not 0.0 < self.motion.speed_scale <= 1.0:
            raise ConfigError("motion.speed_scale must be in (0, 1], got "
                              f"{self.motion.speed_scale}")
        lo, hi = self.envelope.workspace_min, self.envelope.workspace_max
        if any(a >= b for a, b in zip(lo, hi, strict=True)):
            raise ConfigError(f"envelope: workspace_min {lo} must be below workspace_max {hi}")
        if self.gripper.closed_width > self.gripper.open_width:
            raise ConfigError("gripper: closed_width must not exceed open_width")


def config_dir() -> Path:
    """The repo's ``config/`` (source checkout) or the installed share directory."""
    here = Path(__file__).resolve().parents[2] / "config"
    if here.is_dir():
        return here
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("spatial_ros")) / "config"
    except Exception as exc:
        raise ConfigError(f"cannot find the spatial_ros config directory: {exc}") from exc


def default_config_path(robot: str) -> Path:
    return config_dir() / f"executor_{robot}.yaml"


def executor_config_from_params(params: dict[str, Any], where: str = "executor") -> ExecutorConfig:
    """Builds the config from a (possibly nested or dotted) ROS parameter mapping."""
    return from_dict(ExecutorConfig, nest_dotted(params), where=where)


def nest_dotted(params: dict[str, Any]) -> dict[str, Any]:
    """``{"gripper.open_width": 0.08}`` -> ``{"gripper": {"open_width": 0.08}}``."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"parameter '{key}' clashes with a non-mapping value")
        if isinstance(value, dict):
            node.setdefault(parts[-1], {}).update(nest_dotted(value))
        else:
            node[parts[-1]] = value
    return out


def load_executor_config(robot: str | None = None, path: str | Path | None = None,
                         overrides: dict[str, Any] | None = None) -> ExecutorConfig:
    """Loads ``config/executor_<robot>.yaml`` (or ``path``) and applies dotted overrides."""
    if path is None:
        if robot is None:
            raise ConfigError("load_executor_config needs a robot name or a path")
        path = default_config_path(robot)
    data = load_yaml(path)
    try:
        params = data[NODE_SECTION]["ros__parameters"]
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: expected '{NODE_SECTION}: ros__parameters:' at top") from exc
    merged = nest_dotted(params)
    for key, value in nest_dotted(overrides or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    for key in NODE_ONLY_KEYS:  # ROS-only parameters in the same file: not executor config
        merged.pop(key, None)
    cfg = from_dict(ExecutorConfig, merged, where=Path(path).name)
    if robot is not None and cfg.robot != robot:
        raise ConfigError(f"{path}: robot is '{cfg.robot}', expected '{robot}'")
    return cfg


#: parameters in the YAML that configure the ROS node only, not the executor dataclass.
NODE_ONLY_KEYS = frozenset({"topics", "config_file", "use_sim_time"})
