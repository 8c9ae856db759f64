"""``spatial-ros sim render`` writes the PNGs a person (and the data engine) can use."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from spatial_ros.cli.main import main


def test_sim_render_cli_writes_consistent_pngs(tmp_path, capsys):
    out = tmp_path / "frame"
    rc = main(["sim", "render", "--robot", "ur5", "--seed", "1", "--width", "320",
               "--height", "240", "--out", str(out)])
    assert rc == 0
    assert "overlay" in capsys.readouterr().out
    rgb = np.asarray(Image.open(out / "rgb.png"))
    depth_rgb = np.asarray(Image.open(out / "depth.png"))
    overlay = np.asarray(Image.open(out / "overlay.png"))
    depth_mm = np.asarray(Image.open(out / "depth_mm.png"))
    mask = np.asarray(Image.open(out / "mask.png"))
    assert rgb.shape == depth_rgb.shape == overlay.shape == (240, 320, 3)
    assert depth_mm.dtype == np.uint16 and depth_mm.shape == (240, 320)
    scene = json.loads((out / "scene.json").read_text())
    assert scene["intrinsics"]["fx"] == 307.5 and len(scene["objects"]) == 6
    ids = {int(i) - 1 for i in np.unique(mask)} - {-1}
    assert ids and ids <= {o["id"] for o in scene["objects"]}
    on_objects = mask > 0
    # the overlay differs from the RGB image on the masks and (apart from labels) not elsewhere
    changed = np.any(overlay != rgb, axis=2)
    assert changed[on_objects].mean() > 0.9
    assert changed[~on_objects].mean() < 0.1
    # depth of the table in front of the camera is about where the camera geometry puts it
    assert 800 < np.median(depth_mm[depth_mm > 0]) < 2000
