"""Referring samples from the executor's own frames: seeded tasks run in the sim with
ground-truth grounding, one frame kept each time the task runner asks where something is.

Why: the fresh scenes of ``sim_scene`` are new layouts seen from random cameras. The frames
the shipped model misreads most are mid-task: the executor's fixed camera, the arm parked at
home or holding an object, objects already in containers or beside each other (docs/model.md,
"Nineteenth session"). A rollout here is one ``bringup.sim_session.make_task`` task on the
executor's own world (``build_world(WorldConfig(), robot, seed)``, what bench_executor and the
demo build), run by the same ``TaskRunner`` as the node with the sim's ground truth answering,
so every frame is one the model would have been asked about on a successful run.
World seeds are the generator's split seeds plus ``seed_offset``, so they never meet the
scenes bench_executor and the demo are measured on (seeds 0-199 and 0-29).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from spatial_ros.data.scene_graph import SceneGraph
from spatial_ros.data.sim_scene import SimScene, graph_from_world

KINDS = ("pick_place", "three_step")


@dataclass
class RolloutConfig:
    enabled: bool = False  # True: a "scene" of the generator is one task rollout
    kinds: tuple[str, ...] = KINDS  # bringup.sim_session.make_task kinds, drawn per seed
    randomize_share: float = 0.5  # rollouts whose lights, colours and camera are jittered
    min_change_m: float = 0.01  # a question on an unchanged frame keeps no new frame
    max_frames: int = 8  # per rollout (a three-step task asks ~9 questions)
    seed_offset: int = 1_000_000  # world seed = split seed + this (see the module docstring)

    def __post_init__(self) -> None:
        self.kinds = tuple(self.kinds)
        if not self.kinds or any(k not in ("pick", "pick_place", "two_step", "three_step")
                                 for k in self.kinds):
            raise ValueError(f"rollout kinds must be task kinds of make_task, got {self.kinds}")
        if not 0.0 <= self.randomize_share <= 1.0:
            raise ValueError(f"randomize_share must be in [0, 1], got {self.randomize_share}")
        if self.seed_offset < 200:
            raise ValueError(f"seed_offset {self.seed_offset} would reuse bench_executor's "
                             f"scenes (seeds 0-199)")
        if self.max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {self.max_frames}")


class CapturingGrounder:
    """A grounder that calls ``capture()`` before each question it passes on."""

    def __init__(self, inner, capture: Callable[[], None]) -> None:
        self.inner, self.capture = inner, capture

    def locate(self, phrase: str):
        self.capture()
        return self.inner.locate(phrase)

    def locate_all(self, phrase: str, exclude: set[int]):
        self.capture()
        return self.inner.locate_all(phrase, exclude)

    def place_target(self, relation: str, anchor: str, held_id: int | None):
        self.capture()
        return self.inner.place_target(relation, anchor, held_id)

    def recall(self, relation: str, anchor: str, view):
        return self.inner.recall(relation, anchor, view)  # asks nothing: no frame to keep


def _state(world) -> np.ndarray:
    """Object positions and arm joints: what makes two frames of a rollout differ."""
    objects = np.concatenate([world.object_pose(o.id)[:3, 3] for o in world.objects])
    return np.concatenate([objects, np.asarray(world.data.qpos, float)])


def rollout_frames(seed: int, robots: tuple[str, ...], cfg: RolloutConfig,
                   min_target_pixels: int = 150) -> tuple[str, list[SimScene]]:
    """(instruction, frames) of the rollout of ``seed``; frames carry their scene graphs and
    robot. Raises ValueError when the seed's scene cannot be built or poses no task."""
    import mujoco

    from spatial_ros.bringup.sim_session import make_task
    from spatial_ros.execution.assembly import inprocess_stacks
    from spatial_ros.execution.config import load_executor_config
    from spatial_ros.execution.grounding import GroundTruthGrounder
    from spatial_ros.execution.outcome import GroundTruthObserver
    from spatial_ros.execution.task_runner import TaskRunner
    from spatial_ros.sim.camera import SimRealSense
    from spatial_ros.sim.randomization import DomainRandomizer
    from spatial_ros.sim.world import WorldConfig, build_world

    if not robots:
        raise ValueError("rollouts need scene.robots (the executor's robots)")
    rng = np.random.default_rng([seed, 13])
    robot = str(rng.choice(robots))
    world = build_world(WorldConfig(), robot=robot, seed=seed + cfg.seed_offset)
    kind = str(rng.choice(cfg.kinds))
    task = make_task(world, kind, rng)
    if task is None:
        raise ValueError(f"scene {seed} ({robot}) poses no {kind} task")
    if rng.random() < cfg.randomize_share:
        DomainRandomizer(world).apply(rng)
        mujoco.mj_forward(world.model, world.data)
    cam = SimRealSense(world, seed=seed)
    frames: list[SimScene] = []
    last: list[np.ndarray] = []

    def capture() -> None:
        state = _state(world)
        if len(frames) >= cfg.max_frames or (
                last and np.abs(state - last[0]).max() < cfg.min_change_m):
            return
        last[:] = [state]
        frame = cam.render()
        graph: SceneGraph = graph_from_world(world, frame, min_target_pixels)
        frames.append(SimScene(frame.rgb, frame.depth_mm, frame.segmentation,
                               frame.intrinsics, graph, None, robot))

    stacks = inprocess_stacks(load_executor_config(robot), world)
    grounder = CapturingGrounder(GroundTruthGrounder(world), capture)
    try:
        TaskRunner(stacks, grounder, GroundTruthObserver(world)).run(
            task.instruction, task_id=f"rollout-{seed}")
    finally:
        cam.close()
    return task.instruction, frames
