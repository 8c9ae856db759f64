"""Simulated robots (UR5, Franka Panda, Unitree G1), built from our own kinematic descriptions.

    robot = attach_robot(world_spec, "ur5", pos=(0, 0, 0.75), quat=(1, 0, 0, 0))
    model = world_spec.compile()   # then RobotController(model, data, robot)
"""

from __future__ import annotations

import mujoco

from spatial_ros.sim.robots import franka, g1, ur5
from spatial_ros.sim.robots.description import ArmGroup, Mount, RobotDescription
from spatial_ros.sim.robots.mjcf import ContactParams, build_robot

ROBOT_NAMES = ("ur5", "franka", "g1")
_MODULES = {"ur5": ur5, "franka": franka, "g1": g1}

__all__ = [
    "ROBOT_NAMES",
    "ArmGroup",
    "ContactParams",
    "Mount",
    "RobotDescription",
    "attach_robot",
    "build_robot_model",
    "get_robot",
]


def get_robot(name: str, prefix: str = "") -> RobotDescription:
    """The description of robot ``name`` (one of ROBOT_NAMES); names get ``prefix``."""
    if name not in _MODULES:
        raise ValueError(f"unknown robot {name!r}; expected one of {ROBOT_NAMES}")
    return _MODULES[name].description(prefix)


def configure_physics(spec: mujoco.MjSpec) -> None:
    """Solver options friction grasps need: elliptic cones and a high impratio stop slip."""
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = max(float(spec.option.impratio), 10.0)


def attach_robot(
    world_spec: mujoco.MjSpec,
    name: str,
    pos=(0.0, 0.0, 0.0),
    quat=(1.0, 0.0, 0.0, 0.0),
    prefix: str = "",
    contact: ContactParams | None = None,
) -> RobotDescription:
    """Adds robot ``name`` with its base at ``pos``/``quat`` (w,x,y,z) to ``world_spec``.

    Also sets elliptic friction cones and impratio ≥ 10 on the spec (needed for friction
    grasps). Robot geoms use contype=2/conaffinity=1: they collide with ordinary world geoms
    (contype=conaffinity=1) but not with each other.
    """
    robot = get_robot(name, prefix)
    if world_spec.body(robot.base_body) is not None:
        raise ValueError(f"world already has a body {robot.base_body!r}; use another prefix")
    build_robot(world_spec, robot, pos, quat, contact=contact)
    configure_physics(world_spec)
    return robot


def build_robot_model(
    name: str,
    pos=(0.0, 0.0, 0.0),
    quat=(1.0, 0.0, 0.0, 0.0),
    lock: dict[str, float] | None = None,
    actuators: bool = True,
) -> tuple[mujoco.MjModel, RobotDescription]:
    """A model holding only the robot (for IK and kinematics checks)."""
    spec = mujoco.MjSpec()
    spec.modelname = name
    robot = get_robot(name)
    build_robot(spec, robot, pos, quat, lock=lock, actuators=actuators)
    configure_physics(spec)
    return spec.compile(), robot
