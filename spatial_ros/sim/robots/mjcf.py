"""Turns a robot's kinematic tree into MuJoCo bodies, joints, actuators (via mujoco.MjSpec).

Every body gets gravity compensation (real arm controllers compensate gravity too), so the
position actuators only fight inertia and contacts. Gripper: one position actuator on a fixed
tendon (finger1 + finger2 = opening in metres) and an equality keeping the fingers symmetric;
the clamp force is the actuator's force limit, and objects are held by pad friction only.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from spatial_ros.sim.robots.description import RobotDescription
from spatial_ros.sim.robots.kinematics import (
    ROBOT_CONAFFINITY,
    ROBOT_CONTYPE,
    Geom,
    Link,
    quat_wxyz,
    rot_from_wxyz,
)

_GEOM = {
    "capsule": mujoco.mjtGeom.mjGEOM_CAPSULE,
    "box": mujoco.mjtGeom.mjGEOM_BOX,
    "cylinder": mujoco.mjtGeom.mjGEOM_CYLINDER,
    "sphere": mujoco.mjtGeom.mjGEOM_SPHERE,
}


@dataclass(frozen=True)
class ContactParams:
    """Finger-pad contact: sticky enough to hold a 0.3 kg object by friction alone."""

    pad_friction: tuple[float, float, float] = (1.5, 0.02, 0.0005)
    pad_condim: int = 4
    pad_solref: tuple[float, float] = (0.005, 1.0)
    pad_solimp: tuple[float, ...] = (0.95, 0.99, 0.001, 0.5, 2.0)
    arm_kp_per_effort: float = 25.0  # position gain = effort limit × this (N·m/rad per N·m)
    gripper_kp: float = 3000.0  # N/m on the opening


def build_robot(
    spec: mujoco.MjSpec,
    robot: RobotDescription,
    pos=(0.0, 0.0, 0.0),
    quat=(1.0, 0.0, 0.0, 0.0),
    parent: mujoco.MjsBody | None = None,
    lock: dict[str, float] | None = None,
    actuators: bool = True,
    contact: ContactParams | None = None,
) -> None:
    """Adds ``robot`` under ``parent`` (default world body) of ``spec``.

    ``lock`` maps joint names (unprefixed) to values: those joints become rigid at that value
    (used to build a small IK model of one arm). ``actuators=False`` skips actuators/tendons.
    """
    contact = contact or ContactParams()
    lock = lock or {}
    p = robot.prefix
    parent = parent or spec.worldbody
    bodies: dict[str, mujoco.MjsBody] = {}
    tips = {g.tip_site.removeprefix(p) for g in robot.groups.values()}
    # MjSpec reads hinge ranges in degrees unless the spec says radians.
    deg = 180.0 / np.pi if spec.compiler.degree else 1.0
    for link in robot.tree.links:
        par = parent if link.parent is None else bodies[link.parent]
        body = _add_link(par, link, p, lock, contact, deg)
        if link.parent is None:
            body.pos = list(pos)
            body.quat = list(quat)
        bodies[link.name] = body
        if link.name in tips:
            body.add_site(name=p + link.name, size=[0.008, 0, 0], rgba=[0.1, 0.8, 0.1, 0.6],
                          group=4)
    if not actuators:
        return
    for name in robot.joint_names:
        joint = robot.tree.joint(name.removeprefix(p))
        if joint.name in lock:
            continue
        act = spec.add_actuator(name=name, target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=joint.effort * contact.arm_kp_per_effort, dampratio=1.0)
        act.ctrlrange = [joint.lower, joint.upper]
        act.forcerange = [-joint.effort, joint.effort]
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
    for group in robot.groups.values():
        j1, j2 = group.gripper_joints
        finger = robot.tree.joint(j1.removeprefix(p))
        tendon = spec.add_tendon(name=group.gripper_actuator + "_opening")
        tendon.wrap_joint(j1, 1.0)
        tendon.wrap_joint(j2, 1.0)
        act = spec.add_actuator(name=group.gripper_actuator, target=tendon.name,
                                trntype=mujoco.mjtTrn.mjTRN_TENDON)
        act.set_to_position(kp=contact.gripper_kp, dampratio=1.0)
        act.ctrlrange = [group.gripper_closed, group.gripper_open]
        act.forcerange = [-finger.effort, finger.effort]
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        eq = spec.add_equality(type=mujoco.mjtEq.mjEQ_JOINT, name1=j1, name2=j2)
        eq.name = group.gripper_actuator + "_symmetry"
        eq.solref = [0.005, 1.0]


def _add_link(parent, link: Link, p: str, lock: dict[str, float], contact: ContactParams,
              deg: float):
    xyz = np.asarray(link.xyz, float)
    rot = rot_from_wxyz(link.quat)
    joint = link.joint
    if joint is not None and joint.name in lock:  # freeze the joint at its locked value
        val = lock[joint.name]
        axis = np.asarray(joint.axis, float)
        if joint.type == "revolute":
            rot = rot * type(rot).from_rotvec(axis * val)
        else:
            xyz = xyz + rot.apply(axis * val)
        joint = None
    body = parent.add_body(name=p + link.name, pos=xyz.tolist(), quat=list(quat_wxyz(rot)),
                           gravcomp=1.0)
    if joint is not None:
        body.add_joint(
            name=p + joint.name,
            type=mujoco.mjtJoint.mjJNT_HINGE if joint.type == "revolute"
            else mujoco.mjtJoint.mjJNT_SLIDE,
            axis=list(joint.axis),
            range=[joint.lower * deg, joint.upper * deg] if joint.type == "revolute"
            else [joint.lower, joint.upper],
            limited=mujoco.mjtLimited.mjLIMITED_TRUE,
            damping=joint.damping, armature=joint.armature,
        )
    geoms = link.geoms
    if not geoms:  # massless frames must still carry inertia when they move
        geoms = (Geom("sphere", (0.01,), rgba=(0, 0, 0, 0), name="__inertia"),)
    for g in geoms:
        _add_geom(body, g, link.mass / len(geoms), p, contact)
    for name, pos in link.sites:
        body.add_site(name=p + name, pos=list(pos), size=[0.006, 0, 0],
                      rgba=[1.0, 0.2, 0.2, 0.6], group=4)
    return body


def _add_geom(body, g: Geom, mass: float, p: str, contact: ContactParams) -> None:
    kw = dict(type=_GEOM[g.type], rgba=list(g.rgba), mass=max(mass, 1e-3),
              contype=ROBOT_CONTYPE, conaffinity=ROBOT_CONAFFINITY)
    if g.name == "__inertia":
        kw.update(contype=0, conaffinity=0, group=3)
    elif g.name:
        kw["name"] = p + g.name
    size = list(g.size) + [0.0] * (3 - len(g.size))
    if g.fromto is not None:
        kw["fromto"] = list(g.fromto)
        size = [g.size[0], 0.0, 0.0]
    else:
        kw["pos"] = list(g.pos)
        kw["quat"] = list(g.quat)
    kw["size"] = size
    if g.pad:
        kw.update(friction=list(contact.pad_friction), condim=contact.pad_condim,
                  solref=list(contact.pad_solref), solimp=list(contact.pad_solimp),
                  priority=1)
    body.add_geom(**kw)
