"""One simulated, domain-randomized RGB-D frame and its ground-truth scene graph.

The only module of the data engine that knows the simulator's types: it turns a
``sim.world.World`` plus a rendered ``sim.camera.Frame`` into a ``SceneGraph`` in the robot
base frame (the frame dataset camera poses are given in).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from spatial_ros.data.scene_graph import ObjectNode, SceneGraph, visible_pixels

os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering without a display


@dataclass
class SimSceneConfig:
    min_objects: int = 4
    max_objects: int = 8
    width: int = 640
    height: int = 480
    randomize: bool = True
    depth_noise: bool = True
    min_target_pixels_640: int = 150  # scaled with image area
    camera_yaw_deg: tuple[float, float] = (-25.0, 25.0)
    camera_pitch_deg: tuple[float, float] = (42.0, 62.0)
    camera_distance: tuple[float, float] = (0.8, 1.05)
    world: dict = field(default_factory=dict)  # extra WorldConfig fields
    # Robots drawn per scene ("none": the bare table). Empty: no robot, the original data.
    # With a robot its arm is in view, as in every executor frame, in a pose jittered around
    # home (normal, ``arm_jitter_rad`` per joint): the model should not only ever see tables.
    robots: tuple[str, ...] = ()
    arm_jitter_rad: float = 0.35

    @property
    def min_target_pixels(self) -> int:
        """``min_target_pixels_640`` scaled to this image size."""
        scale = (self.width * self.height) / (640 * 480)
        return max(20, int(self.min_target_pixels_640 * scale))


@dataclass
class SimScene:
    rgb: np.ndarray
    depth_mm: np.ndarray
    segmentation: np.ndarray
    intrinsics: object
    graph: SceneGraph
    world: object = None
    robot: str = "none"  # the robot in view ("none": a bare table)


def graph_from_world(world, frame, min_target_pixels: int = 150) -> SceneGraph:
    """Scene graph of a rendered frame: poses from the physics state, visibility from the
    segmentation, everything in the robot base frame."""
    base_inv = np.linalg.inv(world.base_pose)
    vis = visible_pixels(frame.segmentation, [o.id for o in world.objects])
    nodes = []
    for o in world.objects:
        pose = base_inv @ frame.object_poses.get(o.id, o.pose)
        rot = np.eye(3) if o.category == "sphere" else pose[:3, :3]
        pixels, centroid = vis[o.id]
        nodes.append(ObjectNode(
            id=o.id, category=str(o.category), colour=str(o.colour), size=tuple(o.size),
            position=pose[:3, 3], rotation=rot, pixels=pixels, centroid_px=centroid,
            graspable=bool(o.graspable), is_container=bool(o.is_container), name=o.name))
    table_z = float(world.table_top_z - world.base_pose[2, 3])
    return SceneGraph(nodes, base_inv @ frame.camera_pose, frame.rgb.shape[1],
                      frame.rgb.shape[0], table_height=table_z,
                      table_bounds=_table_bounds(world, base_inv),
                      min_target_pixels=min_target_pixels)


def _table_bounds(world, base_inv: np.ndarray) -> tuple[float, float, float, float] | None:
    """x/y extent of the table top in the base frame, read from the compiled model."""
    import mujoco

    gid = mujoco.mj_name2id(world.model, mujoco.mjtObj.mjOBJ_GEOM, "table_top")
    if gid < 0:
        return None
    centre = base_inv[:3, :3] @ world.data.geom_xpos[gid] + base_inv[:3, 3]
    half = world.model.geom_size[gid][:2]
    return (float(centre[0] - half[0]), float(centre[0] + half[0]),
            float(centre[1] - half[1]), float(centre[1] + half[1]))


def world_config(seed: int, cfg: SimSceneConfig, rng: np.random.Generator | None = None):
    """The ``WorldConfig`` of scene ``seed`` (object count, camera placement); the object
    layout in the base frame is then fixed by ``build_world``'s own seeded sampling, so the
    same seed with a robot attached gives the same objects (used by the lift check)."""
    from spatial_ros.common.config import from_dict
    from spatial_ros.sim.camera_mount import CameraConfig
    from spatial_ros.sim.world import DEFAULT_WORKSPACE, WorldConfig

    rng = rng if rng is not None else np.random.default_rng([seed, 7])
    camera = CameraConfig(
        width=cfg.width, height=cfg.height,
        yaw_deg=float(rng.uniform(*cfg.camera_yaw_deg)),
        pitch_deg=float(rng.uniform(*cfg.camera_pitch_deg)),
        distance=float(rng.uniform(*cfg.camera_distance)))
    camera.noise.enabled = cfg.depth_noise
    wcfg = from_dict(WorldConfig, dict(cfg.world)) if cfg.world else WorldConfig()
    wcfg.n_objects = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    wcfg.camera = camera
    if wcfg.workspace is None:
        wcfg.workspace = DEFAULT_WORKSPACE
    return wcfg


def _jitter_arms(world, rng: np.random.Generator, sigma: float) -> None:
    """Every arm joint at home plus normal noise, inside its joint range (pose only: the
    frame is rendered without a physics step, so nothing moves)."""
    import mujoco

    m, d = world.model, world.data
    for group in world.robot.groups.values():
        for j in group.joints:
            jnt = m.joint(j)
            lo, hi = jnt.range if m.jnt_limited[jnt.id] else (-np.pi, np.pi)
            adr = int(jnt.qposadr[0])
            d.qpos[adr] = float(np.clip(d.qpos[adr] + rng.normal(0.0, sigma), lo, hi))
    mujoco.mj_forward(m, d)


def render_scene(seed: int, cfg: SimSceneConfig = SimSceneConfig(),
                 keep_world: bool = False) -> SimScene:
    """Builds, settles, randomizes and renders the scene of ``seed`` (fully deterministic)."""
    import mujoco

    from spatial_ros.sim.camera import SimRealSense
    from spatial_ros.sim.randomization import DomainRandomizer
    from spatial_ros.sim.world import build_world

    rng = np.random.default_rng([seed, 7])
    wcfg = world_config(seed, cfg, rng)
    robot = str(rng.choice(cfg.robots)) if cfg.robots else "none"
    if robot != "none":
        wcfg.workspace = None  # the robot's own reachable tabletop, as the executor's worlds
    world = build_world(wcfg, robot=robot, seed=seed)
    if world.robot is not None:
        _jitter_arms(world, rng, cfg.arm_jitter_rad)
    if cfg.randomize:
        DomainRandomizer(world).apply(rng)
        mujoco.mj_forward(world.model, world.data)
    cam = SimRealSense(world, seed=seed)
    try:
        frame = cam.render()
    finally:
        cam.close()
    graph = graph_from_world(world, frame, cfg.min_target_pixels)
    return SimScene(frame.rgb, frame.depth_mm, frame.segmentation, frame.intrinsics, graph,
                    world if keep_world else None, robot)
