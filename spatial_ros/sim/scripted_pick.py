"""Scripted pick from ground-truth object poses: the reference the learned pipeline must match.

Sequence: open → joint move to a pre-grasp above the object → straight-line approach →
close (force-limited; the object is held by pad friction only) → straight-line lift →
hold. Top-down grasps across the object's narrow side; a mug whose body is too wide for the
gripper is grasped on its rim wall (one finger inside, one outside).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from spatial_ros.sim.controller import RobotController
from spatial_ros.sim.ik import ArmIK
from spatial_ros.sim.trajectory import MotionLimits, time_parameterize

WALL = 0.006  # mug wall thickness assumed for rim grasps (matches sim.objects)


@dataclass
class GraspTarget:
    """Ground truth of one object: world pose of its body, bounding box and category."""

    position: np.ndarray  # body origin, world frame (metres)
    rotation: np.ndarray  # 3x3 body -> world
    extents: tuple[float, float, float]  # bounding-box size in the body frame (metres)
    category: str  # cube | block | cylinder | sphere | mug | ...
    body_id: int = -1  # MuJoCo body, to measure the lift

    @classmethod
    def from_scene_object(cls, obj) -> GraspTarget:
        """From ``sim.world.SceneObject`` (pose, size, category, body_id)."""
        pose = np.asarray(obj.pose, float)
        return cls(pose[:3, 3].copy(), pose[:3, :3].copy(), tuple(obj.size), obj.category,
                   int(obj.body_id))


@dataclass
class PickConfig:
    pregrasp_height: float = 0.10  # above the grasp pose (metres)
    lift_height: float = 0.10
    hold_time: float = 2.0  # seconds held after lifting
    close_time: float = 0.8  # max seconds to let the fingers close
    cartesian_speed: float = 0.08  # m/s for approach and lift
    velocity_scale: float = 0.5  # of vendor joint velocity limits, for free moves
    width_margin: float = 0.008  # open width must exceed the object by this much
    preshape_clearance: float = 0.03  # open only this much wider than the object (clutter)
    min_lift: float = 0.05  # success threshold on the object's height gain
    cartesian_steps: int = 12  # IK waypoints along straight-line moves
    yaw_candidates: int = 8  # for round objects
    # approach tilts from vertical (rad), tried in order; tilted approaches lean away from the
    # robot base (short arms such as G1's cannot reach every point straight down)
    tilts: tuple[float, ...] = (0.0,)

    @classmethod
    def for_robot(cls, name: str, **kw) -> PickConfig:
        if name == "g1":
            kw.setdefault("tilts", (0.0, 0.3, 0.6, 0.9))
        return cls(**kw)


@dataclass
class PickResult:
    success: bool
    lift: float  # object height gain after the hold (metres)
    reason: str = ""
    grasp_width: float = 0.0
    grasp_pose: np.ndarray = field(default_factory=lambda: np.eye(4))
    sim_time: float = 0.0


@dataclass
class GraspCandidate:
    position: np.ndarray
    rotation: np.ndarray  # TCP orientation, world frame
    width: float  # expected opening at contact
    kind: str  # "body" | "rim"
    q_pregrasp: np.ndarray | None = None  # joint solution checked by choose_grasp


def top_down_rotation(closing_dir: np.ndarray, tilt: float = 0.0,
                      away: np.ndarray | None = None) -> np.ndarray:
    """TCP rotation: approach (z) down, tilted by ``tilt`` rad towards horizontal ``away``,
    fingers closing (y) along the horizontal ``closing_dir``."""
    y = np.array([closing_dir[0], closing_dir[1], 0.0])
    y /= np.linalg.norm(y)
    z = np.array([0.0, 0.0, -1.0])
    if tilt:
        h = np.cross(y, [0.0, 0.0, 1.0])  # horizontal, perpendicular to the closing axis
        if away is not None and np.dot(h, away) < 0:
            h = -h
        z = np.cos(tilt) * z + np.sin(tilt) * h
    return np.column_stack([np.cross(y, z), y, z])


def grasp_candidates(target: GraspTarget, group, cfg: PickConfig,
                     base_xy: np.ndarray | None = None) -> list[GraspCandidate]:
    """Grasps for ``target``, best first (body grasps by tilt, then rim grasps)."""
    ex = np.asarray(target.extents, float)
    if ex.shape != (3,) or np.any(ex <= 0):
        raise ValueError(f"object extents must be 3 positive numbers, got {target.extents}")
    up_axis = int(np.argmax(np.abs(target.rotation[2, :])))  # body axis closest to world z
    height = ex[up_axis]
    top = target.position[2] + height / 2
    bottom = target.position[2] - height / 2
    z = max(target.position[2],
            top - group.finger_depth + 0.012,  # palm stays clear of the top
            bottom + group.pad_length / 2 + 0.006)  # finger tips clear of the table
    max_width = group.gripper_open - cfg.width_margin
    horiz = [i for i in range(3) if i != up_axis]
    out: list[GraspCandidate] = []
    round_obj = target.category in ("cylinder", "sphere")
    if round_obj:
        yaws = np.linspace(0, np.pi, cfg.yaw_candidates, endpoint=False)
        dirs = [np.array([np.cos(a), np.sin(a), 0.0]) for a in yaws]
        widths = [float(min(ex[horiz]))] * len(dirs)
    elif target.category == "mug":
        # across the body, handle (body +x) pointing away from the fingers
        dirs = [target.rotation[:, 1]]
        widths = [float(ex[1])]
    else:
        order = sorted(horiz, key=lambda i: ex[i])
        dirs = [target.rotation[:, i] for i in order]
        widths = [float(ex[i]) for i in order]
    centre = target.position.copy()
    away = centre[:2] - (np.zeros(2) if base_xy is None else np.asarray(base_xy)[:2])
    away = np.array([away[0], away[1], 0.0])
    for tilt in cfg.tilts:
        for d, w in zip(dirs, widths, strict=True):
            if w <= max_width and np.linalg.norm(d[:2]) > 1e-6:
                out.append(GraspCandidate(np.array([centre[0], centre[1], z]),
                                          top_down_rotation(d, tilt, away), w, "body"))
    if target.category == "mug":
        r = ex[1] / 2
        z_rim = top - group.pad_length / 2 - 0.004
        x_axis = target.rotation[:, 0]
        for ang in np.deg2rad([90, -90, 135, -135, 180]):  # rim points away from the handle
            radial = Rotation.from_rotvec([0, 0, ang]).apply([x_axis[0], x_axis[1], 0.0])
            radial /= np.linalg.norm(radial)
            pos = centre + radial * (r - WALL / 2)
            out.append(GraspCandidate(np.array([pos[0], pos[1], z_rim]),
                                      top_down_rotation(radial), WALL, "rim"))
    return out


class ScriptedPicker:
    """Runs scripted picks with ``controller`` on one arm ``group`` of a robot in a world."""

    def __init__(self, controller: RobotController, base_pose: np.ndarray,
                 group: str | None = None, cfg: PickConfig | None = None, ik: ArmIK | None = None):
        self.ctl = controller
        self.robot = controller.robot
        self.group_name = group or self.robot.default_group
        self.group = self.robot.groups[self.group_name]
        self.cfg = cfg or PickConfig.for_robot(self.robot.name)
        self.base_pose = np.asarray(base_pose, float)
        fixed = dict(zip(self.robot.joint_names,
                         [controller.data.qpos[controller.model.joint(j).qposadr[0]]
                          for j in self.robot.joint_names], strict=True))
        self.ik = ik or ArmIK(self.robot, self.group_name, base_pose, fixed=fixed)
        self.limits = MotionLimits.from_robot(self.robot, self.group_name, self.cfg.velocity_scale)
        model = controller.model
        self._scratch = mujoco.MjData(model)
        base_id = model.body(self.robot.base_body).id
        self._robot_geom = model.body_rootid[model.geom_bodyid] == base_id
        self._group_qadr = np.array([model.joint(j).qposadr[0] for j in self.group.joints])
        self._finger_qadr = np.array([model.joint(j).qposadr[0] for j in self.group.gripper_joints])

    def preshape(self, width: float) -> float:
        """Opening used for the approach: the object's width plus a clearance."""
        return float(min(self.group.gripper_open, width + self.cfg.preshape_clearance))

    def collides(self, waypoints: np.ndarray, target_body: int, opening: float) -> bool:
        """True when the hand (fingers at ``opening``) or arm at any of ``waypoints`` would
        touch anything but ``target_body`` (neighbours, the table; -1: touch nothing),
        checked on a scratch copy of the current state."""
        model, d = self.ctl.model, self._scratch
        d.qpos[:] = self.ctl.data.qpos
        d.qpos[self._finger_qadr] = opening / 2
        for q in waypoints:
            d.qpos[self._group_qadr] = q
            mujoco.mj_kinematics(model, d)
            mujoco.mj_collision(model, d)
            for c in d.contact[:d.ncon]:
                g1, g2 = c.geom
                if self._robot_geom[g1] == self._robot_geom[g2]:
                    continue
                other = g2 if self._robot_geom[g1] else g1
                if model.geom_bodyid[other] != target_body:
                    return True
        return False

    # ---------------------------------------------------------------- motions
    def move_to_pose(self, position, rotation) -> bool:
        """Joint-space move to a TCP pose; False when IK has no solution."""
        res = self.ik.solve(position, rotation, self.ctl.targets(self.group_name), restarts=2)
        if not res.success:
            return False
        self.ctl.move_to(res.q, self.group_name, self.cfg.velocity_scale)
        return True

    def plan_linear(self, position, rotation, q_start: np.ndarray):
        """IK waypoints for a straight TCP line from FK(q_start) to the pose, or None."""
        start = self.ik.fk(q_start)[:3, 3]
        q = q_start
        waypoints = [q_start]
        for s in np.linspace(0, 1, self.cfg.cartesian_steps + 1)[1:]:
            res = self.ik.solve(start + s * (np.asarray(position) - start), rotation, q,
                                restarts=0)
            if not res.success or np.max(np.abs(res.q - q)) > 0.5:
                return None
            q = res.q
            waypoints.append(q)
        return np.array(waypoints)

    def move_linear(self, position, rotation) -> bool:
        q0 = self.ctl.targets(self.group_name)
        wps = self.plan_linear(position, rotation, q0)
        if wps is None:
            return False
        dist = float(np.linalg.norm(self.ik.fk(q0)[:3, 3] - np.asarray(position)))
        traj = time_parameterize(wps, self.limits.velocity, self.limits.acceleration,
                                 min_duration=max(dist / self.cfg.cartesian_speed, 0.2))
        self.ctl.follow(traj, self.group_name, settle=0.05)
        return True

    def close(self) -> float:
        """Closes the fingers until they stop; returns the final opening (metres)."""
        self.ctl.close_gripper(self.group_name)
        last = self.ctl.gripper_width(self.group_name)
        t = 0.0
        while t < self.cfg.close_time:
            self.ctl.wait(0.05)
            t += 0.05
            w = self.ctl.gripper_width(self.group_name)
            if t > 0.2 and abs(w - last) < 2e-4:  # fingers stopped (on the object or shut)
                break
            last = w
        return self.ctl.gripper_width(self.group_name)

    # ---------------------------------------------------------------- the pick
    def choose_grasp(self, target: GraspTarget):
        """First candidate whose pre-grasp and grasp both have IK solutions (closest wrist)."""
        q_now = self.ctl.targets(self.group_name)
        rot_now = self.ik.fk(q_now)[:3, :3]
        scored = []
        cands = grasp_candidates(target, self.group, self.cfg, self.base_pose[:3, 3])
        for rank, cand in enumerate(cands):
            for flip in (False, True):  # the gripper is symmetric: closing dir ±
                rot = cand.rotation @ np.diag([-1, -1, 1]) if flip else cand.rotation
                angle = Rotation.from_matrix(rot_now.T @ rot).magnitude()
                tilt = np.arccos(np.clip(-rot[2, 2], -1, 1))
                scored.append((cand.kind != "body", round(tilt, 2), angle, rank, cand, rot))
        scored.sort(key=lambda s: s[:4])
        for restarts, n in ((0, len(scored)), (None, 8)):  # cheap pass from the current pose
            for *_, cand, rot in scored[:n]:
                pre = cand.position - self.cfg.pregrasp_height * rot[:, 2]
                r_pre = self.ik.solve(pre, rot, q_now, restarts=restarts)
                if not r_pre.success:
                    continue
                path = self.plan_linear(cand.position, rot, r_pre.q)
                opening = self.preshape(cand.width)
                if path is None or self.collides(path, target.body_id, opening):
                    continue
                # the free joint-space move to the pre-grasp must not sweep through objects
                free = q_now + np.linspace(0, 1, 16)[:, None] * (r_pre.q - q_now)
                if self.collides(free, -1, opening):
                    continue
                return GraspCandidate(cand.position, rot, cand.width, cand.kind, r_pre.q)
        return None

    def pick(self, target: GraspTarget) -> PickResult:
        data = self.ctl.data
        t_start = data.time
        z0 = data.xpos[target.body_id][2] if target.body_id >= 0 else target.position[2]
        grasp = self.choose_grasp(target)
        if grasp is None:
            return PickResult(False, 0.0, "no reachable grasp", sim_time=0.0)
        pose = np.eye(4)
        pose[:3, :3], pose[:3, 3] = grasp.rotation, grasp.position
        self.ctl.set_gripper(self.preshape(grasp.width), self.group_name)
        self.ctl.move_to(grasp.q_pregrasp, self.group_name, self.cfg.velocity_scale)
        if not self.move_linear(grasp.position, grasp.rotation):
            return self._fail("approach not feasible", pose, t_start)
        width = self.close()
        if width < 0.002:
            return self._fail("missed: fingers closed on nothing", pose, t_start, width)
        lifted = grasp.position + np.array([0.0, 0.0, self.cfg.lift_height])
        if not self.move_linear(lifted, grasp.rotation):
            return self._fail("lift not feasible", pose, t_start, width)
        self.ctl.wait(self.cfg.hold_time)
        z1 = data.xpos[target.body_id][2] if target.body_id >= 0 else np.nan
        lift = float(z1 - z0)
        width = self.ctl.gripper_width(self.group_name)
        ok = lift >= self.cfg.min_lift and width > 0.002
        reason = "" if ok else f"object not held (lift {lift:.3f} m, width {width:.3f} m)"
        return PickResult(ok, lift, reason, width, pose, float(data.time - t_start))

    def _fail(self, reason, pose, t_start, width=0.0) -> PickResult:
        return PickResult(False, 0.0, reason, width, pose, float(self.ctl.data.time - t_start))
