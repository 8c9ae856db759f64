"""Wires config -> kinematics -> envelope -> planner -> backend -> skills for one robot.

Backends that talk to ROS get their transport injected by the node; the in-process backend
gets a ``spatial_ros.sim`` world. Either way the same envelope object is shared by the
planner (checks plans) and the backend (checks again before sending).
"""

from __future__ import annotations

from dataclasses import dataclass

from spatial_ros.execution.backends.base import Backend
from spatial_ros.execution.config import ExecutorConfig
from spatial_ros.execution.kinematics import ArmKinematics
from spatial_ros.execution.planner import MotionPlanner
from spatial_ros.execution.safety import SafetyEnvelope
from spatial_ros.execution.skills import SkillExecutor


@dataclass
class ArmStack:
    cfg: ExecutorConfig
    kin: ArmKinematics
    envelope: SafetyEnvelope
    planner: MotionPlanner
    backend: Backend | None = None
    skills: SkillExecutor | None = None

    def attach(self, backend: Backend) -> ArmStack:
        self.backend = backend
        self.skills = SkillExecutor(self.cfg, self.planner, backend)
        return self


def group_names(cfg: ExecutorConfig, robot) -> list[str]:
    """Planning groups the executor drives: G1 ``arm: left | right | both``."""
    if cfg.robot == "g1":
        if cfg.arm == "both":
            return ["left_arm", "right_arm"]
        if cfg.arm not in ("left", "right"):
            raise ValueError(f"arm must be left, right or both, got '{cfg.arm}'")
        return [f"{cfg.arm}_arm"]
    return [robot.default_group]


def build_arm_stack(cfg: ExecutorConfig, group: str | None = None) -> ArmStack:
    """Everything but the backend (which needs a world or a transport)."""
    from spatial_ros.sim.robots import get_robot

    robot = get_robot(cfg.robot)
    group = group or group_names(cfg, robot)[0]
    mine = set(robot.groups[group].joints)  # the envelope names unknown joints itself
    kin = ArmKinematics(robot, group, joint_limits={
        k: v for k, v in cfg.envelope.joint_limits.items() if k in mine})
    envelope = SafetyEnvelope(cfg.envelope, kin.joint_names, kin.lower, kin.upper,
                              kin.fk_position)
    return ArmStack(cfg, kin, envelope, MotionPlanner(kin, envelope, cfg.motion))


def inprocess_stack(cfg: ExecutorConfig, world, group: str | None = None,
                    **backend_kwargs) -> ArmStack:
    """An ``ArmStack`` driving ``world`` (a ``spatial_ros.sim.world.World``) directly."""
    from spatial_ros.execution.backends.inprocess import InProcessSimBackend

    stack = build_arm_stack(cfg, group)
    backend = InProcessSimBackend(stack.envelope, cfg.gripper, world,
                                  group=stack.kin.group.name, **backend_kwargs)
    return stack.attach(backend)


def inprocess_stacks(cfg: ExecutorConfig, world, **backend_kwargs) -> list[ArmStack]:
    """One in-process stack per driven arm (two for G1 with ``arm: both``)."""
    return [inprocess_stack(cfg, world, g, **backend_kwargs)
            for g in group_names(cfg, world.robot)]
