"""Universal Robots UR5 from its published standard DH parameters, plus a 2F-85-like gripper.

Joint zero, axes and link frames follow UR's DH table (base rotated by π like
ur_description's ``base_link_inertia``), so joint angles mean the same as on the real arm.
"""

from __future__ import annotations

import numpy as np

from spatial_ros.sim.robots.description import ArmGroup, Mount, RobotDescription
from spatial_ros.sim.robots.gripper import GripperSpec, add_parallel_gripper
from spatial_ros.sim.robots.kinematics import (
    Geom,
    Joint,
    KinematicTree,
    Link,
    dh_standard,
    rpy,
    segment_capsules,
)

D1, A2, A3, D4, D5, D6 = 0.089159, -0.425, -0.39225, 0.10915, 0.09465, 0.0823
JOINTS = ("shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint",
          "wrist_1_joint", "wrist_2_joint", "wrist_3_joint")
LINKS = ("shoulder_link", "upper_arm_link", "forearm_link",
         "wrist_1_link", "wrist_2_link", "wrist_3_link")
# (d, a, alpha) of links 1..6
DH = ((D1, 0.0, np.pi / 2), (0.0, A2, 0.0), (0.0, A3, 0.0),
      (D4, 0.0, np.pi / 2), (D5, 0.0, -np.pi / 2), (D6, 0.0, 0.0))
EFFORT = (150.0, 150.0, 150.0, 28.0, 28.0, 28.0)
VELOCITY = np.pi  # rad/s, all joints (UR5 datasheet: 180 deg/s)
LIMIT = 2 * np.pi
HOME = (0.0, -np.pi / 2, np.pi / 2, -np.pi / 2, -np.pi / 2, 0.0)

GRIPPER = GripperSpec(
    finger_joints=("left_finger_joint", "right_finger_joint"),
    finger_links=("left_finger_link", "right_finger_link"),
    max_width=0.085, palm_length=0.09, finger_length=0.055, pad_length=0.035,
    force=60.0, velocity=0.15,
)


def kinematic_tree() -> KinematicTree:
    tree = KinematicTree()
    tree.add(Link("base_link", None, mass=4.0, geoms=(
        Geom("cylinder", (0.075,), fromto=(0, 0, 0, 0, 0, 0.06), rgba=(0.3, 0.3, 0.32, 1)),)))
    tree.add(Link("base_link_inertia", "base_link", quat=rpy(0, 0, np.pi), mass=0.1))
    parent, xyz, quat = "base_link_inertia", (0.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0)
    masses = (3.7, 8.4, 2.3, 1.2, 1.2, 0.19)
    for name, joint, (d, a, alpha), effort, mass in zip(LINKS, JOINTS, DH, EFFORT, masses,
                                                        strict=True):
        tree.add(Link(name, parent, xyz, quat, Joint(
            joint, axis=(0.0, 0.0, 1.0), lower=-LIMIT, upper=LIMIT, velocity=VELOCITY,
            effort=effort, damping=2.0 if effort > 100 else 0.5,
            armature=0.1 if effort > 100 else 0.02), mass=mass))
        parent = name
        xyz, quat = dh_standard(d, a, alpha)
    tree.add(Link("tool0", "wrist_3_link", xyz, quat, mass=0.05))
    tree = segment_capsules(tree, {
        "base_link_inertia": 0.0, "shoulder_link": 0.0, "upper_arm_link": 0.055,
        "forearm_link": 0.045, "wrist_1_link": 0.04, "wrist_2_link": 0.04,
        "wrist_3_link": 0.035}, rgba={"upper_arm_link": (0.55, 0.7, 0.85, 1.0),
                                      "forearm_link": (0.55, 0.7, 0.85, 1.0)})
    # shoulder housing: a cylinder standing on the base (a capsule would poke into the table)
    i = next(k for k, x in enumerate(tree.links) if x.name == "shoulder_link")
    sh = tree.links[i]
    tree.links[i] = Link(sh.name, sh.parent, sh.xyz, sh.quat, sh.joint, sh.mass, (*sh.geoms, Geom(
        "cylinder", (0.06,), fromto=(0, 0, 0.062, 0, 0, D1 + 0.05), rgba=(0.55, 0.7, 0.85, 1))),
        sh.sites)
    add_parallel_gripper(tree, "tool0", GRIPPER, "tcp")
    return tree


def description(prefix: str = "") -> RobotDescription:
    p = prefix
    group = ArmGroup(
        name="ur_manipulator",
        joints=tuple(p + j for j in JOINTS),
        actuators=tuple(p + j for j in JOINTS),
        tip_site=p + "tool0", tcp_site=p + "tcp",
        gripper_actuator=p + "gripper", gripper_joints=tuple(p + j for j in GRIPPER.finger_joints),
        gripper_open=GRIPPER.max_width, gripper_closed=0.0,
        pad_length=GRIPPER.pad_length, finger_depth=GRIPPER.finger_depth,
    )
    return RobotDescription(
        name="ur5", base_body=p + "base_link", groups={group.name: group},
        default_group=group.name, joint_names=group.joints, home=HOME,
        mount=Mount(base_above_table=0.0, table_edge_x=-0.15,
                    workspace=(0.32, 0.72, -0.32, 0.32)),
        tip_body=p + "tool0",
        tree=kinematic_tree(), prefix=p,
    )
