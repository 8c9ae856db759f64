"""Seeded domain randomization of lighting, table and object colours and camera pose.

Every draw is a perturbation of the *nominal* scene stored on first use, so repeated calls
never drift, and object colours are re-sampled inside their colour names (``colours.py``),
so a "red" cube stays red for the labels.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from spatial_ros.sim.colours import COLOURS

TABLE_TEXTURES = ("wood", "wood_dark", "laminate", "grid")  # added by world.build_world


@dataclass
class RandomizationConfig:
    enabled: bool = True
    light_scale: tuple[float, float] = (0.65, 1.3)  # multiplies each light's diffuse
    light_dir_jitter_deg: float = 20.0
    ambient: tuple[float, float] = (0.25, 0.45)  # headlight ambient level
    table_textures: bool = True  # pick the table top from TABLE_TEXTURES
    table_value: tuple[float, float] = (0.75, 1.15)  # table brightness factor
    table_hue_jitter_deg: float = 12.0
    object_colours: bool = True  # re-sample object rgba within each colour's name
    camera_pos_jitter_m: float = 0.02
    camera_rot_jitter_deg: float = 2.0


class DomainRandomizer:
    """Applies ``RandomizationConfig`` draws to a compiled world's model in place."""

    def __init__(self, world, cfg: RandomizationConfig | None = None,
                 camera: str | None = None) -> None:
        self.world = world
        self.cfg = cfg or RandomizationConfig()
        m = world.model
        self._light_diffuse = m.light_diffuse.copy()
        self._light_dir = m.light_dir.copy()
        self._ambient = m.vis.headlight.ambient.copy()
        self._table_mat = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_MATERIAL, "table")
        self._table_rgba = m.mat_rgba[self._table_mat].copy() if self._table_mat >= 0 else None
        role = int(mujoco.mjtTextureRole.mjTEXROLE_RGB)
        self._table_tex = (m.mat_texid[self._table_mat, role].copy()
                           if self._table_mat >= 0 else None)
        self._textures = [t for t in (mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_TEXTURE, n)
                                      for n in TABLE_TEXTURES) if t >= 0]
        name = camera or world.cfg.camera.name
        self._cam = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_CAMERA, name)
        if self._cam < 0:
            raise ValueError(f"randomization: camera '{name}' not in the model")
        self._cam_pos = m.cam_pos[self._cam].copy()
        self._cam_quat = m.cam_quat[self._cam].copy()

    def apply(self, rng: np.random.Generator) -> None:
        if not self.cfg.enabled:
            return
        c, m = self.cfg, self.world.model
        for i in range(m.nlight):
            m.light_diffuse[i] = np.clip(self._light_diffuse[i] * rng.uniform(*c.light_scale),
                                         0, 1)
            tilt = Rotation.from_rotvec(np.deg2rad(c.light_dir_jitter_deg)
                                        * _random_unit(rng) * rng.random())
            m.light_dir[i] = tilt.apply(self._light_dir[i])
        m.vis.headlight.ambient[:] = rng.uniform(*c.ambient)
        if self._table_rgba is not None and c.table_textures and self._textures:
            role = int(mujoco.mjtTextureRole.mjTEXROLE_RGB)
            m.mat_texid[self._table_mat, role] = self._textures[rng.integers(len(self._textures))]
        if self._table_rgba is not None:
            h, s, v = colorsys.rgb_to_hsv(*[0.68, 0.56, 0.43])
            h = (h + rng.uniform(-1, 1) * c.table_hue_jitter_deg / 360.0) % 1.0
            tint = np.array(colorsys.hsv_to_rgb(h, s, v)) / np.array([0.68, 0.56, 0.43])
            rgb = np.clip(tint * rng.uniform(*c.table_value), 0, 1.5)
            m.mat_rgba[self._table_mat, :3] = np.clip(rgb, 0, 1)
        if c.object_colours:
            for obj in self.world.objects:
                rgba = COLOURS[obj.colour].sample(rng)
                m.geom_rgba[list(obj.geom_ids)] = rgba
                obj.rgba = rgba
        self.jitter_camera(rng)

    def _refresh(self) -> None:
        # camera and light poses in ``data`` are derived quantities: recompute them now so
        # the next render sees the jittered camera without a physics step
        mujoco.mj_forward(self.world.model, self.world.data)

    def jitter_camera(self, rng: np.random.Generator) -> None:
        c, m = self.cfg, self.world.model
        m.cam_pos[self._cam] = self._cam_pos + rng.normal(0, c.camera_pos_jitter_m / 2, 3)
        w, x, y, z = self._cam_quat
        jitter = Rotation.from_rotvec(np.deg2rad(c.camera_rot_jitter_deg)
                                      * _random_unit(rng) * rng.random())
        x, y, z, w = (jitter * Rotation.from_quat([x, y, z, w])).as_quat()
        m.cam_quat[self._cam] = [w, x, y, z]
        self._refresh()

    def restore(self) -> None:
        m = self.world.model
        m.light_diffuse[:] = self._light_diffuse
        m.light_dir[:] = self._light_dir
        m.vis.headlight.ambient[:] = self._ambient
        if self._table_rgba is not None:
            m.mat_rgba[self._table_mat] = self._table_rgba
            m.mat_texid[self._table_mat, int(mujoco.mjtTextureRole.mjTEXROLE_RGB)] = \
                self._table_tex
        m.cam_pos[self._cam] = self._cam_pos
        m.cam_quat[self._cam] = self._cam_quat
        self._refresh()


def _random_unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)
