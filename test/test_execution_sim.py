"""Skills, runner, envelope and cancel on real MuJoCo physics (in-process sim backend)."""

from __future__ import annotations

import threading

import mujoco
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spatial_ros.execution.assembly import inprocess_stack, inprocess_stacks
from spatial_ros.execution.config import load_executor_config
from spatial_ros.execution.grounding import AnchorView, GroundTruthGrounder, Target
from spatial_ros.execution.outcome import GroundTruthObserver
from spatial_ros.execution.planner import PlanningError
from spatial_ros.execution.safety import EnvelopeViolation
from spatial_ros.execution.task_runner import TaskRunner
from spatial_ros.sim.world import build_world


def _setup(robot: str, seed: int, **kw):
    world = build_world(robot=robot, seed=seed)
    stack = inprocess_stack(load_executor_config(robot), world, **kw)
    return world, stack


def _phrase(o) -> str:
    return f"the {o.colour} {o.category}"


def _runner(world, stack, statuses=None, grounder=None):
    cb = statuses.append if statuses is not None else None
    return TaskRunner(stack, grounder or GroundTruthGrounder(world), GroundTruthObserver(world),
                      on_status=cb)


@pytest.mark.parametrize("robot", ["ur5", "franka"])
def test_pick_and_place_into_container_in_physics(robot):
    world, stack = _setup(robot, seed=0)
    box = next(o for o in world.objects if o.is_container)
    item = next(o for o in world.objects if o.graspable and o.category in ("cube", "block"))
    statuses: list[dict] = []
    report = _runner(world, stack, statuses).run(
        f"pick {_phrase(item)} and put it in {_phrase(box)}", task_id="t1")
    assert report.ok, report
    assert report.placed == [item.id]
    base_inv = np.linalg.inv(world.base_pose)
    p = (base_inv @ world.object_pose(item.id))[:3, 3]
    b = (base_inv @ world.object_pose(box.id))[:3, 3]
    assert np.all(np.abs(p[:2] - b[:2]) < np.asarray(box.size[:2]) / 2)  # inside, by physics
    assert [s["state"] for s in statuses][-1] == "done" and statuses[-1]["id"] == "t1"


def test_three_step_task_stack_then_next_to():
    world, stack = _setup("ur5", seed=0)
    small = [o for o in world.objects if o.graspable and o.category in ("cube", "block")]
    assert len(small) >= 3
    a, b, c = small[:3]
    text = f"stack {_phrase(a)} on {_phrase(b)}, then put {_phrase(c)} next to them"
    report = _runner(world, stack).run(text)
    assert report.ok, report
    assert report.completed == 4
    base_inv = np.linalg.inv(world.base_pose)
    pa, pb = ((base_inv @ world.object_pose(o.id))[:3, 3] for o in (a, b))
    assert pa[2] > pb[2] + 0.02 and np.linalg.norm(pa[:2] - pb[:2]) < 0.04  # a is on b


@pytest.mark.parametrize("observe_from", ["here", "home"])
def test_the_next_pick_is_asked_with_the_arm_home_when_so_configured(observe_from):
    """``runner.observe_from: home``: before perception is asked what to pick next, the arm
    (empty-handed after the place) goes home, so the frame shows the scene as the model
    learnt it; ``here`` asks from wherever the arm stopped (the default)."""
    world = build_world(robot="ur5", seed=0)
    cfg = load_executor_config("ur5")
    cfg.runner.observe_from = observe_from
    stack = inprocess_stack(cfg, world)
    grounder = GroundTruthGrounder(world)
    asked_at: list[float] = []  # distance of the arm from home at each pick question
    locate = grounder.locate

    def spying_locate(phrase):
        q = stack.backend.joint_positions()
        asked_at.append(float(np.max(np.abs(q - stack.kin.home))))
        return locate(phrase)

    grounder.locate = spying_locate
    box = next(o for o in world.objects if o.is_container)
    a, b = [o for o in world.objects if o.graspable and o.category in ("cube", "block")][:2]
    report = _runner(world, stack, grounder=grounder).run(
        f"put {_phrase(a)} in {_phrase(box)}, then put {_phrase(b)} to the left of "
        f"{_phrase(box)}")
    assert report.ok, report
    assert len(asked_at) == 2 and asked_at[0] < 0.02  # the first question: the arm starts home
    if observe_from == "home":
        assert asked_at[1] < 0.02
    else:
        assert asked_at[1] > 0.1  # still where the first place left it


def test_put_all_expands_over_every_match():
    world, stack = _setup("franka", seed=0)
    box = next(o for o in world.objects if o.is_container)
    colour = next(o.colour for o in world.objects if o.graspable)
    matches = [o.id for o in world.objects if o.graspable and o.colour == colour]
    report = _runner(world, stack).run(f"put all the {colour} objects in {_phrase(box)}")
    assert report.ok, report
    assert sorted(report.placed) == sorted(matches)


class _OffFirstTime:
    """Grounding that misses by 8 cm on its first answer (a perception error), then is right:
    the runner must notice the empty grasp and retry once on a fresh grounding."""

    def __init__(self, inner: GroundTruthGrounder) -> None:
        self.inner = inner
        self.calls = 0

    def locate(self, phrase: str) -> Target:
        t = self.inner.locate(phrase)
        self.calls += 1
        if self.calls == 1:
            t.position = t.position + np.array([0.0, 0.08, 0.0])
        return t

    def locate_all(self, phrase, exclude):
        return self.inner.locate_all(phrase, exclude)

    def place_target(self, relation, anchor, held_id):
        return self.inner.place_target(relation, anchor, held_id)


class _UnsureAfterThePick(_OffFirstTime):
    """Perception that answers the place question well with the hand empty (confidence 0.8)
    and, asked again once the object is held, points at the wrong container with 0.2; or
    with equal confidences, the answers read off a depth footprint or not (``footprints``:
    before the pick, after it)."""

    def __init__(self, inner: GroundTruthGrounder, wrong: str,
                 confidences=(0.8, 0.2), footprints=(False, False)) -> None:
        super().__init__(inner)
        self.wrong, self.place_calls = wrong, 0
        self.confidences, self.footprints = confidences, footprints

    def locate(self, phrase: str) -> Target:
        return self.inner.locate(phrase)

    def place_target(self, relation, anchor, held_id):
        self.place_calls += 1
        t = self.inner.place_target(relation, self.wrong if self.place_calls > 1 else anchor,
                                    held_id)
        later = self.place_calls > 1
        t.confidence, t.footprint = self.confidences[later], self.footprints[later]
        return t


@pytest.mark.parametrize("confidences, footprints, kept", [
    ((0.8, 0.2), (False, False), "before"),  # the surer answer
    ((1.0, 1.0), (True, True), "before"),  # a tie: the footprint read with the arm away
    ((1.0, 1.0), (True, False), "before"),
    ((1.0, 1.0), (False, True), "after"),  # a tie, but only the fresh answer has a footprint
])
def test_place_keeps_the_surer_answer_from_before_the_pick(confidences, footprints, kept):
    world, stack = _setup("franka", seed=0)
    boxes = [o for o in world.objects if o.is_container]
    item = next(o for o in world.objects if o.graspable and o.category in ("cube", "block"))
    grounder = _UnsureAfterThePick(GroundTruthGrounder(world), _phrase(boxes[1]),
                                   confidences, footprints)
    report = _runner(world, stack, grounder=grounder).run(
        f"put {_phrase(item)} in {_phrase(boxes[0])}")
    assert report.ok, report
    assert grounder.place_calls == 2  # asked again after the pick (closed loop)
    base_inv = np.linalg.inv(world.base_pose)
    p = (base_inv @ world.object_pose(item.id))[:3, 3]
    box = boxes[0] if kept == "before" else boxes[1]
    b = (base_inv @ world.object_pose(box.id))[:3, 3]
    assert np.all(np.abs(p[:2] - b[:2]) < np.asarray(box.size[:2]) / 2)


class _BadSpotFirst(_OffFirstTime):
    """A place answer whose first spot the arm must not use, with the ground-truth spot as
    its alternative: beyond reach (1.2 m out) or reachable but behind the workspace box."""

    def __init__(self, inner, where: str, box_min_x: float) -> None:
        super().__init__(inner)
        self.where, self.box_min_x = where, box_min_x

    def locate(self, phrase: str) -> Target:
        return self.inner.locate(phrase)

    def place_target(self, relation, anchor, held_id):
        t = self.inner.place_target(relation, anchor, held_id)
        bad = t.position.copy()
        if self.where == "far":
            bad[:2] = 1.2 * bad[:2] / np.linalg.norm(bad[:2])
        else:
            bad[:2] = [self.box_min_x - 0.05, 0.3]
        t.position, t.spots = bad, [t.position]
        return t


@pytest.mark.parametrize("where", ["far", "outside_box"])
def test_place_moves_to_an_alternative_spot_when_the_first_is_not_allowed(where):
    world, stack = _setup("franka", seed=0)
    box = next(o for o in world.objects if o.is_container)
    item = next(o for o in world.objects if o.graspable and o.category in ("cube", "block"))
    grounder = _BadSpotFirst(GroundTruthGrounder(world), where, stack.cfg.envelope.workspace_min[0])
    report = _runner(world, stack, grounder=grounder).run(
        f"put {_phrase(item)} in {_phrase(box)}")
    assert report.ok, report
    base_inv = np.linalg.inv(world.base_pose)
    p = (base_inv @ world.object_pose(item.id))[:3, 3]
    b = (base_inv @ world.object_pose(box.id))[:3, 3]
    assert np.all(np.abs(p[:2] - b[:2]) < np.asarray(box.size[:2]) / 2)


class _SeesTheHeldObjectAfterThePick(_OffFirstTime):
    """Perception that, asked where the anchor is once the object is held, points at the
    object in the hand (the model did, on a G1): the spot beside the anchor it reads off that
    answer (here: on the wrong side) lies on the table, but the anchor it saw is up in the
    hand."""

    def __init__(self, inner: GroundTruthGrounder, world, item) -> None:
        super().__init__(inner)
        self.world, self.item, self.place_calls = world, item, 0

    def locate(self, phrase: str) -> Target:
        return self.inner.locate(phrase)

    def place_target(self, relation, anchor, held_id):
        self.place_calls += 1
        if self.place_calls == 1:
            return self.inner.place_target(relation, anchor, held_id)
        # a spot on the other side: beside the held object's place, not the anchor's
        t = self.inner.place_target("right_of", anchor, held_id)
        held = np.linalg.inv(self.world.base_pose) @ self.world.object_pose(self.item.id)
        t.seen_at, t.spots = held[:3, 3].copy(), []
        return t


def test_place_beside_an_anchor_seen_in_the_hand_keeps_the_answer_from_before_the_pick():
    world, stack = _setup("franka", seed=0)
    box = next(o for o in world.objects if o.is_container)
    item = next(o for o in world.objects if o.graspable and o.category in ("cube", "block"))
    grounder = _SeesTheHeldObjectAfterThePick(GroundTruthGrounder(world), world, item)
    report = _runner(world, stack, grounder=grounder).run(
        f"put {_phrase(item)} to the left of {_phrase(box)}")
    assert report.ok, report
    assert grounder.place_calls == 2
    from spatial_ros.data import relations
    from spatial_ros.execution.grounding import world_scene

    g = world_scene(world)()
    assert relations.left_of(g, g.by_id(item.id), g.by_id(box.id))


class _ConfusedByTheFirstPlacement(_OffFirstTime):
    """Perception that sees the anchor right (and the attribute check confirms it) until the
    task has put something beside it; then it answers the same words on another container
    (``confirmed``: what the check said of that answer)."""

    def __init__(self, inner: GroundTruthGrounder, wrong: str, confirmed) -> None:
        super().__init__(inner)
        self.wrong, self.confirmed = wrong, confirmed
        self.place_calls, self.recalled = 0, []

    def locate(self, phrase: str) -> Target:
        return self.inner.locate(phrase)

    def _view(self, phrase: str, confirmed) -> AnchorView:
        a = self.inner._resolve(phrase, self.inner.graph())[0]
        return AnchorView(a.position.copy(), np.asarray(a.size[:2]), a.top,
                          a.position.copy(), confirmed=confirmed)

    def place_target(self, relation, anchor, held_id):
        self.place_calls += 1  # 1, 2: the first place (preview, fresh); 3, 4: the second
        seen = anchor if self.place_calls <= 2 else self.wrong
        t = self.inner.place_target(relation, seen, held_id)
        t.anchor_view = self._view(seen, True if seen == anchor else self.confirmed)
        return t

    def recall(self, relation, anchor, view):
        self.recalled.append((relation, anchor))
        t = self.inner.place_target(relation, anchor, None)
        t.anchor_view = view
        return t


@pytest.mark.parametrize("confirmed", [False, True])
def test_a_doubtful_anchor_answer_places_against_where_the_task_saw_it(confirmed):
    world, stack = _setup("franka", seed=0)
    boxes = [o for o in world.objects if o.is_container]
    a, b = [o for o in world.objects if o.graspable and o.category in ("cube", "block",
                                                                        "sphere")][:2]
    grounder = _ConfusedByTheFirstPlacement(GroundTruthGrounder(world), _phrase(boxes[1]),
                                            confirmed)
    anchor = _phrase(boxes[0])
    report = _runner(world, stack, grounder=grounder).run(
        f"put {_phrase(a)} to the left of {anchor}, then put {_phrase(b)} to the right of "
        f"{anchor}")
    assert report.ok, report
    assert grounder.place_calls == 4
    from spatial_ros.data import relations
    from spatial_ros.execution.grounding import world_scene

    g = world_scene(world)()
    beside = relations.right_of(g, g.by_id(b.id), g.by_id(boxes[0].id))
    if confirmed:  # the check found the words there: the anchor may have moved, it stands
        assert grounder.recalled == [] and not beside
    else:  # unlike the words and 6+ cm from before: the earlier view
        assert grounder.recalled == [("right_of", anchor)] and beside


def test_a_retreat_that_cannot_back_out_goes_to_its_fallback_pose():
    """After letting go the arm must get away even where the straight retreat has no IK:
    back up to the hover it came down from."""
    from spatial_ros.execution.skills import Stage

    _world, stack = _setup("ur5", seed=0)
    tcp = stack.kin.fk(stack.backend.joint_positions())
    nowhere, hover = tcp.copy(), tcp.copy()
    nowhere[:3, 3] = [0.93, 0.72, 0.05]  # inside the workspace box, beyond reach
    hover[:3, 3] += [0.0, 0.0, 0.05]
    stage = Stage("retreat", "cartesian", pose=nowhere, free_fallback=True, fallback_pose=hover)
    result = stack.skills.run("place", [stage], threading.Event())
    assert result.ok, result
    got = stack.kin.fk_position(stack.backend.joint_positions())
    assert np.linalg.norm(got - hover[:3, 3]) < 0.01
    stage.fallback_pose = None  # without one, the failure says why
    result = stack.skills.run("place", [stage], threading.Event())
    assert not result.ok and result.stage == "retreat" and "IK" in result.reason


def test_failed_grasp_is_retried_once_then_succeeds():
    world, stack = _setup("ur5", seed=0)
    item = next(o for o in world.objects if o.graspable and o.category == "cube")
    grounder = _OffFirstTime(GroundTruthGrounder(world))
    statuses: list[dict] = []
    report = _runner(world, stack, statuses, grounder).run(f"pick up {_phrase(item)}")
    assert report.ok, report
    assert report.retries == 1 and grounder.calls == 2
    assert any(s["state"] == "retrying" and "grasp failed" in s["error"] for s in statuses)


def test_unknown_object_and_bad_instruction_fail_with_reason_and_no_motion():
    world, stack = _setup("ur5", seed=1)
    runner = _runner(world, stack)
    report = runner.run("pick the purple unicorn")
    assert report.state == "failed" and "matches 0 objects" in report.error
    report = runner.run("sing a song")
    assert report.state == "failed" and "cannot understand" in report.error
    assert stack.backend.sent == []


def test_cancel_mid_motion_stops_within_100ms_of_sim_time():
    cancel = threading.Event()
    marks: dict[str, float] = {}

    def on_step(t: float) -> None:
        if "start" in marks and t - marks["start"] >= 0.4 and not cancel.is_set():
            marks["cancel"] = t
            cancel.set()

    _world, stack = _setup("ur5", seed=0, on_control_step=on_step)
    be = stack.backend
    q0 = be.joint_positions()
    q1 = q0 + np.array([0.8, 0.3, -0.3, 0.0, 0.0, 0.5])
    traj = stack.planner.joint_move(q0, q1)
    assert traj.duration > 1.0
    marks["start"] = be.now()
    result = be.execute(traj, cancel)
    assert result.cancelled
    assert be.cancel_seen_at - marks["cancel"] <= 0.0101  # seen within one control period
    speeds = []
    while be.now() < marks["cancel"] + 0.1:
        be.idle(be.control_dt)
        speeds.append(np.max(np.abs(be.joint_velocities())))
    assert speeds[-1] < 0.05, f"still moving {speeds[-1]:.3f} rad/s 100 ms after cancel"
    q_stop = be.joint_positions()
    be.idle(0.3)
    assert np.max(np.abs(be.joint_positions() - q_stop)) < 0.01  # and stays stopped
    assert np.max(np.abs(q_stop - q1)) > 0.2  # it really stopped short of the goal
    # a cancel that lands between two stages: the next command is never sent
    n = len(be.sent)
    assert be.execute(stack.planner.joint_move(q_stop, q1), cancel).cancelled
    assert be.set_gripper(0.02, cancel).cancelled
    assert len(be.sent) == n and np.max(np.abs(be.joint_positions() - q_stop)) < 0.01


# ---------------------------------------------------------------- envelope property
_WORLD, _STACK = None, None


def _shared():
    global _WORLD, _STACK
    if _STACK is None:
        _WORLD, _STACK = _setup("ur5", seed=2)
    return _WORLD, _STACK


def _independent_check(world, stack, q: np.ndarray) -> None:
    """Re-checks one commanded joint vector with the world model's own FK and the YAML
    numbers, sharing no code with SafetyEnvelope."""
    cfg = stack.cfg.envelope
    model = world.model
    data = mujoco.MjData(model)
    data.qpos[:] = world.data.qpos
    group = stack.backend.group
    for name, value in zip(group.joints, q, strict=True):
        jid = model.joint(name).id
        lo, hi = model.jnt_range[jid]
        assert lo - 1e-6 <= value <= hi + 1e-6, f"{name}={value} outside [{lo}, {hi}]"
        data.qpos[model.jnt_qposadr[jid]] = value
    mujoco.mj_kinematics(model, data)
    tcp_w = np.append(data.site(group.tcp_site).xpos, 1.0)
    tcp = (np.linalg.inv(world.base_pose) @ tcp_w)[:3]
    assert np.all(tcp >= np.asarray(cfg.workspace_min) - 1e-4), tcp
    assert np.all(tcp <= np.asarray(cfg.workspace_max) + 1e-4), tcp
    assert tcp[2] >= cfg.table_height + cfg.table_clearance - 1e-4, tcp


def _try_target(world, stack, xyz, cartesian: bool) -> bool:
    """Plans and runs a move to ``xyz``; re-checks whatever reached the actuators."""
    be = stack.backend
    n0 = len(be.commanded)
    pose = np.eye(4)
    pose[:3, :3] = np.diag([1.0, -1.0, -1.0])
    pose[:3, 3] = xyz
    q0 = be.joint_positions()
    try:
        if cartesian:
            traj = stack.planner.cartesian_move(q0, pose)
        else:
            traj = stack.planner.pose_move(q0, pose)
        be.execute(traj)
    except (PlanningError, EnvelopeViolation):
        pass
    for q in be.commanded[n0:]:
        _independent_check(world, stack, q)
    moved = len(be.commanded) > n0
    if moved:  # go back home so later examples start from anywhere sane
        stack.skills.home(threading.Event())
    return moved


_NEAR = st.tuples(st.floats(0.0, 1.0), st.floats(-0.8, 0.8), st.floats(-0.08, 0.95))
_WIDE = st.tuples(st.floats(-1.5, 1.5), st.floats(-1.5, 1.5), st.floats(-0.4, 1.4))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(xyz=st.one_of(_NEAR, _WIDE), cartesian=st.booleans())
def test_random_targets_never_command_outside_the_envelope(xyz, cartesian):
    """Targets in, near and far outside the workspace (incl. below the table clearance):
    whatever is sent is inside the envelope by an independent check."""
    world, stack = _shared()
    _try_target(world, stack, xyz, cartesian)


def test_boundary_targets_inside_run_and_outside_are_refused():
    world, stack = _shared()
    inside = [(0.5, 0.3, 0.013), (0.7, -0.4, 0.05), (0.3, -0.3, 0.5), (0.6, 0.45, 0.15)]
    outside = [(0.5, 0.3, 0.005), (0.97, 0.0, 0.3), (0.45, -0.77, 0.2), (0.4, 0.2, 0.93)]
    moved_in = [_try_target(world, stack, p, cartesian=False) for p in inside]
    moved_out = [_try_target(world, stack, p, cartesian=c) for p in outside
                 for c in (False, True)]
    assert sum(moved_in) >= 3, moved_in  # reachable ones inside the box really execute
    assert not any(moved_out)  # nothing beyond an edge is ever sent


def test_g1_uses_the_arm_on_the_objects_side():
    """G1 (two arms): the black cube on its right is picked with the right arm; the left
    arm is never commanded."""
    world = build_world(robot="g1", seed=1)
    stacks = inprocess_stacks(load_executor_config("g1"), world)
    assert [s.kin.group.name for s in stacks] == ["left_arm", "right_arm"]
    runner = TaskRunner(stacks, GroundTruthGrounder(world), GroundTruthObserver(world))
    report = runner.run("pick up the black cube")
    assert report.ok, report
    assert runner.stack.kin.group.name == "right_arm"
    assert stacks[0].backend.sent == []  # the left arm never moved
    z = (np.linalg.inv(world.base_pose) @ world.object_pose("black_cube_3"))[2, 3]
    assert z > -0.15 + 0.06  # held above the table (base frame: table top at -0.15)


def test_g1_places_near_its_body_by_turning_the_release_yaw():
    """Regression (G1 seed 5): the black box sits 22 cm in front of the pelvis, where the
    wrist cannot hold the grasp yaw; the release turns about the vertical instead of failing
    with "no IK solution"."""
    world = build_world(robot="g1", seed=5)
    stacks = inprocess_stacks(load_executor_config("g1"), world)
    runner = TaskRunner(stacks, GroundTruthGrounder(world), GroundTruthObserver(world))
    report = runner.run("put the blue sphere in the black box")
    assert report.ok, report
    box = next(o for o in world.objects if o.name.startswith("black_box"))
    ball = next(o for o in world.objects if o.name.startswith("blue_sphere"))
    inv = np.linalg.inv(world.base_pose)
    p, b = (inv @ world.object_pose(ball.id))[:3, 3], (inv @ world.object_pose(box.id))[:3, 3]
    assert np.all(np.abs(p[:2] - b[:2]) < np.asarray(box.size[:2]) / 2)  # inside, by physics


def test_g1_picks_with_the_arm_whose_place_skill_reaches_the_spot():
    """Regression (G1 seed 107): the spot left of the purple box (camera view: the robot's
    far right) passes neither arm's quick top-down reach test; the left arm, on the block's
    side, then took it and had no IK above any spot. The right arm's place skill reaches one
    (tilted, yawed), so the right arm picks."""
    world = build_world(robot="g1", seed=107)
    stacks = inprocess_stacks(load_executor_config("g1"), world)
    runner = TaskRunner(stacks, GroundTruthGrounder(world), GroundTruthObserver(world))
    report = runner.run("put the brown block to the left of the purple box")
    assert report.ok, report
    assert runner.stack.kin.group.name == "right_arm"
    from spatial_ros.data import relations
    from spatial_ros.execution.grounding import world_scene

    g = world_scene(world)()
    block, box = (next(o for o in g.objects if o.name.startswith(n))
                  for n in ("brown_block", "purple_box"))
    assert relations.left_of(g, block, box)


def test_g1_homes_the_last_arm_before_the_other_one_takes_over():
    """Regression (G1 seed 1): the right arm turned the shared waist to place on the left, so
    the left arm's hand stood behind the pelvis, outside the workspace, and its next pick
    was refused. The runner now sends the arm that worked last home before switching."""
    world = build_world(robot="g1", seed=1)
    stacks = inprocess_stacks(load_executor_config("g1"), world)
    runner = TaskRunner(stacks, GroundTruthGrounder(world), GroundTruthObserver(world))
    report = runner.run("put the brown sphere in the yellow box, then put the black cube to "
                        "the left of the yellow box, then put the red cube to the right of "
                        "the yellow box")
    assert report.ok, report
    left, right = stacks
    assert right.backend.sent and left.backend.sent  # both arms worked
    assert runner.stack is left
    ends = [t.positions[-1] for t in right.backend.sent]
    assert any(np.allclose(q, right.kin.home, atol=1e-6) for q in ends)
    # after that, only ever tucked out of the left arm's way (waist left as it is)
    arm = [k for k, n in enumerate(right.kin.joint_names) if not n.startswith("waist")]
    tucked = right.kin.tucked(right.kin.home)
    assert np.allclose(ends[-1], right.kin.home, atol=1e-6) or \
        np.allclose(ends[-1][arm], tucked[arm], atol=1e-6)


def _hands_in_box(stacks) -> bool:
    env = stacks[0].envelope
    return all(env.point_problem(st.kin.fk_position(st.backend.joint_positions())) is None
               for st in stacks)


def test_g1_waist_never_carries_the_idle_hand_out_of_the_workspace():
    """G1's waist belongs to both arm groups: the left arm turning it 1.75 rad swings the
    right hand (at home) behind the pelvis. The envelope refuses that; with the right arm
    tucked (hand on the midline in front of the chest) the same turn runs."""
    world = build_world(robot="g1", seed=1)
    left, right = inprocess_stacks(load_executor_config("g1"), world)
    q0 = left.backend.joint_positions()
    q1 = q0.copy()
    q1[left.kin.joint_names.index("waist_yaw_joint")] = -1.75
    with pytest.raises(EnvelopeViolation, match="carries the right_arm hand"):
        left.planner.joint_move(q0, q1, "turn")
    assert left.backend.sent == []
    assert right.skills.tuck(threading.Event()).ok
    outcome = left.backend.execute(left.planner.joint_move(q0, q1, "turn"))
    assert outcome.ok, outcome
    assert _hands_in_box([left, right])


def test_g1_tucks_the_idle_arm_to_place_across_its_body():
    """Regression (bench_executor G1 seed 7): the purple cylinder stands on the left, the
    yellow box on the right. The left arm carries it across, the waist turns ~1.5 rad, and
    the right arm (at home) would have been swung out of the workspace: it tucks first."""
    world = build_world(robot="g1", seed=7)
    stacks = inprocess_stacks(load_executor_config("g1"), world)
    left, right = stacks
    runner = TaskRunner(stacks, GroundTruthGrounder(world), GroundTruthObserver(world))
    report = runner.run("put the purple cylinder in the yellow box")
    assert report.ok, report
    assert runner.stack is left
    tucked = right.kin.tucked(right.kin.home)
    i = [k for k, n in enumerate(right.kin.joint_names) if not n.startswith("waist")]
    assert any(np.allclose(t.positions[-1][i], tucked[i], atol=1e-6)
               for t in right.backend.sent)
    assert _hands_in_box(stacks)


@pytest.mark.parametrize("seed, task, worker", [
    (7, "put the purple cylinder in the yellow box", "left_arm"),
    (19, "put the gray block in the gray bowl", "right_arm")])
def test_g1_clears_the_view_from_a_turned_waist_without_a_refused_move(caplog, seed, task,
                                                                       worker):
    """After one arm placed across the body (waist turned, the other arm tucked), both go home
    before the next question, the arm that worked first (it brings the waist back and carries
    the tucked hand safely), and nothing is refused on the way."""
    import logging

    world = build_world(robot="g1", seed=seed)
    stacks = inprocess_stacks(load_executor_config("g1"), world)
    runner = TaskRunner(stacks, GroundTruthGrounder(world), GroundTruthObserver(world))
    assert runner.run(task).ok
    assert runner.stack.kin.group.name == worker
    idle = next(st for st in stacks if st is not runner.stack)
    waist = runner.stack.kin.joint_names.index("waist_yaw_joint")
    assert abs(runner.stack.backend.joint_positions()[waist]) > 1.0  # really turned
    n_idle, n_worker = len(idle.backend.sent), len(runner.stack.backend.sent)
    with caplog.at_level(logging.WARNING, logger="spatial_ros.execution.task_runner"):
        runner._clear_view(threading.Event())
    assert "could not clear the view" not in caplog.text
    assert all(np.allclose(st.backend.joint_positions(), st.kin.home, atol=0.02)
               for st in stacks)
    assert (len(runner.stack.backend.sent), len(idle.backend.sent)) == (n_worker + 1, n_idle + 1)
    assert _hands_in_box(stacks)


class _AlwaysOffWithRetry(_OffFirstTime):
    """Perception whose grasp is always 8 cm off but which also reads a second grasp (the
    footprint's): re-grounding alone cannot fix the grasp, the retry grasp can."""

    def __init__(self, inner: GroundTruthGrounder, with_retry: bool) -> None:
        super().__init__(inner)
        self.with_retry = with_retry

    def locate(self, phrase: str) -> Target:
        right = self.inner.locate(phrase)
        t = self.inner.locate(phrase)
        self.calls += 1
        t.position = t.position + np.array([0.0, 0.08, 0.0])
        t.retry = right if self.with_retry else None
        return t


@pytest.mark.parametrize("with_retry", [True, False])
def test_retry_after_an_empty_grasp_uses_the_grounders_other_grasp(with_retry):
    world, stack = _setup("ur5", seed=0)
    item = next(o for o in world.objects if o.graspable and o.category == "cube")
    grounder = _AlwaysOffWithRetry(GroundTruthGrounder(world), with_retry)
    report = _runner(world, stack, grounder=grounder).run(f"pick up {_phrase(item)}")
    assert report.retries == 1 and grounder.calls == 2
    assert report.ok is with_retry, report


def test_g1_goes_home_in_two_moves_where_the_straight_one_leaves_the_box():
    """Unfolding the arm while the waist turns back swings a G1 hand reaching far left up
    above the workspace box; the arm's joints go home first, then the waist."""
    world = build_world(robot="g1", seed=0)
    stack = inprocess_stacks(load_executor_config("g1"), world)[0]
    far_left = np.eye(4)
    far_left[:3, :3], far_left[:3, 3] = np.diag([1.0, -1.0, -1.0]), [0.159, 0.449, 0.015]
    q_far = stack.kin.solve(far_left, stack.kin.home)
    shared = stack.skills.shared_joints()
    for goal in (np.where(shared, q_far, stack.kin.home), q_far):  # out the way that stays in
        traj = stack.planner.joint_move(stack.backend.joint_positions(), goal)
        assert stack.backend.execute(traj, threading.Event()).ok
    q = stack.backend.joint_positions()
    with pytest.raises(EnvelopeViolation, match="outside the workspace box"):
        stack.planner.joint_move(q, stack.kin.home)
    result = stack.skills.home(threading.Event())
    assert result.ok, result
    assert np.max(np.abs(stack.backend.joint_positions() - stack.kin.home)) < 0.05
    for t, point in enumerate(stack.backend.sent[-1].positions):
        assert not stack.planner.envelope.point_problem(stack.kin.fk_position(point)), t


def test_g1_lets_go_of_a_block_held_across_its_long_side():
    """Regression (G1 seed 2): the white block, grasped across its 7 cm side, was released
    with the jaws opened to its 4.5 cm side + 2.5 cm (7.0 cm), stayed in the hand and went
    home with it. The jaws now open wider than they hold."""
    world = build_world(robot="g1", seed=2)
    stacks = inprocess_stacks(load_executor_config("g1"), world)
    runner = TaskRunner(stacks, GroundTruthGrounder(world), GroundTruthObserver(world))
    report = runner.run("put the white block to the left of the pink bowl")
    assert report.ok, report
    for arm in stacks:
        arm.skills.home(threading.Event())
    block = next(o for o in world.objects if o.name.startswith("white_block"))
    z = (np.linalg.inv(world.base_pose) @ world.object_pose(block.id))[2, 3]
    assert z < -0.15 + 0.03  # on the table (base frame: table top at -0.15), not in the hand
