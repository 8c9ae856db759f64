"""A parallel-jaw gripper added to any wrist: palm, two sliding fingers with friction pads.

Approach direction is +z of ``parent``; fingers close along y. Grasps hold by friction only:
the pads get high friction, torsional friction (condim 4) and stiff contacts in the builder.
"""

from __future__ import annotations

from dataclasses import dataclass

from spatial_ros.sim.robots.kinematics import Geom, Joint, KinematicTree, Link

FINGER_RGBA = (0.15, 0.15, 0.17, 1.0)
PAD_RGBA = (0.9, 0.45, 0.1, 1.0)


@dataclass(frozen=True)
class GripperSpec:
    finger_joints: tuple[str, str]
    finger_links: tuple[str, str]
    max_width: float  # opening between the pads, metres
    palm_length: float  # parent origin -> finger base along z
    finger_length: float
    pad_length: float = 0.035
    pad_width: float = 0.022  # along x
    pad_thickness: float = 0.006  # along y (half of it is the pad's half size)
    finger_thickness: float = 0.01
    force: float = 60.0  # N per finger
    velocity: float = 0.15  # m/s per finger
    palm_half_x: float = 0.03
    finger_mass: float = 0.06

    @property
    def finger_depth(self) -> float:
        """TCP -> palm distance along the approach axis."""
        return self.finger_length - self.pad_length / 2

    @property
    def tcp_offset(self) -> float:
        """Distance from the parent origin to the centre of the pads along the approach axis."""
        return self.palm_length + self.finger_length - self.pad_length / 2


def add_parallel_gripper(tree: KinematicTree, parent: str, spec: GripperSpec, tcp_site: str,
                         palm_geoms: tuple[Geom, ...] = ()) -> None:
    """Adds the fingers under ``parent`` and a ``tcp_site`` at the centre of the pads."""
    half_open = spec.max_width / 2
    half_y = half_open + spec.pad_thickness + spec.finger_thickness + 0.005
    palm = palm_geoms or (
        Geom("box", (spec.palm_half_x, half_y, spec.palm_length / 4),
             pos=(0.0, 0.0, spec.palm_length * 0.75), rgba=FINGER_RGBA),
        Geom("cylinder", (0.035,), fromto=(0, 0, 0, 0, 0, spec.palm_length / 2),
             rgba=FINGER_RGBA),
    )
    # Palm geoms go on the parent link (it has no joint of its own).
    idx = next(i for i, x in enumerate(tree.links) if x.name == parent)
    p = tree.links[idx]
    tree.links[idx] = Link(p.name, p.parent, p.xyz, p.quat, p.joint, p.mass,
                           p.geoms + tuple(palm),
                           (*p.sites, (tcp_site, (0.0, 0.0, spec.tcp_offset))))
    pt = spec.pad_thickness / 2
    ft = spec.finger_thickness / 2
    zc = spec.finger_length - spec.pad_length / 2
    for k, sign in ((0, 1.0), (1, -1.0)):
        geoms = (
            Geom("box", (spec.pad_width / 2, pt, spec.pad_length / 2),
                 pos=(0.0, sign * pt, zc), rgba=PAD_RGBA, pad=True,
                 name=f"{spec.finger_links[k]}_pad"),
            Geom("box", (spec.pad_width / 2, ft, spec.finger_length / 2),
                 pos=(0.0, sign * (2 * pt + ft), spec.finger_length / 2), rgba=FINGER_RGBA),
        )
        tree.add(Link(
            spec.finger_links[k], parent, xyz=(0.0, 0.0, spec.palm_length),
            joint=Joint(spec.finger_joints[k], "prismatic", axis=(0.0, sign, 0.0), lower=0.0,
                        upper=half_open, velocity=spec.velocity, effort=spec.force,
                        damping=2.0, armature=0.01),
            mass=spec.finger_mass, geoms=geoms,
        ))
