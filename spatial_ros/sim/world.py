"""Tabletop scene builder: table, robot, seeded collision-free objects that settle by physics.

One seed gives one scene, always the same one: object choice, sizes, colours, placement and
the settled poses are all functions of the seed. The scene is a ``mujoco.MjSpec`` until it
is compiled, so the robot (``robots.attach_robot``) and the camera are attached to it like
any other part.

Frames: ``world`` has z up with the floor at z=0 and the robot base above the origin
(``World.base_pose``), placed as the robot's ``Mount`` asks: arms bolted on the table top,
the G1 standing at its edge; the table and the object workspace follow the mount. Object
poses are body frames at the centre of each object's bounding box.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from spatial_ros.sim.camera_mount import OPTICAL_TO_MUJOCO, CameraConfig, add_camera
from spatial_ros.sim.colours import COLOURS, colour
from spatial_ros.sim.objects import CATALOG, object_spec, shape_parts

CONTAINERS = tuple(c for c, s in CATALOG.items() if s.is_container)
DEFAULT_WORKSPACE = (0.32, 0.72, -0.32, 0.32)  # without a robot (same as the UR5's)
DEFAULT_TABLE_EDGE_X = -0.15  # without a robot the "base" sits 15 cm inside the table


@dataclass
class WorldConfig:
    n_objects: int = 6
    categories: list[str] = field(default_factory=lambda: list(CATALOG))
    colours: list[str] = field(default_factory=lambda: list(COLOURS))
    max_containers: int = 2  # at most this many bowls/boxes (at least one when n >= 3)
    # x_min, x_max, y_min, y_max of object centres in the robot base frame (metres);
    # None: the robot's reachable workspace (robots.Mount), or this default without a robot
    workspace: tuple[float, float, float, float] | None = None
    clearance: float = 0.02  # free gap between objects' footprints (metres)
    table_height: float = 0.75
    table_size: tuple[float, float] = (1.3, 1.1)
    table_edge_x: float | None = None  # near table edge in the base frame; None: robot's mount
    timestep: float = 0.002
    settle_time: float = 1.5  # seconds of physics at most to let objects come to rest
    randomize_colours: bool = True  # sample within each colour's name, else the nominal rgba
    shadows: bool = True  # the key light casts shadows (about half the CPU render time)
    shadow_size: int = 1024
    msaa_samples: int = 0  # offscreen multisampling (anti-aliasing); costly on CPU GL
    camera: CameraConfig = field(default_factory=CameraConfig)

    def validate(self) -> None:
        if self.n_objects < 0:
            raise ValueError(f"n_objects must be >= 0, got {self.n_objects}")
        for c in self.categories:
            object_spec(c)
        for c in self.colours:
            colour(c)
        if self.workspace is None:
            return
        x0, x1, y0, y1 = self.workspace
        if x0 >= x1 or y0 >= y1:
            raise ValueError(f"workspace {self.workspace} is empty (need x_min<x_max, y_min<y_max)")


@dataclass
class SceneObject:
    id: int
    name: str  # e.g. "red_cube_0"
    category: str
    colour: str
    rgba: tuple[float, float, float, float]
    size: tuple[float, float, float]  # bounding-box extents x, y, z (metres)
    size_label: str  # small | medium | large
    pose: np.ndarray  # 4x4 body -> world, updated by World.refresh()
    graspable: bool
    is_container: bool
    body_id: int = -1
    geom_ids: tuple[int, ...] = ()
    qpos_adr: int = -1  # address of the free joint in qpos (7 values: pos, quat wxyz)

    def to_dict(self, base_inv: np.ndarray | None = None) -> dict[str, Any]:
        pose = self.pose if base_inv is None else base_inv @ self.pose
        x, y, z, w = Rotation.from_matrix(pose[:3, :3]).as_quat()
        return {"id": self.id, "name": self.name, "category": self.category,
                "colour": self.colour, "rgba": [round(float(c), 4) for c in self.rgba],
                "size": [round(float(s), 4) for s in self.size], "size_label": self.size_label,
                "position": [round(float(p), 5) for p in pose[:3, 3]],
                "quat_xyzw": [round(float(q), 6) for q in (x, y, z, w)],
                "graspable": self.graspable, "is_container": self.is_container}


@dataclass
class World:
    cfg: WorldConfig
    seed: int
    model: mujoco.MjModel
    data: mujoco.MjData
    objects: list[SceneObject]
    base_pose: np.ndarray  # 4x4 robot base -> world
    robot: Any = None  # robots.RobotDescription or None
    table_top_z: float = 0.75
    geom_to_object: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    @property
    def time(self) -> float:
        return float(self.data.time)

    def step(self, n: int = 1) -> None:
        mujoco.mj_step(self.model, self.data, nstep=n)

    def object(self, key: int | str) -> SceneObject:
        for obj in self.objects:
            if obj.id == key or obj.name == key:
                return obj
        raise KeyError(f"no object {key!r}; objects: {[o.name for o in self.objects]}")

    def object_pose(self, key: int | str) -> np.ndarray:
        """Current 4x4 pose (body -> world) of one object, straight from the physics state."""
        obj = self.object(key)
        pose = np.eye(4)
        pose[:3, :3] = self.data.xmat[obj.body_id].reshape(3, 3)
        pose[:3, 3] = self.data.xpos[obj.body_id]
        return pose

    def refresh(self) -> None:
        """Copies the current physics poses into ``objects[i].pose``."""
        mujoco.mj_kinematics(self.model, self.data)
        for obj in self.objects:
            obj.pose = self.object_pose(obj.id)

    def object_velocities(self) -> np.ndarray:
        """(n, 6) free-joint velocities of the objects: linear (m/s) then angular (rad/s)."""
        m = self.model
        adr = [m.jnt_dofadr[m.body_jntadr[o.body_id]] for o in self.objects]
        return np.array([self.data.qvel[a:a + 6] for a in adr]).reshape(-1, 6)

    def settle(self, max_time: float | None = None, speed_tol: float = 2e-3) -> float:
        """Steps physics until every object is at rest (or ``max_time``); returns sim seconds.

        At rest: linear speed below ``speed_tol`` m/s and angular below 10x that in rad/s."""
        max_time = self.cfg.settle_time if max_time is None else max_time
        start = self.data.time
        chunk = max(1, round(0.05 / self.model.opt.timestep))
        while self.data.time - start < max_time:
            self.step(chunk)
            vel = np.abs(self.object_velocities())
            if self.data.time - start > 0.2 and (
                    vel.size == 0 or (vel[:, :3].max() < speed_tol
                                      and vel[:, 3:].max() < 10 * speed_tol)):
                break
        self.refresh()
        return float(self.data.time - start)

    def camera_pose(self, name: str | None = None) -> np.ndarray:
        """4x4 pose of camera ``name`` (default: the configured one) in the world, as an
        optical frame (z forward, x right, y down)."""
        cam = self.model.camera(name or self.cfg.camera.name).id
        pose = np.eye(4)
        pose[:3, :3] = self.data.cam_xmat[cam].reshape(3, 3) @ OPTICAL_TO_MUJOCO
        pose[:3, 3] = self.data.cam_xpos[cam]
        return pose

    def ground_truth(self, frame: str = "base") -> dict[str, Any]:
        """Object records and the camera pose in the robot ``base`` frame (or ``world``),
        JSON-ready."""
        base_inv = np.linalg.inv(self.base_pose) if frame == "base" else None
        self.refresh()
        mujoco.mj_camlight(self.model, self.data)
        cam = self.camera_pose() if base_inv is None else base_inv @ self.camera_pose()
        return {"frame": frame, "seed": self.seed, "time": round(self.time, 4),
                "camera_pose": np.round(cam, 6).tolist(),
                "table_top_z": round(self.table_top_z - (self.base_pose[2, 3] if frame == "base"
                                                          else 0.0), 5),
                "objects": [o.to_dict(base_inv) for o in self.objects]}


# ---------------------------------------------------------------- scene sampling


@dataclass(frozen=True)
class _Plan:
    category: str
    size_label: str
    params: tuple[float, ...]
    colour: str
    rgba: tuple[float, float, float, float]
    xy: tuple[float, float]
    yaw: float


def _sample_plan(cfg: WorldConfig, rng: np.random.Generator) -> list[_Plan]:
    """Objects (containers first: they need the most room) and collision-free placements."""
    containers = [c for c in cfg.categories if c in CONTAINERS]
    small = [c for c in cfg.categories if c not in CONTAINERS]
    n_cont = 0
    if containers and cfg.n_objects >= 3:
        n_cont = int(rng.integers(1, min(cfg.max_containers, cfg.n_objects // 3) + 1))
    if not small:
        n_cont = cfg.n_objects
    cats = list(rng.choice(containers, n_cont)) if n_cont else []
    cats += list(rng.choice(small, cfg.n_objects - n_cont)) if cfg.n_objects - n_cont else []
    used: set[tuple[str, str]] = set()
    items = []
    for cat in cats:
        spec = CATALOG[cat]
        label = str(rng.choice(list(spec.sizes)))
        # a colour not yet used for this category keeps "the red cube" unambiguous by type
        free = [c for c in cfg.colours if (cat, c) not in used] or list(cfg.colours)
        name = str(rng.choice(free))
        used.add((cat, name))
        rgba = COLOURS[name].sample(rng) if cfg.randomize_colours else COLOURS[name].nominal
        _, extents = shape_parts(cat, spec.sizes[label])
        items.append((cat, label, spec.sizes[label], name, rgba,
                      0.5 * float(np.hypot(extents[0], extents[1]))))
    for _ in range(50):  # whole-scene retries: a crowded workspace needs a few tries
        xy = _place(items, cfg.workspace or DEFAULT_WORKSPACE, cfg.clearance, rng)
        if xy is not None:
            return [_Plan(cat, label, params, name, rgba, p, float(rng.uniform(-np.pi, np.pi)))
                    for (cat, label, params, name, rgba, _), p in zip(items, xy, strict=True)]
    raise ValueError(f"cannot place {cfg.n_objects} objects without overlap in workspace "
                     f"{cfg.workspace}; use fewer objects or a larger workspace")


def _place(items, workspace, clearance: float,
           rng: np.random.Generator) -> list[tuple[float, float]] | None:
    """Rejection-samples centres whose footprint circles keep ``clearance`` apart."""
    x0, x1, y0, y1 = workspace
    placed: list[tuple[float, float, float]] = []
    for *_, radius in items:
        for _ in range(200):
            x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if all(np.hypot(x - px, y - py) >= radius + pr + clearance for px, py, pr in placed):
                placed.append((x, y, radius))
                break
        else:
            return None
    return [(x, y) for x, y, _ in placed]


# ---------------------------------------------------------------- scene building

_GEOM_TYPES = {"box": mujoco.mjtGeom.mjGEOM_BOX, "cylinder": mujoco.mjtGeom.mjGEOM_CYLINDER,
               "sphere": mujoco.mjtGeom.mjGEOM_SPHERE, "capsule": mujoco.mjtGeom.mjGEOM_CAPSULE}


def _add_environment(spec: mujoco.MjSpec, cfg: WorldConfig, base_pose: np.ndarray) -> None:
    spec.option.timestep = cfg.timestep
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.visual.quality.shadowsize = cfg.shadow_size
    spec.visual.quality.offsamples = cfg.msaa_samples
    spec.visual.headlight.ambient = [0.35, 0.35, 0.35]
    spec.visual.headlight.diffuse = [0.35, 0.35, 0.35]
    spec.visual.headlight.specular = [0.05, 0.05, 0.05]
    spec.visual.map.znear = 0.02
    spec.visual.map.zfar = 20.0
    spec.stat.extent = 2.0  # fixes znear/zfar in metres (0.04 m .. 40 m)
    spec.stat.center = [0.5, 0.0, cfg.table_height]

    spec.add_texture(name="sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT, rgb1=[0.78, 0.8, 0.82],
                     rgb2=[0.45, 0.47, 0.5], width=256, height=256)
    spec.add_texture(name="floor", type=mujoco.mjtTexture.mjTEXTURE_2D,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, rgb1=[0.42, 0.4, 0.38],
                     rgb2=[0.36, 0.34, 0.32], width=256, height=256)
    spec.add_texture(name="wood", type=mujoco.mjtTexture.mjTEXTURE_2D,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_FLAT, rgb1=[0.68, 0.56, 0.43],
                     rgb2=[0.6, 0.48, 0.36], mark=mujoco.mjtMark.mjMARK_RANDOM,
                     random=0.04, markrgb=[0.6, 0.49, 0.37], width=512, height=512)
    # alternative table tops for domain randomization (``randomization.TABLE_TEXTURES``)
    spec.add_texture(name="wood_dark", type=mujoco.mjtTexture.mjTEXTURE_2D,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_FLAT, rgb1=[0.45, 0.32, 0.22],
                     rgb2=[0.4, 0.28, 0.2], mark=mujoco.mjtMark.mjMARK_RANDOM,
                     random=0.05, markrgb=[0.36, 0.25, 0.17], width=512, height=512)
    spec.add_texture(name="laminate", type=mujoco.mjtTexture.mjTEXTURE_2D,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_FLAT, rgb1=[0.8, 0.8, 0.78],
                     rgb2=[0.75, 0.75, 0.73], mark=mujoco.mjtMark.mjMARK_RANDOM,
                     random=0.02, markrgb=[0.7, 0.7, 0.68], width=512, height=512)
    spec.add_texture(name="grid", type=mujoco.mjtTexture.mjTEXTURE_2D,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, rgb1=[0.62, 0.6, 0.56],
                     rgb2=[0.55, 0.53, 0.5], width=512, height=512)
    floor_mat = spec.add_material(name="floor", texrepeat=[6, 6])
    floor_mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "floor"
    table_mat = spec.add_material(name="table", texrepeat=[2, 2], texuniform=True,
                                  specular=0.2, shininess=0.3)
    table_mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "wood"
    spec.add_material(name="leg", rgba=[0.25, 0.25, 0.27, 1.0], specular=0.4)

    world = spec.worldbody
    world.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[4, 4, 0.05],
                   material="floor")
    th = 0.04
    sx, sy = cfg.table_size
    cx = base_pose[0, 3] + cfg.table_edge_x + sx / 2
    table = world.add_body(name="table", pos=[cx, base_pose[1, 3], cfg.table_height - th / 2])
    table.add_geom(name="table_top", type=mujoco.mjtGeom.mjGEOM_BOX,
                   size=[sx / 2, sy / 2, th / 2], material="table", friction=[0.9, 0.01, 0.001])
    leg_h = cfg.table_height - th
    for ix in (-1, 1):
        for iy in (-1, 1):
            table.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.03, 0.03, leg_h / 2],
                           pos=[ix * (sx / 2 - 0.06), iy * (sy / 2 - 0.06), -th / 2 - leg_h / 2],
                           material="leg", contype=0, conaffinity=0)
    key = world.add_light(name="key", pos=[cx + 0.6, 0.8, cfg.table_height + 2.0],
                          dir=[-0.3, -0.4, -1.0], castshadow=cfg.shadows,
                          type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL)
    key.diffuse = [0.55, 0.55, 0.52]
    key.specular = [0.2, 0.2, 0.2]
    fill = world.add_light(name="fill", pos=[cx - 0.5, -1.0, cfg.table_height + 1.5],
                           dir=[0.4, 0.6, -0.8], castshadow=False,
                           type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL)
    fill.diffuse = [0.25, 0.25, 0.27]
    fill.specular = [0.0, 0.0, 0.0]


def _add_object(spec: mujoco.MjSpec, plan: _Plan, index: int, table_z: float,
                base_pose: np.ndarray) -> tuple[str, tuple[float, float, float]]:
    parts, extents = shape_parts(plan.category, plan.params)
    name = f"{plan.colour}_{plan.category}_{index}"
    pos = base_pose[:3, :3] @ np.array([*plan.xy, 0.0]) + base_pose[:3, 3]
    pos[2] = table_z + extents[2] / 2 + 0.001  # just above the top: settles without a bounce
    x, y, z, w = Rotation.from_euler("z", plan.yaw).as_quat()
    body = spec.worldbody.add_body(name=name, pos=pos.tolist(), quat=[w, x, y, z])
    body.add_freejoint(name=f"{name}/joint")
    density = CATALOG[plan.category].density
    for i, part in enumerate(parts):
        geom = body.add_geom(name=f"{name}/g{i}", type=_GEOM_TYPES[part.type],
                             size=list(part.size) + [0.0] * (3 - len(part.size)),
                             pos=list(part.pos), quat=list(part.quat), rgba=list(plan.rgba),
                             density=density, condim=4, friction=[0.9, 0.01, 0.001])
        if part.type == "sphere":  # rolling friction so a ball comes to rest
            geom.condim = 6
            geom.friction = [0.9, 0.01, 0.002]
    return name, extents


def build_world(cfg: WorldConfig | None = None, robot: str | None = None, seed: int = 0,
                settle: bool = True) -> World:
    """Builds, compiles and (by default) settles the scene for ``seed``."""
    cfg = replace(cfg or WorldConfig())
    cfg.validate()
    rng = np.random.default_rng(seed)
    mount = None
    if robot not in (None, "", "none"):
        from spatial_ros.sim.robots import get_robot

        mount = get_robot(robot).mount
    if cfg.workspace is None:
        cfg.workspace = mount.workspace if mount else DEFAULT_WORKSPACE
    if cfg.table_edge_x is None:
        cfg.table_edge_x = mount.table_edge_x if mount else DEFAULT_TABLE_EDGE_X
    if cfg.camera.look_at is None:
        x0, x1, y0, y1 = cfg.workspace
        cfg.camera = replace(cfg.camera, look_at=((x0 + x1) / 2, (y0 + y1) / 2, 0.0))
    base_pose = np.eye(4)
    base_pose[2, 3] = cfg.table_height + (mount.base_above_table if mount else 0.0)
    spec = mujoco.MjSpec()
    spec.modelname = f"tabletop_seed{seed}"
    _add_environment(spec, cfg, base_pose)

    description = None
    if mount is not None:
        from spatial_ros.sim.robots import attach_robot

        x, y, z, w = Rotation.from_matrix(base_pose[:3, :3]).as_quat()
        description = attach_robot(spec, robot, base_pose[:3, 3].tolist(), [w, x, y, z])

    plans = _sample_plan(cfg, rng)
    names_extents = [_add_object(spec, p, i, cfg.table_height, base_pose)
                     for i, p in enumerate(plans)]
    table_frame = base_pose.copy()  # the camera aims at points given on the table top
    table_frame[2, 3] = cfg.table_height
    add_camera(spec, cfg.camera, table_frame,
               description.tcp_site if description is not None else None)
    model = spec.compile()
    data = mujoco.MjData(model)
    if description is not None:
        from spatial_ros.sim.controller import RobotController

        RobotController(model, data, description).reset_home()
    mujoco.mj_forward(model, data)

    objects = []
    geom_to_object = np.full(model.ngeom, -1, np.int32)
    for i, (plan, (name, extents)) in enumerate(zip(plans, names_extents, strict=True)):
        body_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
        geoms = tuple(int(g) for g in np.flatnonzero(model.geom_bodyid == body_id))
        geom_to_object[list(geoms)] = i
        spec_o = CATALOG[plan.category]
        objects.append(SceneObject(
            id=i, name=name, category=plan.category, colour=plan.colour, rgba=plan.rgba,
            size=tuple(float(e) for e in extents), size_label=plan.size_label,
            pose=np.eye(4), graspable=spec_o.graspable, is_container=spec_o.is_container,
            body_id=body_id, geom_ids=geoms,
            qpos_adr=int(model.jnt_qposadr[model.body_jntadr[body_id]])))
    world = World(cfg=cfg, seed=seed, model=model, data=data, objects=objects,
                  base_pose=base_pose, robot=description, table_top_z=cfg.table_height,
                  geom_to_object=geom_to_object)
    world.refresh()
    if settle:
        world.settle()
    return world
