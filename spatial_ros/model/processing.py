"""Raw camera data + instruction -> model tensors (the "processing" third of the model).

Two steps, kept apart on purpose: ``resize_*`` makes the compact low-resolution form the
training cache stores (uint8 RGB, float16 metres), ``normalize_*`` turns a batch of those into
network input. Inference runs the same two steps, so training and serving cannot drift.

Bad input policy: anything malformed (wrong rank, channel count, rgb/depth size mismatch,
empty instruction) raises ``InputError`` naming the problem; anything merely imperfect (depth
holes as 0/NaN/inf, any image size, overlong instructions) is handled, the latter with a
warning.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from spatial_ros.model.config import SpatialMambaConfig

log = logging.getLogger(__name__)

# per-encoder pixel statistics (CLIP's published ones; SigLIP uses 0.5/0.5)
PIXEL_STATS = {"conv": ((0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
               "clip": ((0.4815, 0.4578, 0.4082), (0.2686, 0.2613, 0.2758)),
               "siglip": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))}


class InputError(ValueError):
    """An input the model cannot answer; the message says which and why."""


class TruncationWarning(UserWarning):
    """An instruction longer than the model's text window was cut."""


def check_rgb(rgb) -> np.ndarray:
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"rgb must be an (H, W, 3) image, got shape {arr.shape}")
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise InputError(f"rgb image is too small: {arr.shape[1]}x{arr.shape[0]}")
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise InputError("rgb image contains NaN or inf")
        scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0  # accept [0,1] floats
        return np.clip(arr * scale, 0, 255).astype(np.uint8)
    raise InputError(f"rgb must be uint8 or float, got {arr.dtype}")


def check_depth(depth, shape: tuple[int, int]) -> np.ndarray:
    """Metres as float32; uint16 is taken as millimetres (RealSense). Holes become 0."""
    arr = np.asarray(depth)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise InputError(f"depth must be an (H, W) image, got shape {arr.shape}")
    if arr.shape != shape:
        raise InputError(f"depth size {arr.shape[1]}x{arr.shape[0]} differs from rgb size "
                         f"{shape[1]}x{shape[0]}; align depth to colour first")
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float32) * 0.001
    elif np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
    else:
        raise InputError(f"depth must be float metres or uint16 millimetres, got {arr.dtype}")
    return np.where(np.isfinite(arr) & (arr > 0), arr, 0.0).astype(np.float32)


# the "xyz" depth input: X, Y and Z - OFFSET (as fractions of max_depth_m) divided by SCALE
XYZ_SCALE, XYZ_OFFSET = 0.25, 0.5


def point_map_metres(xyz: torch.Tensor, max_depth_m: float) -> torch.Tensor:
    """(..., 3) values of the "xyz" depth input (``normalize_depth``) back to metres."""
    return torch.stack([xyz[..., 0] * XYZ_SCALE, xyz[..., 1] * XYZ_SCALE,
                        xyz[..., 2] * XYZ_SCALE + XYZ_OFFSET], -1) * max_depth_m


def normalized_intrinsics(intr) -> torch.Tensor:
    """(4,) resolution-free intrinsics: fx/W, fy/H and the principal point as a fraction of
    the image, in the pixel-centres-at-(i + 0.5) convention the model's resizing uses."""
    return torch.tensor([intr.fx / intr.width, intr.fy / intr.height,
                         (intr.cx + 0.5) / intr.width, (intr.cy + 0.5) / intr.height],
                        dtype=torch.float32)


@dataclass
class TextBatch:
    input_ids: torch.Tensor  # (B, T) left-padded
    attention_mask: torch.Tensor  # (B, T)
    truncated: list[bool]


class SpatialMambaProcessor:
    """Holds the config and the tokenizer; stateless otherwise."""

    def __init__(self, config: SpatialMambaConfig, tokenizer) -> None:
        self.config = config
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"  # text comes first: pad away from the images
        mean, std = PIXEL_STATS[config.vision]
        self._mean = torch.tensor(mean).view(1, 3, 1, 1)
        self._std = torch.tensor(std).view(1, 3, 1, 1)

    # -- images ---------------------------------------------------------------------------
    def resize_rgb(self, rgb) -> torch.Tensor:
        """(H, W, 3) any size -> (3, h, w) uint8 at the model resolution (antialiased)."""
        arr = check_rgb(rgb)
        # (1, 3, H, W) view of the HWC array, i.e. channels-last: torch's uint8 antialiased
        # resize kernel then runs directly (8x faster than via float, within 1 grey level)
        x = torch.from_numpy(np.array(arr, copy=True)).permute(2, 0, 1)[None]
        size = (self.config.image_height, self.config.image_width)
        if x.shape[-2:] != size:
            x = F.interpolate(x.contiguous(memory_format=torch.channels_last), size=size,
                              mode="bilinear", antialias=True, align_corners=False)
        return x[0].contiguous()

    def resize_depth(self, depth_m, shape: tuple[int, int]) -> torch.Tensor:
        """(H, W) -> (1, h, w) float16 metres; area-average of *valid* pixels only, so holes
        shrink instead of dragging neighbours towards 0."""
        arr = check_depth(depth_m, shape)
        d = torch.from_numpy(arr)[None, None]  # check_depth returned a fresh array
        valid = (d > 0).float()
        size = (self.config.image_height, self.config.image_width)
        if d.shape[-2:] != size:
            num = F.interpolate(d, size=size, mode="area")
            den = F.interpolate(valid, size=size, mode="area")
            d = torch.where(den > 1e-3, num / den.clamp_min(1e-3), torch.zeros_like(num))
        return d[0].to(torch.float16)

    def normalize_rgb(self, rgb_u8: torch.Tensor) -> torch.Tensor:
        """(B, 3, h, w) uint8 -> float network input."""
        return (rgb_u8.float() / 255.0 - self._mean.to(rgb_u8.device)) / self._std.to(
            rgb_u8.device)

    def normalize_depth(self, depth: torch.Tensor, intrinsics: torch.Tensor | None = None
                        ) -> torch.Tensor:
        """(B, 1, h, w) metres -> (B, 3, h, w), a 3-channel image so the depth encoder can
        start from the RGB encoder's weights (RoboRefer). ``depth_input`` "xyz": the camera-
        frame point map from ``intrinsics`` ((B, 4), see ``normalized_intrinsics``); "depth":
        Z on all three channels. Holes stay 0 (X and Y too)."""
        d = depth.float()
        if self.config.depth_input == "xyz":
            if intrinsics is None:
                raise InputError("this model reads depth as a point map and needs intrinsics")
            h, w = d.shape[-2:]
            k = intrinsics.to(d.device, torch.float32)[:, :, None, None]
            u = (torch.arange(w, device=d.device, dtype=torch.float32) + 0.5) / w
            v = (torch.arange(h, device=d.device, dtype=torch.float32) + 0.5) / h
            x = d * (u.view(1, 1, 1, w) - k[:, 2:3]) / k[:, 0:1]
            y = d * (v.view(1, 1, h, 1) - k[:, 3:4]) / k[:, 1:2]
            s = 1.0 / self.config.max_depth_m
            z = ((d * s).clamp(0, 1) - XYZ_OFFSET) / XYZ_SCALE
            return torch.cat([(x * s).clamp(-1, 1) / XYZ_SCALE, (y * s).clamp(-1, 1) / XYZ_SCALE,
                              z], 1)
        d = (d / self.config.max_depth_m).clamp(0, 1).expand(-1, 3, -1, -1)
        return (d - self._mean.to(d.device)) / self._std.to(d.device)

    # -- text -----------------------------------------------------------------------------
    def tokenize(self, instructions: list[str]) -> TextBatch:
        for i, text in enumerate(instructions):
            if not isinstance(text, str):
                raise InputError(f"instruction {i} must be a string, got {type(text).__name__}")
            if not text.strip():
                raise InputError(f"instruction {i} is empty")
        limit = self.config.max_text_tokens
        full = self.tokenizer(instructions, add_special_tokens=True)["input_ids"]
        truncated = [len(ids) > limit for ids in full]
        for text, cut in zip(instructions, truncated, strict=True):
            if cut:
                msg = (f"instruction truncated to {limit} tokens: '{text[:60]}...'")
                warnings.warn(msg, TruncationWarning, stacklevel=3)
        enc = self.tokenizer(instructions, padding=True, truncation=True, max_length=limit,
                             return_tensors="pt")
        return TextBatch(enc["input_ids"], enc["attention_mask"], truncated)
