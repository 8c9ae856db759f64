"""What the rest of the stack needs to know about a simulated robot, by name.

The world builder, the sim node and the executor address joints, actuators and sites only
through a ``RobotDescription`` so they never hard-code a robot's naming.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spatial_ros.sim.robots.kinematics import KinematicTree


@dataclass(frozen=True)
class ArmGroup:
    """One arm and its gripper (a MoveIt planning group)."""

    name: str  # ur_manipulator, panda_arm, left_arm, right_arm
    joints: tuple[str, ...]
    actuators: tuple[str, ...]  # one position actuator per joint, same order
    tip_site: str  # vendor tip frame: tool0, panda_link8, <side>_wrist_yaw_link
    tcp_site: str  # centre between the finger pads (the grasp point)
    gripper_actuator: str  # position actuator; ctrl = finger opening in metres
    gripper_joints: tuple[str, str]
    gripper_open: float  # ctrl value for fully open (metres between pads)
    gripper_closed: float  # ctrl value for closed
    hand_group: str = "hand"
    pad_length: float = 0.03  # finger pad length along the approach axis
    finger_depth: float = 0.04  # TCP -> palm distance along the approach axis


@dataclass(frozen=True)
class Mount:
    """How to place the robot at a table so the arm reaches it (metres, robot base frame).

    ``base_above_table``: base frame height above the table top (0: bolted on the table;
    G1: standing pelvis beside it). ``table_edge_x``: the table's near edge along +x (negative:
    the base stands on the table). ``workspace``: x_min, x_max, y_min, y_max of object centres
    the scripted pick grasps reliably (G1: with the arm on the object's side).
    """

    base_above_table: float
    table_edge_x: float
    workspace: tuple[float, float, float, float]


@dataclass(frozen=True)
class RobotDescription:
    name: str
    base_body: str
    groups: dict[str, ArmGroup]
    default_group: str
    joint_names: tuple[str, ...]  # actuated non-finger joints (G1: waist + both arms)
    home: tuple[float, ...]  # home position of each of joint_names
    mount: Mount
    tip_body: str  # flange body of the default arm (tool0, panda_link8, left_wrist_yaw_link)
    tree: KinematicTree = field(repr=False, compare=False)
    joint_order_29dof: tuple[str, ...] = ()  # G1 only: Unitree's 29-DoF ordering
    prefix: str = ""
    #: G1 only: arm joints (not the shared waist) of a pose whose hand stays in the
    #: workspace however far the waist turns for the other arm; the idle arm goes there
    tuck: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def group(self) -> ArmGroup:
        return self.groups[self.default_group]

    def __post_init__(self) -> None:
        if len(self.home) != len(self.joint_names):
            raise ValueError(f"{self.name}: home has {len(self.home)} values for "
                             f"{len(self.joint_names)} joints")
        if set(self.tuck) - set(self.joint_names):
            raise ValueError(f"{self.name}: tuck names unknown joints "
                             f"{sorted(set(self.tuck) - set(self.joint_names))}")

    @property
    def actuator_names(self) -> tuple[str, ...]:
        """Arm actuators (named like their joints, same order as ``home``), then grippers."""
        return self.joint_names + tuple(g.gripper_actuator for g in self.groups.values())

    @property
    def home_qpos(self) -> dict[str, float]:
        """Home position of every robot joint by name, fingers open."""
        out = dict(zip(self.joint_names, self.home, strict=True))
        for g in self.groups.values():
            out.update({j: g.gripper_open / 2 for j in g.gripper_joints})
        return out

    @property
    def home_ctrl(self) -> dict[str, float]:
        """Home control of every actuator by name, grippers open."""
        out = dict(zip(self.joint_names, self.home, strict=True))
        out.update({g.gripper_actuator: g.gripper_open for g in self.groups.values()})
        return out

    # Convenience accessors for single-arm robots (and G1's default arm).
    @property
    def tip_site(self) -> str:
        return self.group.tip_site

    @property
    def tcp_site(self) -> str:
        return self.group.tcp_site

    @property
    def gripper_actuator(self) -> str:
        return self.group.gripper_actuator

    @property
    def gripper_open(self) -> float:
        return self.group.gripper_open

    @property
    def gripper_closed(self) -> float:
        return self.group.gripper_closed
