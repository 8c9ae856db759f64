"""One simulated work cell in-process: MuJoCo world, simulated RealSense, perception pipeline
and executor stacks, wired exactly as the nodes wire them but without DDS in between.

Used by `spatial-ros demo` and bench/bench_executor.py; the ROS path (sim_node +
perception_node + executor_node) runs the same pipeline, grounder and runner code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from spatial_ros.data import relations
from spatial_ros.execution.grounding import PerceptionGrounder, pipeline_asker, world_scene


@dataclass
class SceneTask:
    kind: str  # pick | pick_place | multi_step
    instruction: str
    check: Callable[[], bool]  # judged from the physics state, independent of the runner


def _name(o) -> str:
    return f"the {o.colour} {o.category}"


def graspable_items(world) -> list:
    """Objects every gripper here can close around (bowls and boxes are place-only)."""
    return [o for o in world.objects if o.graspable and max(o.size[:2]) < 0.075
            and min(o.size[:2]) < 0.07]


def make_task(world, kind: str, rng: np.random.Generator) -> SceneTask | None:
    """A task of ``kind`` this scene can pose (None when it lacks the objects)."""
    items = graspable_items(world)
    boxes = [o for o in world.objects if o.is_container]
    scene = world_scene(world)
    z0 = {o.id: float(o.pose[2, 3]) for o in world.objects}
    if kind == "pick":
        if not items:
            return None
        a = items[rng.integers(len(items))]
        return SceneTask(kind, f"pick up {_name(a)}",
                         lambda: world.object_pose(a.id)[2, 3] - z0[a.id] > 0.04)
    if not boxes or not items:
        return None
    box = boxes[rng.integers(len(boxes))]

    def inside(a) -> bool:
        g = scene()
        return relations.inside(g, g.by_id(a.id), g.by_id(box.id))

    if kind == "pick_place":
        a = items[rng.integers(len(items))]
        return SceneTask(kind, f"put {_name(a)} in {_name(box)}", lambda: inside(a))
    n = {"two_step": 2, "three_step": 3}.get(kind)
    if n is None:
        raise ValueError(f"unknown task kind '{kind}'")
    if len(items) < n:
        return None
    a, b, *rest = (items[i] for i in rng.permutation(len(items))[:n])

    def check() -> bool:
        g = scene()
        ok = inside(a) and relations.left_of(g, g.by_id(b.id), g.by_id(box.id))
        if rest:
            ok = ok and relations.right_of(g, g.by_id(rest[0].id), g.by_id(box.id))
        return ok

    text = f"put {_name(a)} in {_name(box)}, then put {_name(b)} to the left of {_name(box)}"
    if rest:
        text += f", then put {_name(rest[0])} to the right of {_name(box)}"
    return SceneTask(kind, text, check)


def perception_grounder(world, stack, referrer_kind: str, model_path: str = "",
                        on_result: Callable | None = None, noise_seed: int = 0,
                        attribute_check: bool = True):
    """(PerceptionGrounder, camera) answering on fresh simulated RealSense frames.

    ``on_result(frame, result)`` sees every perception answer (for overlays and reports).
    ``noise_seed`` > 0 draws other depth noise for the same scene (run-to-run spread).
    ``attribute_check``: the model's answers are checked (as the perception node does).
    """
    from spatial_ros.perception.extrinsics import CameraToBase
    from spatial_ros.perception.pipeline import PerceptionPipeline
    from spatial_ros.perception.referrers import load_referrer
    from spatial_ros.sim.camera import SimRealSense

    referrer, name = load_referrer(referrer_kind, model_path,
                                   attribute_check=attribute_check and referrer_kind == "model")
    cam = SimRealSense(world, seed=world.seed if noise_seed == 0 else [world.seed, noise_seed])
    base_inv = np.linalg.inv(world.base_pose)
    pipeline = PerceptionPipeline(referrer, referrer_name=name)
    last: dict = {}

    def frames():
        frame = cam.render(segmentation=False)
        pose = base_inv @ frame.camera_pose
        if hasattr(referrer, "set_camera_pose"):
            referrer.set_camera_pose(pose)
        last["frame"] = frame
        return frame.rgb, frame.depth_m, frame.intrinsics, CameraToBase.from_matrix(pose)

    ask = pipeline_asker(pipeline, frames)

    def ask_and_report(prompt: str):
        result = ask(prompt)
        if on_result is not None:
            on_result(last.get("frame"), result)
        return result

    return PerceptionGrounder.from_config(ask_and_report, stack.cfg), cam
