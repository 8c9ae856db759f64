"""One kinematic description per robot, shared by the MuJoCo builder and the URDF writer.

Why a small tree of dataclasses instead of an MJCF or URDF file: both outputs are generated
from the same numbers, so the simulated robot and the URDF that MoveIt/RViz reads can never
drift apart (a test checks their forward kinematics agree).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.spatial.transform import Rotation

GeomType = Literal["capsule", "box", "cylinder", "sphere"]
JointType = Literal["revolute", "prismatic"]

# Collision bits: robot geoms collide with the world (bit 0) but not with each other (bit 1).
ROBOT_CONTYPE = 2
ROBOT_CONAFFINITY = 1


@dataclass(frozen=True)
class Geom:
    """A primitive in the link frame. capsule/cylinder: ``fromto`` + radius; box: half sizes."""

    type: GeomType
    size: tuple[float, ...]
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)  # w, x, y, z
    fromto: tuple[float, float, float, float, float, float] | None = None
    rgba: tuple[float, float, float, float] = (0.7, 0.7, 0.72, 1.0)
    name: str = ""
    pad: bool = False  # a fingertip pad: high friction, torsional friction, stiff contact


@dataclass(frozen=True)
class Joint:
    name: str
    type: JointType = "revolute"
    axis: tuple[float, float, float] = (0.0, 0.0, 1.0)
    lower: float = -np.pi
    upper: float = np.pi
    velocity: float = 2.0  # rad/s or m/s
    effort: float = 50.0  # N·m or N
    damping: float = 1.0
    armature: float = 0.05


@dataclass(frozen=True)
class Link:
    """A rigid body attached to ``parent`` at ``xyz``/``quat`` (w,x,y,z), moved by ``joint``."""

    name: str
    parent: str | None
    xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    joint: Joint | None = None
    mass: float = 0.5
    geoms: tuple[Geom, ...] = ()
    sites: tuple[tuple[str, tuple[float, float, float]], ...] = ()  # (name, pos) in link frame


@dataclass
class KinematicTree:
    links: list[Link] = field(default_factory=list)

    def add(self, link: Link) -> Link:
        if any(existing.name == link.name for existing in self.links):
            raise ValueError(f"duplicate link name {link.name!r}")
        if link.parent is not None and not any(x.name == link.parent for x in self.links):
            raise ValueError(f"link {link.name!r}: parent {link.parent!r} not defined yet")
        self.links.append(link)
        return link

    def link(self, name: str) -> Link:
        for link in self.links:
            if link.name == name:
                return link
        raise KeyError(f"no link named {name!r}")

    def children(self, name: str) -> list[Link]:
        return [x for x in self.links if x.parent == name]

    @property
    def joints(self) -> list[Joint]:
        return [x.joint for x in self.links if x.joint is not None]

    def joint(self, name: str) -> Joint:
        for j in self.joints:
            if j.name == name:
                return j
        raise KeyError(f"no joint named {name!r}")

    def chain(self, tip_link: str) -> list[Link]:
        """Links from the root to ``tip_link`` (inclusive)."""
        out = [self.link(tip_link)]
        while out[-1].parent is not None:
            out.append(self.link(out[-1].parent))
        return out[::-1]


def quat_wxyz(rot: Rotation) -> tuple[float, float, float, float]:
    x, y, z, w = rot.as_quat()
    return (float(w), float(x), float(y), float(z))


def rot_from_wxyz(q) -> Rotation:
    w, x, y, z = q
    return Rotation.from_quat([x, y, z, w])


def rpy(roll: float, pitch: float, yaw: float) -> tuple[float, float, float, float]:
    """URDF fixed-axis roll/pitch/yaw as a (w,x,y,z) quaternion."""
    return quat_wxyz(Rotation.from_euler("xyz", [roll, pitch, yaw]))


def dh_standard(d: float, a: float, alpha: float):
    """Origin of the next joint after a standard-DH link Rz(θ)·Tz(d)·Tx(a)·Rx(α), θ excluded.

    Returns (xyz, quat) of frame i in frame i-1 *after* the joint rotation, which is exactly a
    URDF/MJCF child origin when the joint axis is z.
    """
    return (float(a), 0.0, float(d)), rpy(alpha, 0.0, 0.0)


def dh_modified(a: float, alpha: float, d: float):
    """Origin of joint i for modified (Craig) DH: Rx(α)·Tx(a)·Rz(θ)·Tz(d) → xyz, quat."""
    rot = Rotation.from_euler("x", alpha)
    xyz = np.array([a, 0.0, 0.0]) + rot.apply([0.0, 0.0, d])
    return tuple(float(v) for v in xyz), quat_wxyz(rot)


def segment_capsules(
    tree: KinematicTree, radius: dict[str, float], rgba: dict[str, tuple] | None = None
) -> KinematicTree:
    """Adds a capsule from each link origin to each child origin (simple, recognisable arms)."""
    rgba = rgba or {}
    out = KinematicTree()
    for link in tree.links:
        geoms = list(link.geoms)
        r = radius.get(link.name)
        if r:
            for child in tree.children(link.name):
                end = np.asarray(child.xyz)
                if np.linalg.norm(end) > 1e-4:
                    geoms.append(
                        Geom(
                            "capsule",
                            (r,),
                            fromto=(0.0, 0.0, 0.0, *(float(v) for v in end)),
                            rgba=rgba.get(link.name, (0.75, 0.75, 0.78, 1.0)),
                        )
                    )
        out.links.append(
            Link(link.name, link.parent, link.xyz, link.quat, link.joint, link.mass,
                 tuple(geoms), link.sites)
        )
    return out
