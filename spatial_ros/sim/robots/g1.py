"""Unitree G1 (29-DoF naming) upper body on a fixed pelvis: 3-DoF waist + two 7-DoF arms.

Joint origins, axes and limits follow Unitree's published g1_29dof description; the legs are
rigid geometry (the base is fixed), and each wrist carries a simple parallel gripper in place
of the Dex3 hand.
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
    rpy,
    segment_capsules,
)

PELVIS_HEIGHT = 0.793  # standing pelvis height above the floor
LEG = ("hip_pitch", "hip_roll", "hip_yaw", "knee", "ankle_pitch", "ankle_roll")
WAIST = ("waist_yaw_joint", "waist_roll_joint", "waist_pitch_joint")
ARM = ("shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow",
       "wrist_roll", "wrist_pitch", "wrist_yaw")
JOINT_ORDER_29DOF = (
    tuple(f"left_{j}_joint" for j in LEG) + tuple(f"right_{j}_joint" for j in LEG) + WAIST
    + tuple(f"left_{j}_joint" for j in ARM) + tuple(f"right_{j}_joint" for j in ARM)
)
WRIST_RANGE = 1.614429558
# name, xyz (left side), rpy (left side), axis, lower/upper (left side), effort
ARM_CHAIN = (
    ("shoulder_pitch", (0.0039563, 0.10022, 0.23778), (0.27931, 5.4949e-05, -0.00019159),
     (0, 1, 0), (-3.0892, 2.6704), 25.0),
    ("shoulder_roll", (0.0, 0.038, -0.013831), (-0.27925, 0.0, 0.0), (1, 0, 0),
     (-1.5882, 2.2515), 25.0),
    ("shoulder_yaw", (0.0, 0.00624, -0.1032), (0, 0, 0), (0, 0, 1), (-2.618, 2.618), 25.0),
    ("elbow", (0.015783, 0.0, -0.080518), (0, 0, 0), (0, 1, 0), (-1.0472, 2.0944), 25.0),
    ("wrist_roll", (0.100, 0.00188791, -0.010), (0, 0, 0), (1, 0, 0),
     (-1.972222054, 1.972222054), 25.0),
    ("wrist_pitch", (0.038, 0.0, 0.0), (0, 0, 0), (0, 1, 0), (-WRIST_RANGE, WRIST_RANGE), 5.0),
    ("wrist_yaw", (0.046, 0.0, 0.0), (0, 0, 0), (0, 0, 1), (-WRIST_RANGE, WRIST_RANGE), 5.0),
)
HAND_OFFSET = (0.0415, 0.003, 0.0)  # wrist_yaw_link -> rubber hand
ARM_VELOCITY = 3.0  # rad/s used for planning (motors allow more)
# Left arm home (right arm mirrored): hands raised well above the table, so the idle arm
# never sweeps through objects while the waist turns for the other arm.
HOME_ARM = {"shoulder_pitch": -0.3, "shoulder_roll": 0.25, "shoulder_yaw": 0.0,
            "elbow": -0.5, "wrist_roll": 0.0, "wrist_pitch": 0.8, "wrist_yaw": 0.0}
# Idle arm while the other one works (left arm; right mirrored): the hand in front of the
# chest on the midline, 0.23 m above the pelvis. Turning the waist swings it around the waist
# axis at ~0.31 m, so it stays in the workspace box (x >= -0.1) up to ~1.7 rad of yaw, where
# the home pose leaves it behind the pelvis from ~1.1 rad.
TUCK_ARM = {"shoulder_pitch": -0.25, "shoulder_roll": -0.05, "shoulder_yaw": -0.5,
            "elbow": -1.0, "wrist_roll": 0.0, "wrist_pitch": 0.8, "wrist_yaw": 0.0}
MIRRORED = ("shoulder_roll", "shoulder_yaw", "wrist_roll", "wrist_yaw")  # x/z axes flip sign
HOME_WAIST_PITCH = 0.3  # leaning forward over the table extends the reach by ~10 cm


def _gripper(side: str) -> GripperSpec:
    return GripperSpec(
        finger_joints=(f"{side}_hand_finger1_joint", f"{side}_hand_finger2_joint"),
        finger_links=(f"{side}_hand_finger1_link", f"{side}_hand_finger2_link"),
        max_width=0.09, palm_length=0.05, finger_length=0.06, pad_length=0.035,
        force=40.0, velocity=0.15, palm_half_x=0.02, finger_mass=0.04,
    )


def _add_arm(tree: KinematicTree, side: str) -> None:
    s = 1.0 if side == "left" else -1.0
    parent = "torso_link"
    for name, xyz, (r, p, y), axis, (lo, hi), effort in ARM_CHAIN:
        xyz_s = (xyz[0], s * xyz[1], xyz[2])
        rpy_s = (s * r, p, s * y)
        if s < 0 and axis in ((1, 0, 0), (0, 0, 1)):
            lo, hi = -hi, -lo  # mirrored roll/yaw limits
        link = f"{side}_{name}_link"
        tree.add(Link(link, parent, xyz_s, rpy(*rpy_s), Joint(
            f"{side}_{name}_joint", axis=tuple(float(a) for a in axis), lower=lo, upper=hi,
            velocity=ARM_VELOCITY, effort=effort, damping=0.5, armature=0.02), mass=0.6))
        parent = link
    hand = f"{side}_hand_link"
    # Rotate so the gripper's approach axis (+z) points along the forearm (+x).
    tree.add(Link(hand, parent, (HAND_OFFSET[0], s * HAND_OFFSET[1], 0.0),
                  rpy(0.0, np.pi / 2, 0.0), mass=0.2))


def kinematic_tree() -> KinematicTree:
    dark, grey = (0.2, 0.2, 0.22, 1.0), (0.7, 0.7, 0.72, 1.0)
    legs = []
    for s in (1.0, -1.0):
        legs += [
            Geom("capsule", (0.05,), fromto=(0, s * 0.12, -0.05, 0, s * 0.12, -0.42), rgba=dark),
            Geom("capsule", (0.045,), fromto=(0, s * 0.12, -0.42, 0, s * 0.12, -0.74),
                 rgba=dark),
            Geom("box", (0.1, 0.04, 0.02), pos=(0.03, s * 0.12, -PELVIS_HEIGHT + 0.02),
                 rgba=dark),
        ]
    tree = KinematicTree()
    tree.add(Link("pelvis", None, mass=5.0, geoms=(
        Geom("box", (0.06, 0.14, 0.06), rgba=dark), *legs)))
    tree.add(Link("waist_yaw_link", "pelvis", joint=Joint(
        "waist_yaw_joint", axis=(0, 0, 1), lower=-2.618, upper=2.618, velocity=2.0,
        effort=88.0, damping=2.0, armature=0.1), mass=1.0))
    tree.add(Link("waist_roll_link", "waist_yaw_link", (-0.0039635, 0.0, 0.035), joint=Joint(
        "waist_roll_joint", axis=(1, 0, 0), lower=-0.52, upper=0.52, velocity=2.0,
        effort=50.0, damping=2.0, armature=0.1), mass=1.0))
    tree.add(Link("torso_link", "waist_roll_link", (0.0, 0.0, 0.019), joint=Joint(
        "waist_pitch_joint", axis=(0, 1, 0), lower=-0.52, upper=0.52, velocity=2.0,
        effort=50.0, damping=2.0, armature=0.1), mass=8.0, geoms=(
        Geom("box", (0.07, 0.1, 0.12), pos=(0.0, 0.0, 0.13), rgba=grey),
        Geom("sphere", (0.07,), pos=(0.015, 0.0, 0.43), rgba=dark),
        Geom("capsule", (0.03,), fromto=(0.0, 0.0, 0.25, 0.0, 0.0, 0.36), rgba=dark))))
    for side in ("left", "right"):
        _add_arm(tree, side)
    radii = {}
    for side in ("left", "right"):
        radii.update({f"{side}_{n}_link": 0.03 for n, *_ in ARM_CHAIN})
        radii[f"{side}_shoulder_pitch_link"] = 0.035
    tree = segment_capsules(tree, radii)
    for side in ("left", "right"):
        add_parallel_gripper(tree, f"{side}_hand_link", _gripper(side), f"{side}_tcp")
    return tree


def description(prefix: str = "") -> RobotDescription:
    p = prefix
    groups = {}
    home = {p + j: 0.0 for j in WAIST}
    home[p + "waist_pitch_joint"] = HOME_WAIST_PITCH
    tuck = {}
    for side in ("left", "right"):
        s = 1.0 if side == "left" else -1.0
        # The waist belongs to both arm groups (as in Unitree's arm_sdk): leaning and
        # turning the torso is what gives the short arms a usable workspace.
        joints = tuple(p + j for j in WAIST) + tuple(f"{p}{side}_{n}_joint" for n in ARM)
        g = _gripper(side)
        groups[f"{side}_arm"] = ArmGroup(
            name=f"{side}_arm", joints=joints, actuators=joints,
            tip_site=f"{p}{side}_wrist_yaw_link", tcp_site=f"{p}{side}_tcp",
            gripper_actuator=f"{p}{side}_hand", gripper_joints=tuple(
                p + j for j in g.finger_joints),
            gripper_open=g.max_width, gripper_closed=0.0,
            pad_length=g.pad_length, finger_depth=g.finger_depth,
            hand_group=f"{side}_hand",
        )
        for n in ARM:
            v = HOME_ARM[n]
            home[f"{p}{side}_{n}_joint"] = s * v if n in MIRRORED else v
            v = TUCK_ARM[n]
            tuck[f"{p}{side}_{n}_joint"] = s * v if n in MIRRORED else v
    return RobotDescription(
        name="g1", base_body=p + "pelvis", groups=groups, default_group="left_arm",
        joint_names=tuple(home), home=tuple(home.values()),
        mount=Mount(base_above_table=0.15, table_edge_x=0.12,
                    workspace=(0.24, 0.4, -0.28, 0.28)),
        tip_body=p + "left_wrist_yaw_link",
        tree=kinematic_tree(), joint_order_29dof=tuple(p + j for j in JOINT_ORDER_29DOF),
        prefix=p, tuck=tuck,
    )
