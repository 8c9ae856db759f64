"""Images a person can check: colourized depth and a labelled mask overlay of a ``Frame``.

Used by ``spatial-ros sim render`` and the docs: depth in matplotlib's turbo colormap
(near warm, far cool, missing depth black, as in the RealSense viewer), masks as one colour
per object blended over the RGB image with the object's name written on it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from spatial_ros.sim.camera import Frame
from spatial_ros.sim.world import World


def colorize_depth(depth_mm: np.ndarray, near_m: float | None = None,
                   far_m: float | None = None) -> np.ndarray:
    """uint16 mm -> HxWx3 uint8 (turbo, near warm / far cool, no depth = black)."""
    from matplotlib import colormaps

    z = depth_mm.astype(np.float32) / 1000.0
    valid = z > 0
    if not valid.any():
        return np.zeros((*z.shape, 3), np.uint8)
    # the workspace, not the far floor, should use the colour range
    lo = near_m if near_m is not None else float(np.percentile(z[valid], 1))
    hi = far_m if far_m is not None else float(np.percentile(z[valid], 75))
    t = np.clip((z - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    rgb = (colormaps["turbo"](1.0 - t)[..., :3] * 255).astype(np.uint8)
    rgb[~valid] = 0
    return rgb


def mask_overlay(rgb: np.ndarray, segmentation: np.ndarray, world: World | None = None,
                 alpha: float = 0.4) -> np.ndarray:
    """Blends a distinct colour per object id over ``rgb``, outlines it and writes its name."""
    from matplotlib import colormaps

    out = rgb.astype(np.float32)
    palette = colormaps["tab10"]
    ids = [int(i) for i in np.unique(segmentation) if i >= 0]
    for i in ids:
        mask = segmentation == i
        colour = np.array(palette(i % 10)[:3]) * 255
        out[mask] = (1 - alpha) * out[mask] + alpha * colour
        edge = mask & ~ndimage.binary_erosion(mask, iterations=2)
        out[edge] = colour
    image = Image.fromarray(out.clip(0, 255).astype(np.uint8))
    if world is not None:
        draw = ImageDraw.Draw(image)
        for i in ids:
            rows, cols = np.nonzero(segmentation == i)
            label = world.objects[i].name.rsplit("_", 1)[0].replace("_", " ")
            x, y = int(cols.mean()), int(rows.min()) - 12
            box = draw.textbbox((x, y), label)
            shift = (box[2] - box[0]) // 2
            draw.rectangle((box[0] - shift - 2, box[1] - 1, box[2] - shift + 2, box[3] + 1),
                           fill=(0, 0, 0))
            draw.text((x - shift, y), label, fill=(255, 255, 255))
    return np.asarray(image)


def save_frame(frame: Frame, world: World, out_dir: str | Path) -> dict[str, Path]:
    """Writes rgb.png, depth.png (colourized), depth_mm.png (uint16), mask.png (uint8 ids+1),
    overlay.png and scene.json (ground truth, intrinsics, camera pose); returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.png" for name in ("rgb", "depth", "depth_mm", "mask",
                                                     "overlay")}
    Image.fromarray(frame.rgb).save(paths["rgb"])
    Image.fromarray(colorize_depth(frame.depth_mm)).save(paths["depth"])
    Image.fromarray(frame.depth_mm).save(paths["depth_mm"])
    Image.fromarray((frame.segmentation + 1).clip(0, 255).astype(np.uint8)).save(paths["mask"])
    Image.fromarray(mask_overlay(frame.rgb, frame.segmentation, world)).save(paths["overlay"])
    truth = world.ground_truth("base")
    truth["intrinsics"] = frame.intrinsics.to_dict()
    truth["camera_pose_world"] = np.round(frame.camera_pose, 6).tolist()
    truth["base_pose_world"] = world.base_pose.tolist()
    paths["scene"] = out / "scene.json"
    paths["scene"].write_text(json.dumps(truth, indent=1))
    return paths
