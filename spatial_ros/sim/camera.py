"""Simulated RealSense D435: RGB, aligned metric depth (uint16 mm) and ground-truth masks.

One MuJoCo render pass gives colour and the depth buffer together; a second pass in
segmentation mode gives the geom under every pixel, which is mapped to scene object ids.
The depth buffer is converted to z-depth in metres (distance along the optical axis, what
a RealSense reports, not the distance along the ray), then the D435 noise model is applied.
Depth is rendered through the colour camera, i.e. already aligned to colour, like
``aligned_depth_to_color`` in realsense-ros.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

import mujoco
import numpy as np

from spatial_ros.geometry.intrinsics import Intrinsics
from spatial_ros.sim.camera_mount import OPTICAL_TO_MUJOCO, CameraConfig
from spatial_ros.sim.depth_noise import add_depth_noise, to_millimetres
from spatial_ros.sim.world import World


@dataclass
class Frame:
    rgb: np.ndarray  # HxWx3 uint8
    depth_mm: np.ndarray  # HxW uint16 millimetres, 0 = no depth
    segmentation: np.ndarray  # HxW int32 object id per pixel, -1 background
    intrinsics: Intrinsics
    camera_pose: np.ndarray  # 4x4 camera optical frame -> world
    stamp: float  # simulation time (s)
    object_poses: dict[int, np.ndarray] = field(default_factory=dict)  # id -> 4x4 in world

    @property
    def depth_m(self) -> np.ndarray:
        return self.depth_mm.astype(np.float32) / 1000.0


class SimRealSense:
    """Renders ``Frame``s of ``world`` from the camera ``cfg.name`` (added by build_world).

    OpenGL contexts belong to a thread: create and use this object in one thread (the sim
    node gives rendering a thread of its own). Each thread keeps one GL context for all its
    cameras (``_thread_gl_context``), so a new camera costs ~30 ms, not a second.
    """

    def __init__(self, world: World, cfg: CameraConfig | None = None, seed: int | list[int] = 0,
                 noise: bool | None = None) -> None:
        self.world = world
        self.cfg = cfg or world.cfg.camera
        self.intrinsics = self.cfg.intrinsics()
        self.noise = self.cfg.noise.enabled if noise is None else noise
        self.rng = np.random.default_rng(seed)
        model = world.model
        self.cam_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, self.cfg.name)
        if self.cam_id < 0:
            raise ValueError(f"camera '{self.cfg.name}' is not in the world model")
        w, h = self.intrinsics.width, self.intrinsics.height
        self._gl = _thread_gl_context()
        self._gl.make_current()
        self._ctx = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._ctx)
        self._ctx.readDepthMap = mujoco.mjtDepthMap.mjDEPTH_ZEROFAR
        self._scene = mujoco.MjvScene(model, maxgeom=2000)
        self._opt = mujoco.MjvOption()
        self._cam = mujoco.MjvCamera()
        self._cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._cam.fixedcamid = self.cam_id
        self._rect = mujoco.MjrRect(0, 0, w, h)
        self._rgb = np.empty((h, w, 3), np.uint8)
        self._seg = np.empty((h, w, 3), np.uint8)
        self._depth = np.empty((h, w), np.float32)

    # ------------------------------------------------------------------ pose
    def camera_pose(self, data: mujoco.MjData | None = None) -> np.ndarray:
        """4x4 optical frame (z forward, x right, y down) -> world, from the physics state."""
        data = data if data is not None else self.world.data
        pose = np.eye(4)
        pose[:3, :3] = data.cam_xmat[self.cam_id].reshape(3, 3) @ OPTICAL_TO_MUJOCO
        pose[:3, 3] = data.cam_xpos[self.cam_id]
        return pose

    # ------------------------------------------------------------------ render
    def render(self, data: mujoco.MjData | None = None, segmentation: bool = True) -> Frame:
        """Renders the current state (``data`` defaults to the world's own; its kinematics must
        be up to date, e.g. after ``mj_step`` or ``mj_forward``)."""
        model = self.world.model
        data = data if data is not None else self.world.data
        self._update_scene(data)
        mujoco.mjr_render(self._rect, self._scene, self._ctx)
        mujoco.mjr_readPixels(self._rgb, self._depth, self._rect, self._ctx)
        rgb = np.flipud(self._rgb).copy()
        z = self._linear_depth(np.flipud(self._depth))
        geom_map = self._render_geom_ids() if segmentation else None

        dark = transparent = None
        if geom_map is not None:
            seg = np.where(geom_map >= 0, self.world.geom_to_object[np.maximum(geom_map, 0)], -1)
            seg = seg.astype(np.int32)
            if self.noise:
                g = np.maximum(geom_map, 0)
                colour = _geom_colours(model)
                is_dark = colour[:, :3].max(axis=1) < self.cfg.noise.dark_value
                is_clear = colour[:, 3] < self.cfg.noise.transparent_alpha
                dark = (geom_map >= 0) & is_dark[g]
                transparent = (geom_map >= 0) & is_clear[g]
        else:
            seg = np.full(z.shape, -1, np.int32)
        noise_cfg = self.cfg.noise if self.noise else replace(self.cfg.noise, enabled=False)
        z = add_depth_noise(z, self.intrinsics.fx, noise_cfg, self.rng, dark, transparent)
        poses = {o.id: _body_pose(data, o.body_id) for o in self.world.objects}
        return Frame(rgb=rgb, depth_mm=to_millimetres(z), segmentation=seg,
                     intrinsics=self.intrinsics, camera_pose=self.camera_pose(data),
                     stamp=float(data.time), object_poses=poses)

    def render_depth_m(self, data: mujoco.MjData | None = None) -> np.ndarray:
        """Exact float z-depth in metres (no noise, no quantization), for tests and labels."""
        self._update_scene(data if data is not None else self.world.data)
        mujoco.mjr_render(self._rect, self._scene, self._ctx)
        mujoco.mjr_readPixels(None, self._depth, self._rect, self._ctx)
        return self._linear_depth(np.flipud(self._depth))

    def render_geom_ids(self, data: mujoco.MjData | None = None) -> np.ndarray:
        """MuJoCo geom id under every pixel (-1: none), e.g. to find table pixels."""
        self._update_scene(data if data is not None else self.world.data)
        return self._render_geom_ids()

    def _update_scene(self, data: mujoco.MjData) -> None:
        if self._ctx is None:
            raise RuntimeError("SimRealSense is closed")
        self._gl.make_current()
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._ctx)
        mujoco.mjv_updateScene(self.world.model, data, self._opt, None, self._cam,
                               mujoco.mjtCatBit.mjCAT_ALL, self._scene)

    def _linear_depth(self, buf: np.ndarray) -> np.ndarray:
        # mjDEPTH_ZEROFAR: 1 at the near plane, 0 at the far plane (reversed z).
        extent = self.world.model.stat.extent
        near = self.world.model.vis.map.znear * extent
        far = self.world.model.vis.map.zfar * extent
        # float32 keeps ~1e-7 relative precision here: far below a millimetre
        return np.float32(far * near) / (buf * np.float32(far - near) + np.float32(near))

    def _render_geom_ids(self) -> np.ndarray:
        """Geom id under every pixel (-1: nothing, or not a geom), from the segmentation pass."""
        scene = self._scene
        flags = scene.flags
        flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = True
        flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = True
        try:
            mujoco.mjr_render(self._rect, scene, self._ctx)
            mujoco.mjr_readPixels(self._seg, None, self._rect, self._ctx)
        finally:
            flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = False
            flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = False
        img = np.flipud(self._seg)
        segid = (img[..., 0].astype(np.int32) | (img[..., 1].astype(np.int32) << 8)
                 | (img[..., 2].astype(np.int32) << 16))
        lut = np.full(scene.ngeom + 1, -1, np.int32)
        for i in range(scene.ngeom):
            g = scene.geoms[i]
            if g.segid >= 0 and g.objtype == mujoco.mjtObj.mjOBJ_GEOM:
                lut[g.segid + 1] = g.objid
        segid = np.where(segid < lut.size, segid, 0)
        return lut[segid]

    def close(self) -> None:
        """Frees this camera's GPU resources (the thread's GL context stays for reuse)."""
        if self._ctx is not None:
            self._gl.make_current()
            self._ctx.free()
            self._ctx = None

    def __enter__(self) -> SimRealSense:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_THREAD = threading.local()


def _thread_gl_context() -> mujoco.GLContext:
    """This thread's offscreen GL context, created on first use. Creating a context and the
    first frame in it cost about a second on CPU GL (llvmpipe compiles its shaders per
    context); MuJoCo renders into its own framebuffers, so one context serves any size."""
    ctx = getattr(_THREAD, "gl", None)
    if ctx is None:
        ctx = mujoco.GLContext(64, 64)
        _THREAD.gl = ctx
    return ctx


def _geom_colours(model: mujoco.MjModel) -> np.ndarray:
    """(ngeom, 4) rgba each geom is drawn with: MuJoCo uses the material's rgba when the geom
    has a material and keeps the default geom rgba (0.5, 0.5, 0.5, 1)."""
    rgba = model.geom_rgba.copy()
    mat = model.geom_matid
    use_mat = (mat >= 0) & np.all(np.isclose(rgba, [0.5, 0.5, 0.5, 1.0]), axis=1)
    rgba[use_mat] = model.mat_rgba[mat[use_mat]]
    return rgba


def _body_pose(data: mujoco.MjData, body_id: int) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = data.xmat[body_id].reshape(3, 3)
    pose[:3, 3] = data.xpos[body_id]
    return pose
