"""Franka Emika Panda from Franka's published modified (Craig) DH table and joint limits."""

from __future__ import annotations

import numpy as np

from spatial_ros.sim.robots.description import ArmGroup, Mount, RobotDescription
from spatial_ros.sim.robots.gripper import GripperSpec, add_parallel_gripper
from spatial_ros.sim.robots.kinematics import (
    Geom,
    Joint,
    KinematicTree,
    Link,
    dh_modified,
    rpy,
    segment_capsules,
)

JOINTS = tuple(f"panda_joint{i}" for i in range(1, 8))
# (a_{i-1}, alpha_{i-1}, d_i) for joints 1..7 and the flange (panda_link8)
DH = ((0.0, 0.0, 0.333), (0.0, -np.pi / 2, 0.0), (0.0, np.pi / 2, 0.316),
      (0.0825, np.pi / 2, 0.0), (-0.0825, -np.pi / 2, 0.384), (0.0, np.pi / 2, 0.0),
      (0.088, np.pi / 2, 0.0))
FLANGE = (0.0, 0.0, 0.107)
LOWER = (-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973)
UPPER = (2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973)
VELOCITY = (2.1750, 2.1750, 2.1750, 2.1750, 2.6100, 2.6100, 2.6100)
EFFORT = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
HOME = (0.0, -np.pi / 4, 0.0, -3 * np.pi / 4, 0.0, np.pi / 2, np.pi / 4)

GRIPPER = GripperSpec(
    finger_joints=("panda_finger_joint1", "panda_finger_joint2"),
    finger_links=("panda_leftfinger", "panda_rightfinger"),
    max_width=0.08, palm_length=0.0584, finger_length=0.057, pad_length=0.024,
    pad_width=0.02, force=70.0, velocity=0.2,
)


def kinematic_tree() -> KinematicTree:
    tree = KinematicTree()
    white = (0.92, 0.92, 0.94, 1.0)
    tree.add(Link("panda_link0", None, mass=3.0, geoms=(
        Geom("cylinder", (0.07,), fromto=(-0.04, 0, 0, -0.04, 0, 0.1), rgba=white),)))
    parent = "panda_link0"
    masses = (3.9, 3.9, 3.2, 3.6, 3.5, 1.5, 0.5)
    for i, (joint, (a, alpha, d)) in enumerate(zip(JOINTS, DH, strict=True)):
        xyz, quat = dh_modified(a, alpha, d)
        name = f"panda_link{i + 1}"
        tree.add(Link(name, parent, xyz, quat, Joint(
            joint, axis=(0.0, 0.0, 1.0), lower=LOWER[i], upper=UPPER[i], velocity=VELOCITY[i],
            effort=EFFORT[i], damping=1.0 if i < 4 else 0.3,
            armature=0.1 if i < 4 else 0.02), mass=masses[i]))
        parent = name
    tree.add(Link("panda_link8", "panda_link7", FLANGE, mass=0.05))
    tree = segment_capsules(tree, {f"panda_link{i}": 0.06 for i in range(0, 8)},
                            rgba={f"panda_link{i}": white for i in range(0, 8)})
    tree.add(Link("panda_hand", "panda_link8", quat=rpy(0, 0, -np.pi / 4), mass=0.7))
    add_parallel_gripper(tree, "panda_hand", GRIPPER, "tcp", palm_geoms=(
        Geom("box", (0.02, 0.1, 0.025), pos=(0, 0, 0.03), rgba=white),))
    return tree


def description(prefix: str = "") -> RobotDescription:
    p = prefix
    group = ArmGroup(
        name="panda_arm",
        joints=tuple(p + j for j in JOINTS), actuators=tuple(p + j for j in JOINTS),
        tip_site=p + "panda_link8", tcp_site=p + "tcp",
        gripper_actuator=p + "panda_hand", gripper_joints=tuple(
            p + j for j in GRIPPER.finger_joints),
        gripper_open=GRIPPER.max_width, gripper_closed=0.0,
        pad_length=GRIPPER.pad_length, finger_depth=GRIPPER.finger_depth,
    )
    return RobotDescription(
        name="franka", base_body=p + "panda_link0", groups={group.name: group},
        default_group=group.name, joint_names=group.joints, home=HOME,
        mount=Mount(base_above_table=0.0, table_edge_x=-0.15,
                    workspace=(0.32, 0.72, -0.32, 0.32)),
        tip_body=p + "panda_link8",
        tree=kinematic_tree(), prefix=p,
    )
