"""Pick, place and home as MoveIt Task Constructor-style stage lists, and their execution.

pick  = open gripper -> move to pre-grasp -> Cartesian approach along the grasp axis
        -> close -> Cartesian lift
place = move above target -> Cartesian lower -> open -> Cartesian retreat
home  = joint move to the robot's home configuration

Stages are plain data (what to do, where); ``SkillExecutor`` plans each with our planner
(or the backend's own, for MoveIt), lets the backend run it (the envelope checks again
there), and reports which stage failed and why. Grasp frames follow the gripper
convention: +z approaches into the object, the fingers close along +y.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from spatial_ros.execution.backends.base import Backend
from spatial_ros.execution.config import ExecutorConfig
from spatial_ros.execution.planner import MotionPlanner, PlanningError
from spatial_ros.execution.safety import EnvelopeViolation

log = logging.getLogger(__name__)

HALF_TURN_Z = np.diag([-1.0, -1.0, 1.0])
UP = np.array([0.0, 0.0, 1.0])
PLACE_YAWS_DEG = (45.0, -45.0, 90.0, -90.0)  # release yaws tried when the held one is out of reach


@dataclass
class Stage:
    name: str
    kind: str  # "gripper" | "move" | "cartesian" | "joints"
    pose: np.ndarray | None = None  # 4x4 TCP pose, base frame
    width: float | None = None
    joints: np.ndarray | None = None
    #: contact may stop this move short (approach onto, or lowering into, clutter): go on.
    may_stop_short: bool = False
    #: nothing in the hand and nothing below: a free move may replace the straight line.
    free_fallback: bool = False
    #: where a free move goes when not even that reaches ``pose`` (a retreat after a
    #: release falls back to the hover the arm came down from: it was reached before)
    fallback_pose: np.ndarray | None = None


@dataclass
class SkillResult:
    ok: bool
    skill: str
    stage: str = ""
    reason: str = ""
    grasp_width: float | None = None  # measured after closing (pick only)
    stages_done: list[str] = field(default_factory=list)

    @property
    def cancelled(self) -> bool:
        return self.reason == "cancelled"


def tilted(rotation: np.ndarray, tilt: float, away: np.ndarray) -> np.ndarray:
    """``rotation`` with its approach (z) leaned by ``tilt`` rad about its closing axis (y,
    made horizontal) towards the horizontal direction ``away``."""
    if tilt == 0.0:
        return rotation
    y = np.array([rotation[0, 1], rotation[1, 1], 0.0])
    y /= max(np.linalg.norm(y), 1e-9)
    h = np.cross(y, UP)
    if np.dot(h, away) < 0:
        h = -h
    z = -np.cos(tilt) * UP + np.sin(tilt) * h
    return np.column_stack([np.cross(y, z), y, z])


def _shift(pose: np.ndarray, offset: np.ndarray) -> np.ndarray:
    out = pose.copy()
    out[:3, 3] = pose[:3, 3] + offset
    return out


def pre_grasp_pose(grasp_pose: np.ndarray, cfg: ExecutorConfig) -> np.ndarray:
    return _shift(grasp_pose, -grasp_pose[:3, 2] * cfg.motion.approach_distance)


def pick_stages(grasp_pose: np.ndarray, open_width: float, close_width: float,
                cfg: ExecutorConfig, hover: bool = False) -> list[Stage]:
    """``hover``: reach the pre-grasp from ``motion.pregrasp_hover`` above it, on a line."""
    pre = pre_grasp_pose(grasp_pose, cfg)
    lift = _shift(grasp_pose, UP * cfg.motion.lift_distance)
    to_pre = [Stage("move to pre-grasp", "move", pose=pre)]
    if hover:
        to_pre = [Stage("move above pre-grasp", "move",
                        pose=_shift(pre, UP * cfg.motion.pregrasp_hover)),
                  Stage("move to pre-grasp", "cartesian", pose=pre)]
    return [Stage("open gripper", "gripper", width=open_width),
            *to_pre,
            Stage("approach", "cartesian", pose=grasp_pose, may_stop_short=True),
            Stage("close gripper", "gripper", width=close_width),
            Stage("lift", "cartesian", pose=lift)]


def place_stages(release_pose: np.ndarray, cfg: ExecutorConfig,
                 release_width: float | None = None) -> list[Stage]:
    above = _shift(release_pose, UP * cfg.motion.place_hover)
    return [Stage("move above target", "move", pose=above),
            Stage("lower", "cartesian", pose=release_pose, may_stop_short=True),
            Stage("open gripper", "gripper", width=release_width or cfg.gripper.open_width),
            # let go already: a hand that brushes the object or a wall backing out goes on
            Stage("retreat", "cartesian", pose=retreat_pose(release_pose, cfg),
                  may_stop_short=True, free_fallback=True, fallback_pose=above)]


def retreat_pose(release_pose: np.ndarray, cfg: ExecutorConfig) -> np.ndarray:
    """Straight up after letting go, the way the hand came down from the hover. Backing out
    along a tilted hand's axis swept a G1 hand sideways at the height of the container
    beside the spot, and the move home then dragged the container along."""
    return _shift(release_pose, UP * cfg.motion.retreat_distance)


def home_stages(home_q: np.ndarray) -> list[Stage]:
    return [Stage("move home", "joints", joints=np.asarray(home_q, dtype=float))]


class SkillExecutor:
    """Runs stage lists on one backend; every motion passes the planner's and the
    backend's envelope checks."""

    def __init__(self, cfg: ExecutorConfig, planner: MotionPlanner, backend: Backend) -> None:
        self.cfg = cfg
        self.planner = planner
        self.backend = backend

    # ---- grasp selection -------------------------------------------------------------
    def best_grasp_rotation(self, rotation: np.ndarray, position: np.ndarray,
                            alternatives: list[np.ndarray] = ()) -> np.ndarray:
        """Of the two symmetric jaw orientations, the one the wrist reaches with less turn;
        when neither is reachable top-down (short arms, e.g. G1), the approach is tilted
        by ``motion.grasp_tilts`` (radians) until grasp and pre-grasp both solve."""
        found = self.reachable_rotation(
            rotation, position, lambda pose: -pose[:3, 2] * self.cfg.motion.approach_distance,
            symmetric=True, alternatives=alternatives)
        return rotation if found is None else found

    def reachable_rotation(self, rotation: np.ndarray, position: np.ndarray, offset,
                           symmetric: bool, alternatives: list[np.ndarray] = ()
                           ) -> np.ndarray | None:
        """A rotation near ``rotation`` for which the pose at ``position`` and the pose
        shifted by ``offset(pose)`` both have IK solutions (None if there is none).
        Tilts turn the approach about the jaws' closing axis, leaning away from the base."""
        q0 = self.backend.joint_positions()
        groups = [[b @ f for f in (np.eye(3), HALF_TURN_Z)] if symmetric else [b]
                  for b in (rotation, *alternatives)]
        away = np.array([position[0], position[1], 0.0])
        for tilt in self.cfg.motion.grasp_tilts:
            for options in groups:  # the preferred jaw direction first
                best, best_cost = None, np.inf
                for r in options:
                    pose = np.eye(4)
                    pose[:3, :3], pose[:3, 3] = tilted(r, tilt, away), position
                    other = pose.copy()
                    other[:3, 3] += offset(pose)
                    # the order the stages run: free move to ``other``, then the line
                    q_other = self.planner.kin.solve(other, q0)
                    if q_other is None:
                        continue
                    q = self.planner.kin.solve(pose, q_other)
                    if q is None:
                        continue
                    cost = float(np.sum(np.abs(q_other - q0)))
                    if cost < best_cost:
                        best, best_cost = pose[:3, :3], cost
                if best is not None:
                    return best
        return None

    # ---- skills ----------------------------------------------------------------------
    def pick(self, grasp_pose: np.ndarray, object_width: float | None,
             cancel: threading.Event) -> SkillResult:
        g = self.cfg.gripper
        open_w = g.open_width
        if object_width is not None:
            open_w = float(np.clip(object_width + 0.03, g.closed_width, g.open_width))
        stages = pick_stages(grasp_pose, open_w, g.closed_width, self.cfg,
                             hover=self._hover_reachable(grasp_pose))
        result = self.run("pick", stages, cancel)
        if not result.ok:
            return result
        width = self.backend.gripper_width()
        result.grasp_width = width
        # jaws far narrower than the object: they slid off it or closed on something else
        min_width = max(g.min_holding_width, 0.5 * object_width if object_width else 0.0)
        if width < min_width:
            return SkillResult(False, "pick", "close gripper",
                               f"grasp failed: the jaws closed to {width * 1000:.1f} mm "
                               f"(holding needs >= {min_width * 1000:.1f} mm)", width,
                               result.stages_done)
        return result

    def _hover_reachable(self, grasp_pose: np.ndarray) -> bool:
        """Whether the arm can come down onto the pre-grasp from ``pregrasp_hover`` above and
        approach from there (solved in the order the stages run); otherwise it moves to the
        pre-grasp directly."""
        if self.cfg.motion.pregrasp_hover <= 0:
            return False
        pre = pre_grasp_pose(grasp_pose, self.cfg)
        return self._reached_in_order(_shift(pre, UP * self.cfg.motion.pregrasp_hover),
                                      pre, grasp_pose) is not None

    def _reached_in_order(self, free_to: np.ndarray, *lines: np.ndarray) -> np.ndarray | None:
        """The joints after a free move to ``free_to`` and straight lines on through
        ``lines``, each solved from the last (the order the stages run: near its range's
        edge the IK solves a pose from one seed and not from a nearby one); None where one
        has no plan."""
        q = self.planner.kin.solve(free_to, self.backend.joint_positions())
        try:
            for pose in lines:
                if q is None:
                    return None
                q = self.planner.cartesian_move(q, pose).positions[-1]
        except (PlanningError, EnvelopeViolation):
            return None
        return q

    def release_rotation(self, release_pose: np.ndarray) -> np.ndarray | None:
        """The hand's rotation for a release at this pose and the hover above it, or None
        when the arm reaches neither as held nor yawed. What is set down keeps its tilt;
        its yaw may turn (a short arm close to its body cannot always keep it)."""
        yawed = [Rotation.from_euler("z", a).as_matrix() @ release_pose[:3, :3]
                 for a in np.deg2rad(PLACE_YAWS_DEG)]
        return self.reachable_rotation(
            release_pose[:3, :3], release_pose[:3, 3],
            lambda _p: UP * self.cfg.motion.place_hover, symmetric=False, alternatives=yawed)

    def place(self, release_pose: np.ndarray, cancel: threading.Event,
              object_width: float | None = None, spots: list[np.ndarray] = ()
              ) -> SkillResult:
        """Releases at ``release_pose``, or at the first of ``spots`` (other xy positions
        where the place relation holds too) inside the workspace box that the arm reaches,
        when it cannot reach that one (if none is, the first is tried and fails with why).
        Opens only a little wider than the object (when its width is known) so the fingers do
        not sweep into a container's walls or neighbouring objects."""
        i, pose, _ = self.release_spot(release_pose, spots)
        if i:
            log.info("place: %s out of reach, releasing at the alternative %s",
                     np.round(release_pose[:2, 3], 3), np.round(pose[:2, 3], 3))
        g = self.cfg.gripper
        release_width = None
        if object_width is not None:
            # wider than the jaws hold it now too: an object grasped across its long side
            # stayed in a hand opened to its narrow side + 2.5 cm, and went home with it
            held = max(object_width, self.backend.gripper_width())
            release_width = float(np.clip(held + 0.025, g.closed_width, g.open_width))
        return self.run("place", place_stages(pose, self.cfg, release_width), cancel)

    def release_spot(self, release_pose: np.ndarray, spots: list[np.ndarray] = ()
                     ) -> tuple[int, np.ndarray, bool]:
        """(index, pose, reachable): of ``release_pose`` and the xy ``spots`` after it, the
        first inside the workspace box whose whole place chain solves (``reachable``); else
        the first with a release rotation, else the first as given (the place then fails
        and says why). The task runner asks it too, to choose the arm that places."""
        candidates = [release_pose[:2, 3].copy(), *(np.asarray(p[:2], float) for p in spots)]
        first = None  # (index, pose): the first reached; one it can also leave wins
        for i, xy in enumerate(candidates):
            pose = release_pose.copy()
            pose[:2, 3] = xy
            if self.planner.envelope.point_problem(pose[:3, 3]):
                continue  # the arm may reach it, but the envelope forbids going there
            rotation = self.release_rotation(pose)
            if rotation is None:
                continue
            pose[:3, :3] = rotation
            first = first or (i, pose)
            if self._place_reachable(pose):
                return i, pose, True
        return (*(first or (0, release_pose.copy())), False)

    def _place_reachable(self, release: np.ndarray) -> bool:
        """The arm reaches the hover, lowers on a line to the release and backs out of it,
        each from the last (the order the stages run): it must not be left stuck at a spot
        its IK reaches only at the edge of its range."""
        q = self._reached_in_order(_shift(release, UP * self.cfg.motion.place_hover), release)
        return q is not None and \
            self.planner.kin.solve(retreat_pose(release, self.cfg), q) is not None

    def home(self, cancel: threading.Event) -> SkillResult:
        """A joint move home; where that line leaves the envelope (a G1 arm unfolding while
        its waist turns back swings the hand above the box), the arm's own joints and the
        joints it shares with another arm go home one after the other, either way round."""
        home_q = self.planner.kin.home
        result = self.run("home", home_stages(home_q), cancel)
        shared = self.shared_joints()
        if result.ok or result.cancelled or not shared.any():
            return result
        for first in (~shared, shared):
            q = self._start_state()
            mid = np.where(first, home_q, q)
            retry = self.run("home", [Stage("move home", "joints", joints=mid),
                                      *home_stages(home_q)], cancel)
            if retry.ok or retry.cancelled:
                if retry.ok:
                    log.info("home: %s; went home in two moves", result.reason)
                return retry
        return result

    def shared_joints(self) -> np.ndarray:
        """Which of this arm's joints other arms move too (G1's waist)."""
        kin = self.planner.kin
        others = {j for name, g in kin.robot.groups.items() if name != kin.group.name
                  for j in g.joints}
        return np.array([j in others for j in kin.joint_names], dtype=bool)

    def tuck(self, cancel: threading.Event) -> SkillResult:
        """The idle arm out of the way of a turning waist (see ``ArmKinematics.tucked``)."""
        q = self.planner.kin.tucked(self._start_state())
        if q is None:
            return SkillResult(False, "tuck", "tuck", "this robot has no tuck pose")
        return self.run("tuck", [Stage("tuck", "joints", joints=q)], cancel)

    def run(self, skill: str, stages: list[Stage], cancel: threading.Event) -> SkillResult:
        done: list[str] = []
        for stage in stages:
            if cancel.is_set():
                return SkillResult(False, skill, stage.name, "cancelled", stages_done=done)
            try:
                outcome = self._stage(stage, cancel)
            except (PlanningError, EnvelopeViolation) as exc:
                return SkillResult(False, skill, stage.name, str(exc), stages_done=done)
            if not outcome.ok and not (stage.may_stop_short and
                                       outcome.reason.startswith("goal not reached")):
                return SkillResult(False, skill, stage.name, outcome.reason, stages_done=done)
            done.append(stage.name)
        return SkillResult(True, skill, stages_done=done)

    def _start_state(self) -> np.ndarray:
        """The measured joints, pulled back into the envelope's range when physics pushed
        a joint past a limit by less than ``start_tolerance`` (a held object pressing on
        the wrist): the plan starts at the limit instead of being refused."""
        q = self.backend.joint_positions()
        env = self.planner.envelope
        inside = np.clip(q, env.lower, env.upper)
        return inside if np.max(np.abs(inside - q)) <= env.cfg.start_tolerance else q

    def _stage(self, stage: Stage, cancel: threading.Event):
        if stage.kind == "gripper":
            return self.backend.set_gripper(stage.width, cancel)
        q0 = self._start_state()
        traj = None
        if stage.kind in ("move", "cartesian"):
            traj = self.backend.plan_to_pose(q0, stage.pose, stage.kind == "cartesian")
            if traj is None:
                if stage.kind == "move":
                    traj = self.planner.pose_move(q0, stage.pose, stage.name)
                else:
                    try:
                        traj = self.planner.cartesian_move(q0, stage.pose, stage.name)
                    except PlanningError:
                        if not stage.free_fallback:
                            raise
                        try:
                            traj = self.planner.pose_move(q0, stage.pose, stage.name)
                        except PlanningError as exc:
                            if stage.fallback_pose is None:
                                raise
                            log.info("%s: %s; moving to its fallback pose", stage.name, exc)
                            traj = self.planner.pose_move(q0, stage.fallback_pose, stage.name)
        elif stage.kind == "joints":
            traj = self.planner.joint_move(q0, stage.joints, stage.name)
        else:
            raise ValueError(f"unknown stage kind {stage.kind!r}")
        return self.backend.execute(traj, cancel)
