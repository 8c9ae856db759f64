"""End to end across processes: MuJoCo sim node -> perception node -> result.

The sim node renders its RealSense and publishes ground truth (/sim/objects: object
poses and box extents in the base frame) and /sim/camera_pose; the perception node
takes its camera->base transform from that topic and runs on sim time. For three scenes
(seeds, switched with /sim/reset) every graspable object with a unique colour+category
is asked for ("the red block").

The referred point is on the object's *visible surface*, not at its centre, so the
honest check is: the 3D point in the base frame lies within 2 cm of the object's
ground-truth solid (its oriented bounding box; 0 inside). That bounds its horizontal
distance from the centre by half the footprint diagonal + 2 cm.

Two error sources are kept apart. The *referrer* may pick the wrong object; the *depth
path* (sync, depth query/refinement, back-projection, extrinsics) must put whatever pixel
was picked in the right place. So for every answer the camera ray through the answer is
cast against the ground-truth boxes: the 3D point must lie within 2 cm of the first box
that ray hits (or on the table when it hits none) - always; and when that box is the
target (the referrer was right), the answer is within 2 cm of the target. At least
two thirds of all instructions must be answered on target.
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from ros_harness import NodeProcess, RosTestContext, wait_for
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import Image
from std_msgs.msg import Int32, String
from test_perception_node import Operator

from spatial_ros.perception.referrers import resolve_checkpoint

pytestmark = [pytest.mark.ros, pytest.mark.slow]
SEEDS = (0, 1, 2)
TOLERANCE_M = 0.02


def obb_distance(point, obj) -> float:
    """Distance from a base-frame point to the object's oriented box (0 inside)."""
    rot = Rotation.from_quat(obj["quat_xyzw"])
    local = rot.inv().apply(np.asarray(point) - np.asarray(obj["position"]))
    excess = np.abs(local) - np.asarray(obj["size"]) / 2
    return float(np.linalg.norm(np.maximum(excess, 0.0)))


def first_hit(origin, direction, objects) -> tuple[dict | None, float]:
    """The first ground-truth box a ray hits (slab test) and the ray parameter there."""
    best, best_t = None, np.inf
    for obj in objects:
        rot = Rotation.from_quat(obj["quat_xyzw"]).inv()
        o = rot.apply(np.asarray(origin) - np.asarray(obj["position"]))
        d = rot.apply(np.asarray(direction))
        half = np.asarray(obj["size"]) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = (-half - o) / d, (half - o) / d
        t_near = np.nanmax(np.minimum(t1, t2))
        t_far = np.nanmin(np.maximum(t1, t2))
        if t_far >= max(t_near, 0.0) and t_near < best_t:
            best, best_t = obj, float(t_near)
    return best, best_t


def check_answer(res: dict, target: dict, truth: dict) -> tuple[bool, bool, float]:
    """(on_target, depth_path_ok, distance to the target box)."""
    cam = np.asarray(truth["camera_pose"])
    point = np.asarray(res["point_base"])
    hit, _ = first_hit(cam[:3, 3], point - cam[:3, 3], truth["objects"])
    if hit is None:
        path_ok = abs(point[2] - truth["table_top_z"]) <= TOLERANCE_M
    else:
        path_ok = obb_distance(point, hit) <= TOLERANCE_M
    on_target = hit is not None and hit["id"] == target["id"]
    return on_target, path_ok, obb_distance(point, target)


def _has_checkpoint() -> bool:
    try:
        resolve_checkpoint("")
    except FileNotFoundError:
        return False
    return True


class SimWatcher:
    def __init__(self, node) -> None:
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.truth: dict | None = None
        self.frames_since_truth = 0
        # sim time restarts on /sim/reset: frames stamped below the old scene's last stamp are
        # the new scene's; the newest of them bounds what an answer from the new scene uses
        self.last_stamp_ns = 0
        self.old_scene_last_ns: int | None = None
        self.new_scene_max_ns = 0
        self.lock = threading.Lock()
        node.create_subscription(String, "/sim/objects", self._on_truth, reliable)
        node.create_subscription(Image, "/camera/camera/color/image_raw", self._on_image,
                                 qos_profile_sensor_data)
        self.reset = node.create_publisher(Int32, "/sim/reset", reliable)

    def _on_truth(self, msg: String) -> None:
        data = json.loads(msg.data)
        with self.lock:
            if self.truth is None or data["seed"] != self.truth["seed"]:
                self.frames_since_truth = 0
                if self.truth is not None:
                    self.old_scene_last_ns, self.new_scene_max_ns = self.last_stamp_ns, 0
            self.truth = data

    def _on_image(self, msg) -> None:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        with self.lock:
            self.frames_since_truth += 1
            self.last_stamp_ns = stamp
            if self.old_scene_last_ns is not None and stamp < self.old_scene_last_ns:
                self.new_scene_max_ns = max(self.new_scene_max_ns, stamp)

    def from_new_scene(self, res: dict) -> bool:
        """Whether an answer used a frame of the scene after the last reset."""
        with self.lock:
            return self.old_scene_last_ns is None or res["stamp_ns"] <= self.new_scene_max_ns

    def scene(self, seed: int, timeout: float = 60.0) -> dict:
        """Switches the sim to ``seed``; returns its ground truth once 5 frames of it were seen."""
        with self.lock:
            current = self.truth["seed"] if self.truth else None
        if current != seed:
            self.reset.publish(Int32(data=seed))

        def ready() -> bool:
            with self.lock:
                return (self.truth is not None and self.truth["seed"] == seed
                        and self.frames_since_truth >= 5)

        assert wait_for(ready, timeout=timeout), f"sim did not switch to seed {seed}"
        with self.lock:
            return self.truth


def unique_graspable(truth: dict) -> list[dict]:
    keys = [(o["colour"], o["category"]) for o in truth["objects"]]
    return [o for o, k in zip(truth["objects"], keys, strict=True)
            if o["graspable"] and keys.count(k) == 1]


NONSENSE = "qwv zzk plonk"


def run_scenes(referrer: str, robot: str = "none", extra_questions: tuple[str, ...] = ()
               ) -> tuple[list[tuple[int, str, float, dict]], dict[str, dict]]:
    """Every unique graspable object of the seeds asked for by name, then each of
    ``extra_questions`` on the last scene: (per-object results, {question: result})."""
    out, extra = [], {}
    with RosTestContext() as ctx:
        node = ctx.node("e2e_driver")
        sim = SimWatcher(node)
        operator = Operator(node)
        # robot:=none: the arm and its base are distractors the geometric baseline takes
        # for objects (reported to its owner); this test is about the perception path
        sim_args = ["--ros-args", "--params-file", "config/sim.yaml", "-r", "__node:=sim",
                    "-p", f"seed:={SEEDS[0]}", "-p", f"robot:={robot}"]
        perception_args = ["--ros-args", "--params-file", "config/perception.yaml",
                           "-p", "use_sim_time:=true", "-p", f"referrer:={referrer}",
                           "-p", "extrinsics_topic:=/sim/camera_pose",
                           # the CPU renderer lags sim time on a loaded 2-core machine
                           "-p", "max_frame_age_s:=10.0"]
        with NodeProcess("spatial_ros.nodes.sim_node", *sim_args) as sim_proc, \
                NodeProcess("spatial_ros.nodes.perception_node", *perception_args) as proc:
            assert wait_for(lambda: "perception ready" in proc.output(), 90.0), proc.output()
            if referrer == "model":  # compiling the model: a minute the first time here
                assert wait_for(lambda: "model warmed up" in proc.output(), 300.0), \
                    proc.output()
            assert wait_for(lambda: operator.pub.get_subscription_count() > 0, 20.0)
            for seed in SEEDS:
                truth = sim.scene(seed)
                time.sleep(0.5)
                for obj in unique_graspable(truth):
                    text = f"the {obj['colour']} {obj['category']}"
                    res = operator.ask(text, timeout=60.0)
                    for _ in range(50):  # until perception has a frame from after the reset
                        if res["error"] is not None or sim.from_new_scene(res):
                            break
                        time.sleep(0.2)
                        res = operator.ask(text, timeout=60.0)
                    assert res["error"] is None, (res, proc.output()[-2000:])
                    assert res["base_frame"] == "base_link"
                    out.append((seed, text, *check_answer(res, obj, truth), res))
            for text in extra_questions:
                extra[text] = operator.ask(text, timeout=60.0)
            assert proc.alive(), proc.output()
            assert sim_proc.alive(), sim_proc.output()
    return out, extra


def _report(results) -> str:
    return "\n".join(f"seed {s} {t!r}: {'on' if on else 'NOT on'} target, depth path "
                     f"{'ok' if ok else 'WRONG'}, {d * 100:.1f} cm from the target box, "
                     f"point_base {np.round(r['point_base'], 3).tolist()}"
                     for s, t, on, ok, d, r in results)


def _check_depth_path(results) -> None:
    assert len(results) >= 6, _report(results)
    assert all(ok for _, _, _, ok, _, _ in results), _report(results)
    on_target = [d for _, _, on, _, d, _ in results if on]
    assert all(d <= TOLERANCE_M for d in on_target), _report(results)
    print(_report(results))


def _check_on_target(results) -> None:
    on_target = [d for _, _, on, _, d, _ in results if on]
    assert len(on_target) >= 2 * len(results) / 3, _report(results)


def test_geometric_referrer_points_lie_on_the_objects():
    results, _ = run_scenes("geometric")
    _check_depth_path(results)
    _check_on_target(results)


needs_checkpoint = pytest.mark.skipif(
    not _has_checkpoint(), reason="the shipped checkpoint (spatial_ros/checkpoints) is absent")


@pytest.fixture(scope="module")
def model_run():
    return run_scenes("model", extra_questions=(NONSENSE,))


@pytest.fixture(scope="module")
def model_results(model_run):
    return model_run[0]


@needs_checkpoint
def test_model_answers_are_placed_correctly_in_3d(model_results):
    """Whatever object the model points at, the answer's 3D point is on it (or on the
    table), and answers on the target are within 2 cm of it."""
    _check_depth_path(model_results)


@needs_checkpoint
def test_model_refers_to_the_target(model_results):
    _check_on_target(model_results)


@needs_checkpoint
def test_the_node_serves_the_model_with_the_attribute_check(model_results):
    """config/perception.yaml turns the check on: every answer says what it checked (the
    colour and kind asked for) and whether the model's own answer fitted them."""
    for _, text, *_, res in model_results:
        check = res["check"]
        assert check is not None and f"the {check['wanted']}" == text, res
        assert isinstance(check["model_fits"], bool) and check["source"] in ("model",
                                                                             "perception")


@needs_checkpoint
def test_the_node_refuses_words_that_ask_nothing_of_the_scene(model_run):
    """Gibberish published to the running node comes back as an error saying why, with no
    3D target or grasp for a robot to act on, and the node keeps serving (the model's
    instruction gate; config/perception.yaml min_instruction_score)."""
    res = model_run[1][NONSENSE]
    assert "does not read as a request about the scene" in res["error"], res
    assert res["instruction_score"] < 0.5 and res["grasp_base"] is None
    assert res["point_base"] is None and res["request_id"]
