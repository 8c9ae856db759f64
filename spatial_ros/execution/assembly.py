"""Wires config -> kinematics -> envelope -> planner -> backend -> skills for one robot.

Backends that talk to ROS get their transport injected by the node; the in-process backend
gets a ``spatial_ros.sim`` world. Either way the same envelope object is shared by the
planner (checks plans) and the backend (checks again before sending).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

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
    stacks = [inprocess_stack(cfg, world, g, **backend_kwargs)
              for g in group_names(cfg, world.robot)]
    link_shared_joints(stacks)
    return stacks


def link_shared_joints(stacks: list[ArmStack]) -> None:
    """Each arm's envelope also checks the other hands its joints carry: G1's waist belongs
    to both arm groups, and turning it for one hand swings the idle one (once out of the
    workspace, behind the pelvis)."""
    for a in stacks:
        for b in stacks:
            if b is not a:
                add_rider(a, b.kin, b.backend.joint_positions)


def link_undriven_arms(stack: ArmStack, joint_positions: Callable[[tuple[str, ...]],
                                                                  np.ndarray | None]) -> None:
    """``link_shared_joints`` for a process that drives one arm of several (the executor
    node on a G1): the other arms' hands, at their measured joints (home before the first
    joint state), are checked as this arm's shared joints carry them."""
    robot = stack.kin.robot
    for name in robot.groups:
        if name == stack.kin.group.name:
            continue
        kin = ArmKinematics(robot, name)

        def measured(kin=kin) -> np.ndarray:
            q = joint_positions(kin.joint_names)
            return kin.home if q is None else np.asarray(q, dtype=float)

        add_rider(stack, kin, measured)


def add_rider(stack: ArmStack, other: ArmKinematics, other_q: Callable[[], np.ndarray]) -> None:
    """Makes ``stack``'s envelope check ``other``'s TCP wherever the joints they share go."""
    mine = stack.kin.joint_names
    shared = [(i, other.joint_names.index(n)) for i, n in enumerate(mine)
              if n in other.joint_names]
    if not shared:
        return
    ours, theirs = (np.array(ix) for ix in zip(*shared, strict=True))

    def tcp(q: np.ndarray) -> np.ndarray:
        qo = np.array(other_q(), dtype=float)
        qo[theirs] = np.asarray(q, dtype=float)[ours]
        return other.fk_position(qo)

    stack.envelope.add_rider(f"{other.group.name} hand", tcp)
