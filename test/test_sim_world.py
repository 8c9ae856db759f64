"""The tabletop world: seeded, collision-free, settled by real MuJoCo physics."""

from __future__ import annotations

import json

import mujoco
import numpy as np
import pytest

from spatial_ros.sim.colours import COLOURS
from spatial_ros.sim.objects import CATALOG
from spatial_ros.sim.randomization import DomainRandomizer, RandomizationConfig
from spatial_ros.sim.world import WorldConfig, build_world


def _object_contacts(world):
    """(dist, geom1, geom2) of every contact that involves a scene object."""
    d = world.data
    out = []
    for i in range(d.ncon):
        c = d.contact[i]
        if world.geom_to_object[c.geom1] >= 0 or world.geom_to_object[c.geom2] >= 0:
            out.append((float(c.dist), int(c.geom1), int(c.geom2)))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_world_settles_on_table_without_interpenetration(seed):
    world = build_world(WorldConfig(n_objects=8), seed=seed)
    assert len(world.objects) == 8
    table = world.table_top_z
    assert np.abs(world.object_velocities()).max() < 0.05, "objects still moving after settling"
    contacts = _object_contacts(world)
    assert contacts, "settled objects must rest on the table (no contacts found)"
    worst = min(dist for dist, _, _ in contacts)
    assert worst > -0.003, f"interpenetration of {-worst * 1000:.1f} mm"
    for obj in world.objects:
        z = obj.pose[2, 3]
        # resting upright: the centre is half the height above the table top (a few mm slack)
        assert abs(z - (table + obj.size[2] / 2)) < 0.006, (obj.name, z)
        assert obj.pose[2, 2] > 0.99, f"{obj.name} tipped over"
        x, y = (np.linalg.inv(world.base_pose) @ obj.pose[:, 3])[:2]
        x0, x1, y0, y1 = world.cfg.workspace
        assert x0 - 0.05 <= x <= x1 + 0.05 and y0 - 0.05 <= y <= y1 + 0.05, obj.name
    # pairwise: footprints of different objects never overlap (placement was collision-free)
    for a in world.objects:
        for b in world.objects:
            if a.id < b.id:
                gap = np.linalg.norm(a.pose[:2, 3] - b.pose[:2, 3])
                assert gap > 0.5 * (max(a.size[:2]) + max(b.size[:2])) * 0.7, (a.name, b.name)


def test_same_seed_same_scene_other_seed_other_scene():
    a = build_world(WorldConfig(n_objects=5), seed=7)
    b = build_world(WorldConfig(n_objects=5), seed=7)
    c = build_world(WorldConfig(n_objects=5), seed=8)
    assert [o.name for o in a.objects] == [o.name for o in b.objects]
    for oa, ob in zip(a.objects, b.objects, strict=True):
        np.testing.assert_allclose(oa.pose, ob.pose, atol=1e-9)
        assert oa.rgba == ob.rgba
    assert [o.name for o in a.objects] != [o.name for o in c.objects] or not np.allclose(
        a.objects[0].pose, c.objects[0].pose)


def test_scene_objects_are_complete_records():
    world = build_world(WorldConfig(n_objects=6), seed=3)
    kinds = set()
    for obj in world.objects:
        spec = CATALOG[obj.category]
        assert obj.graspable == spec.graspable and obj.is_container == spec.is_container
        assert COLOURS[obj.colour].contains(obj.rgba), (obj.name, obj.rgba)
        assert obj.name == f"{obj.colour}_{obj.category}_{obj.id}"
        assert all(0.02 <= s <= 0.3 for s in obj.size)
        assert world.model.geom_bodyid[list(obj.geom_ids)].tolist() == [obj.body_id] * len(
            obj.geom_ids)
        mass = world.model.body_subtreemass[obj.body_id]
        assert 0.015 < mass < 0.8, f"{obj.name} weighs {mass:.3f} kg"
        kinds.add(obj.is_container)
    assert kinds == {True, False}, "a scene of 6 has at least one container and graspables"
    gt = json.loads(json.dumps(world.ground_truth()))
    assert gt["frame"] == "base" and len(gt["objects"]) == 6
    first = gt["objects"][0]
    assert abs(first["position"][2] - world.objects[0].size[2] / 2) < 0.006  # table top z=0


def test_every_category_and_colour_builds():
    world = build_world(WorldConfig(n_objects=len(CATALOG), categories=list(CATALOG),
                                    max_containers=2), seed=0, settle=False)
    assert world.model.nbody >= len(CATALOG)
    for seed in range(3):
        for cat in CATALOG:
            w = build_world(WorldConfig(n_objects=1, categories=[cat],
                                        colours=["green"]), seed=seed, settle=False)
            assert w.objects[0].category == cat and w.objects[0].colour == "green"


def test_bad_configs_are_named_errors():
    with pytest.raises(ValueError, match="unknown object category 'teapot'"):
        build_world(WorldConfig(categories=["teapot"]))
    with pytest.raises(ValueError, match="unknown colour 'mauve'"):
        build_world(WorldConfig(colours=["mauve"]))
    with pytest.raises(ValueError, match="cannot place 40 objects"):
        build_world(WorldConfig(n_objects=40), settle=False)
    with pytest.raises(ValueError, match="workspace"):
        build_world(WorldConfig(workspace=(0.7, 0.3, -0.3, 0.3)))


def test_randomization_keeps_colour_names_and_is_seeded():
    world = build_world(WorldConfig(n_objects=6), seed=4, settle=False)
    rnd = DomainRandomizer(world, RandomizationConfig())
    cam = mujoco.mj_name2id(world.model, mujoco.mjtObj.mjOBJ_CAMERA, world.cfg.camera.name)
    pos0 = world.model.cam_pos[cam].copy()
    draws = []
    for _ in range(2):
        rnd.apply(np.random.default_rng(11))
        draws.append((world.model.geom_rgba.copy(), world.model.light_diffuse.copy(),
                      world.model.cam_pos[cam].copy()))
    for a, b in zip(draws[0], draws[1], strict=True):
        np.testing.assert_array_equal(a, b)
    table_textures = set()
    for seed in range(20):
        rnd.apply(np.random.default_rng(seed))
        rgb_role = int(mujoco.mjtTextureRole.mjTEXROLE_RGB)
        table_textures.add(int(world.model.mat_texid[world.model.material("table").id, rgb_role]))
        for obj in world.objects:
            rgba = world.model.geom_rgba[obj.geom_ids[0]]
            assert COLOURS[obj.colour].contains(rgba), (obj.colour, rgba)
        assert np.linalg.norm(world.model.cam_pos[cam] - pos0) < 0.06
        np.testing.assert_allclose(world.data.cam_xpos[cam], world.model.cam_pos[cam])
    assert len(table_textures) >= 3, table_textures
    rnd.restore()
    np.testing.assert_array_equal(world.model.cam_pos[cam], pos0)
