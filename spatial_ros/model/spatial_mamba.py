"""SpatialMamba: a depth-aware Mamba policy that points at what an instruction refers to.

    instruction -> WordPiece -> frozen token vectors -> text projector ─┐
    depth -> XYZ map -> depth encoder (init = RGB enc.) -> projector ───┼─> [text|depth|rgb|
    RGB              -> RGB encoder                     -> projector ───┘    rgb+depth]
                              (image tokens FiLM-conditioned on the instruction)   │
                                                                   Mamba / Mamba-2 backbone
                                                                                │
               second-read outputs ── point head: per-token logit + sub-patch offset
                     pooled outputs    ── policy head: contact refinement, 6D rotation,
                                                       gripper width, depth offset (7-DoF)

Design choices and their sources:
- RoboRefer: the answer is a *point*; depth has its own encoder with the RGB encoder's
  architecture, initialised from its weights, so depth never disturbs RGB features.
- RoboMamba: vision + text tokens through a state-space backbone (linear in sequence length);
  an MLP policy head on pooled tokens; 6D rotation -> Gram-Schmidt -> geodesic loss.
- Depth as a point map: the depth encoder reads camera-frame X, Y, Z (back-projected with the
  intrinsics) instead of Z alone, so spatial relations are differences of input values.
- Token order [text, depth, rgb, rgb+depth]: the backbone is causal, so putting the
  instruction first lets every image token be computed knowing what is being asked for; the
  image is then read a second time (each cell's RGB and depth tokens summed), because on the
  first read a token cannot know about an anchor object later in raster order ("Just read
  twice", Arora et al. 2024). The pooled instruction also scales and shifts every image token
  (FiLM, Perez et al. 2018), which lets colour/category words gate features directly; the
  point score adds a bilinear match of each second-read token against a query built from
  the last output token (the only one that has scanned everything) and the instruction.
- Colour bypasses the scan twice (config ``colour_skip``, ``colour_match``): each cell's
  pooled input colours are added to its RGB token and scored directly against a colour-word
  query, because the from-scratch encoder, then the text side, had each dropped colour.
- Shape bypasses it the same way (``shape_match``): a small conv net reads each pixel's
  height above the fitted table plane, a view of the objects that does not change with the
  camera pose as the camera-frame point map does.
- Relations are computed, not scanned for (``relation_match``): two anchor heads point at the
  objects the instruction's relation is to (their own loss), and each cell is scored by its
  offset from those soft anchor positions in a table-level frame, as in neural module
  networks' attend-then-relate (Andreas et al. 2016; Hu et al. 2017).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from spatial_ros.data.vocab import CATEGORY_NOUNS, COLOURS
from spatial_ros.model.config import SpatialMambaConfig
from spatial_ros.model.processing import point_map_metres
from spatial_ros.model.text import SentenceEncoder, build_text_encoder

# ----------------------------------------------------------------------------- encoders


class ConvEncoder(nn.Module):
    """Small from-scratch patch encoder: a patchify stem (stride ``stem``), then stride-2 conv
    blocks with a depthwise context conv each; one token per output cell."""

    def __init__(self, channels: list[int], stem: int = 4, final_stride: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i, c_out in enumerate(channels):
            last = i == len(channels) - 1
            k, s, p = (stem, stem, 0) if i == 0 else (3, final_stride if last else 2, 1)
            layers += [nn.Conv2d(c_in, c_out, k, stride=s, padding=p, bias=False),
                       nn.GroupNorm(min(8, c_out), c_out), nn.GELU(),
                       nn.Conv2d(c_out, c_out, 3, padding=1, groups=c_out),  # cheap context
                       nn.GELU()]
            c_in = c_out
        self.net = nn.Sequential(*layers)
        self.out_dim = channels[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(2).transpose(1, 2)  # (B, rows*cols, C), raster order


class TowerEncoder(nn.Module):
    """A transformers CLIP/SigLIP vision tower; patch tokens only (CLS dropped)."""

    def __init__(self, kind: str, tower_config: dict, source: str | None) -> None:
        super().__init__()
        from transformers import (
            CLIPVisionConfig,
            CLIPVisionModel,
            SiglipVisionConfig,
            SiglipVisionModel,
        )

        cfg_cls, model_cls = {"clip": (CLIPVisionConfig, CLIPVisionModel),
                              "siglip": (SiglipVisionConfig, SiglipVisionModel)}[kind]
        if source is not None:
            self.tower = model_cls.from_pretrained(source)
        else:
            self.tower = model_cls(cfg_cls(**tower_config))
        self.has_cls = kind == "clip"
        self.out_dim = self.tower.config.hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.tower(pixel_values=x).last_hidden_state
        return tokens[:, 1:] if self.has_cls else tokens


def build_vision_encoder(cfg: SpatialMambaConfig, pretrained: bool) -> nn.Module:
    if cfg.vision == "conv":
        return ConvEncoder(cfg.conv_channels, cfg.conv_stem, cfg.conv_final_stride)
    return TowerEncoder(cfg.vision, cfg.vision_tower_config,
                        cfg.vision_tower if pretrained else None)


class Projector(nn.Module):
    """LLaVA-style two-layer MLP from an encoder's width to the backbone width."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, d_out), nn.GELU(), nn.Linear(d_out, d_out))
        self.norm = nn.LayerNorm(d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.net(x))


def build_backbone(cfg: SpatialMambaConfig) -> nn.Module:
    """transformers Mamba-2 (chunked SSD scan in torch) or Mamba (Python loop over tokens in
    torch); both switch to the mamba-ssm CUDA kernels when those are installed."""
    if cfg.backbone == "mamba2":
        from transformers import Mamba2Config, Mamba2Model

        return Mamba2Model(Mamba2Config(
            hidden_size=cfg.d_model, num_hidden_layers=cfg.n_layers, state_size=cfg.state_size,
            expand=cfg.expand, head_dim=cfg.head_dim, num_heads=cfg.expand * cfg.d_model //
            cfg.head_dim, n_groups=cfg.n_groups, chunk_size=cfg.chunk_size,
            conv_kernel=cfg.conv_kernel, vocab_size=1, pad_token_id=None,
            bos_token_id=None, eos_token_id=None))
    from transformers import MambaConfig, MambaModel

    return MambaModel(MambaConfig(
        hidden_size=cfg.d_model, num_hidden_layers=cfg.n_layers, state_size=cfg.state_size,
        expand=cfg.expand, conv_kernel=cfg.conv_kernel, vocab_size=1, pad_token_id=None,
            bos_token_id=None, eos_token_id=None))


# ----------------------------------------------------------------------------- rotations


def rot6d_to_matrix(r6: torch.Tensor) -> torch.Tensor:
    """Differentiable Gram-Schmidt: (..., 6) [col0, col1] -> (..., 3, 3) (Zhou et al. 2019).

    Same column convention as ``spatial_ros.geometry.rotations.rot6d_to_matrix`` (numpy).
    """
    a1, a2 = r6[..., 0:3], r6[..., 3:6]
    b1 = F.normalize(a1, dim=-1, eps=1e-6)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1, eps=1e-6)
    return torch.stack([b1, b2, torch.cross(b1, b2, dim=-1)], dim=-1)


def geodesic_angle(r1: torch.Tensor, r2: torch.Tensor) -> torch.Tensor:
    """Angle (radians) of R1^T R2, clamped so its gradient stays finite at 0 and pi."""
    cos = ((r1.transpose(-1, -2) @ r2).diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    return torch.acos(cos.clamp(-1 + 1e-6, 1 - 1e-6))


# ----------------------------------------------------------------------------- heads


QUARTER_TURN_Z = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def grasp_rotation_error(r_pred: torch.Tensor, r_true: torch.Tensor,
                         symmetry: torch.Tensor | None = None) -> torch.Tensor:
    """Geodesic angle (radians), the smallest over the turns about the approach axis that
    give the same grasp: per sample, ``symmetry`` is their order as
    ``data.grasps.approach_symmetry`` returns (2: the parallel gripper's half turn, the
    default; 4: a cube's quarter turns; 0: any turn, only the approach direction counts)."""
    turn = QUARTER_TURN_Z.to(r_true)
    turned = [r_true]  # quarter turns 0-3
    for _ in range(3):
        turned.append(turned[-1] @ turn)
    half = torch.minimum(geodesic_angle(r_pred, turned[0]), geodesic_angle(r_pred, turned[2]))
    if symmetry is None:
        return half
    quarter = torch.minimum(half, torch.minimum(geodesic_angle(r_pred, turned[1]),
                                                geodesic_angle(r_pred, turned[3])))
    cos = (r_pred[..., :, 2] * r_true[..., :, 2]).sum(-1)
    approach = torch.acos(cos.clamp(-1 + 1e-6, 1 - 1e-6))
    symmetry = symmetry.to(r_pred.device)
    return torch.where(symmetry == 0, approach, torch.where(symmetry == 4, quarter, half))


def _fit_plane(p: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted least-squares plane through (B, N, 3) points: (centre (B, 3), unit normal)."""
    centre = (w.unsqueeze(-1) * p).sum(1) / w.sum(1, keepdim=True).clamp_min(1)
    q = (p - centre.unsqueeze(1)) * w.unsqueeze(-1)
    cov = q.transpose(1, 2) @ q + 1e-6 * torch.eye(3, device=p.device)
    return centre, torch.linalg.eigh(cov)[1][..., 0]  # smallest eigenvalue's vector


def table_plane(xyz: torch.Tensor, grid: tuple[int, int], max_depth_m: float
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """(centre (B, 3), up (B, 3)) of the table, camera frame, from the model's normalised
    point map ("xyz" depth input). The plane is fitted to the coarse point map twice, the
    second time without the 40 % of points farthest from the first fit (objects on the
    table); the normal is turned to face the camera."""
    coarse = F.adaptive_avg_pool2d(xyz.float(), (2 * grid[0], 2 * grid[1]))
    p = point_map_metres(coarse.flatten(2).transpose(1, 2), max_depth_m)  # (B, N, 3)
    w = (p[..., 2] > 0.05).float()  # holes read as z = 0
    centre, normal = _fit_plane(p, w)
    dist = ((p - centre.unsqueeze(1)) @ normal.unsqueeze(-1))[..., 0].abs()
    dist = dist.masked_fill(w == 0, float("inf"))
    cut = dist.kthvalue(max(3, int(0.6 * p.shape[1])), dim=1).values.unsqueeze(1)
    centre, normal = _fit_plane(p, w * (dist <= cut).float())
    up = torch.where((normal * centre).sum(-1, keepdim=True) > 0, -normal, normal)
    return centre, up


def camera_geometry(xyz: torch.Tensor, up: torch.Tensor, weight: torch.Tensor,
                    grid: tuple[int, int], max_depth_m: float) -> torch.Tensor:
    """(B, 6): the table's up normal and the unit ray to the referred object, camera frame.

    ``xyz`` is the model's normalised point map, ``up`` the table's (``table_plane``; fitted
    once per forward, the shape match reads the same plane), ``weight`` (B, rows*cols) where
    the point head looks.
    """
    ray = F.normalize((weight.unsqueeze(-1) * cell_points(xyz, grid, max_depth_m)).sum(1), dim=-1)
    return torch.cat([up, ray], -1)


def cell_points(xyz: torch.Tensor, grid: tuple[int, int], max_depth_m: float) -> torch.Tensor:
    """(B, rows*cols, 3) each token cell's mean camera-frame point, metres, raster order."""
    pooled = F.adaptive_avg_pool2d(xyz.float(), grid).flatten(2).transpose(1, 2)
    return point_map_metres(pooled, max_depth_m)


HEIGHT_SCALE = 10.0  # height-map input in decimetres: table-top objects span 0-1.7
MAX_HEIGHT_M = 0.3  # higher is background (a robot's arm), not an object's shape


def table_heights(xyz: torch.Tensor, plane: tuple[torch.Tensor, torch.Tensor],
                  max_depth_m: float) -> torch.Tensor:
    """(B, 1, H, W) each pixel's height above the table ``plane`` (``table_plane``; scaled;
    holes and points below the table 0), at the point map's resolution: a pose-free view of
    the objects' shapes."""
    centre, up = plane
    p = point_map_metres(xyz.float().permute(0, 2, 3, 1), max_depth_m)  # (B, H, W, 3)
    h = ((p - centre[:, None, None]) * up[:, None, None]).sum(-1)
    h = h.masked_fill(p[..., 2] <= 0.05, 0.0).clamp(0.0, MAX_HEIGHT_M)
    return (HEIGHT_SCALE * h).unsqueeze(1)


class HeightEncoder(nn.Module):
    """Height map -> one shape key per token cell. Stride ``patch`` like the image encoders;
    the last 3x3 conv lets a cell see its neighbours (an object spans several cells)."""

    def __init__(self, patch: int, width: int, final_stride: int = 2) -> None:
        super().__init__()
        stem = patch // (2 * final_stride)  # patch = stem * 2 * final_stride
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, stem, stride=stem), nn.GELU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(32, 32, 3, stride=final_stride, padding=1), nn.GELU(),
            nn.Conv2d(32, width, 3, padding=1))

    def forward(self, heights: torch.Tensor) -> torch.Tensor:
        return self.net(heights).flatten(2).transpose(1, 2)  # (B, rows*cols, width)


def gravity_frame(geo: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) columns x, y, z: z the line of sight to the answered cell made level with the
    table, y = up x z (level), x = y x z; ``geo`` from ``camera_geometry``."""
    up, ray = geo[:, :3], geo[:, 3:]
    z = ray - (ray * up).sum(-1, keepdim=True) * up
    z = F.normalize(z + 1e-6 * torch.roll(ray, 1, -1), dim=-1)  # never zero: a straight-down look
    y = F.normalize(torch.linalg.cross(up, z), dim=-1)
    return torch.stack([torch.linalg.cross(y, z), y, z], -1)


PLANE_REFIT_BANDS_M = (0.03, 0.015, 0.008, 0.004)  # refine_plane's shrinking inlier bands
PLANE_REFIT_MIN_POINTS = 50


def refine_plane(p: torch.Tensor, plane: tuple[torch.Tensor, torch.Tensor]
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``table_plane`` refitted on a finer point map ``p`` ((B, N, 3) metres, camera frame),
    to the points within a shrinking band of the previous fit (``PLANE_REFIT_BANDS_M``): on
    the val frames the table's normal goes from 2.9 (bare tables) and 4.5 (robot views)
    degrees median error to 0.03. Where a band holds too few points the previous fit stays.
    Only the footprint frame reads it; the trained point scores keep reading
    ``table_plane``."""
    valid = p[..., 2] > 0.05
    centre, up = plane
    for band in PLANE_REFIT_BANDS_M:
        near = valid & (((p - centre[:, None]) * up[:, None]).sum(-1).abs() < band)
        c, n = _fit_plane(p, near.float())
        n = torch.where((n * c).sum(-1, keepdim=True) > 0, -n, n)  # facing the camera
        enough = (near.sum(1) >= PLANE_REFIT_MIN_POINTS)[:, None]
        centre, up = torch.where(enough, c, centre), torch.where(enough, n, up)
    return centre, up


FOOTPRINT_YAWS = 18  # candidate rectangle yaws, 5 degrees apart over a quarter turn
FOOTPRINT_MIN_HEIGHT_M = 0.008  # above the table: the object, not the table's noise
FOOTPRINT_RADIUS_M = 0.06  # level distance from the object's centre still counted as it
FOOTPRINT_MIN_POINTS = 6
FOOTPRINT_TOP_SHARE = 0.7  # points at least this share of the object's height outline it


def footprint_frame(xyz: torch.Tensor, plane: tuple[torch.Tensor, torch.Tensor],
                    cell: torch.Tensor, geo: torch.Tensor, grid: tuple[int, int],
                    max_depth_m: float) -> torch.Tensor:
    """(B, 3, 3) columns x, y, z at the answered ``cell``: z down the table's normal
    (``refine_plane``), y level across the narrow side of the object's depth footprint,
    x = y x z. A top-down grasp across an object's narrow side is the identity here, so its
    yaw is read off the depth rather than learned from a few pixels. The footprint is the
    smallest-area rectangle (over ``FOOTPRINT_YAWS`` yaws) around the points above the table
    within ``FOOTPRINT_RADIUS_M`` of the object's centre, in a 3x3-cell window around the
    cell. Where too few points stand above the table, y is the level normal to the line of
    sight (as in the gravity frame). ``plane`` from ``table_plane``, ``geo`` from
    ``camera_geometry``."""
    b, _, h, w = xyz.shape
    rows, cols = grid
    ph, pw = h // rows, w // cols
    wr, wc = min(3, rows) * ph, min(3, cols) * pw  # the window, in pixels
    r0 = ((cell // cols - 1) * ph).clamp(0, h - wr)
    c0 = ((cell % cols - 1) * pw).clamp(0, w - wc)
    ys = r0[:, None] + torch.arange(wr, device=xyz.device)
    xs = c0[:, None] + torch.arange(wc, device=xyz.device)
    index = (ys[:, :, None] * w + xs[:, None, :]).flatten(1)  # (B, n) window pixels
    p = point_map_metres(xyz.float().flatten(2).transpose(1, 2), max_depth_m)
    every_other = p.view(b, h, w, 3)[:, ::2, ::2].reshape(b, -1, 3)  # 4x fewer, as precise
    centre, up = refine_plane(every_other, plane)
    p = p.gather(1, index.unsqueeze(-1).expand(-1, -1, 3))  # (B, n, 3)
    height = ((p - centre[:, None]) * up[:, None]).sum(-1)
    above = (height > FOOTPRINT_MIN_HEIGHT_M) & (height < MAX_HEIGHT_M) & (p[..., 2] > 0.05)
    # seed: the points nearest the answered cell's middle, then twice re-centred on the object
    cy = (cell // cols).float() * ph + 0.5 * ph - r0.float()
    cx = (cell % cols).float() * pw + 0.5 * pw - c0.float()
    py = torch.arange(wr, device=xyz.device).float()[None, :, None] - cy[:, None, None]
    px = torch.arange(wc, device=xyz.device).float()[None, None, :] - cx[:, None, None]
    weight = torch.exp(-(py ** 2 + px ** 2) / (0.5 * ph * pw)).flatten(1) * above
    members = above
    for _ in range(2):
        mid = (weight.unsqueeze(-1) * p).sum(1) / weight.sum(1, keepdim=True).clamp_min(1e-9)
        level = (p - mid[:, None]) - ((p - mid[:, None]) * up[:, None]).sum(-1, True) * up[:, None]
        members = above & (level.norm(dim=-1) < FOOTPRINT_RADIUS_M)
        weight = members.float()
    # the upper part only: a prism's top outlines its footprint, and seen at a slant its lower
    # edges blur into the table (pixels mixing the two surfaces land behind the object)
    top = height.masked_fill(~members, 0.0).amax(1, keepdim=True)
    members = members & (height >= FOOTPRINT_TOP_SHARE * top)
    gravity = gravity_frame(torch.cat([up, geo[:, 3:]], -1))
    e1, e2 = gravity[..., 2], gravity[..., 1]  # level: along the line of sight, across it
    q = torch.stack([(level * e1[:, None]).sum(-1), (level * e2[:, None]).sum(-1)], -1)
    yaw = torch.arange(FOOTPRINT_YAWS, device=xyz.device).float() * (
        0.5 * math.pi / FOOTPRINT_YAWS)
    u = torch.stack([yaw.cos(), yaw.sin()], -1)  # (K, 2); v = u turned a quarter
    along = q @ u.T  # (B, n, K)
    across = q @ torch.stack([-yaw.sin(), yaw.cos()], -1).T
    inside = members.unsqueeze(-1)

    def extent(t: torch.Tensor) -> torch.Tensor:
        return t.masked_fill(~inside, -1e9).amax(1) - t.masked_fill(~inside, 1e9).amin(1)

    a, c = extent(along), extent(across)  # (B, K)
    best = (a * c).argmin(-1)
    a, c = a.gather(1, best[:, None])[:, 0], c.gather(1, best[:, None])[:, 0]
    k = yaw[best] + torch.where(a <= c, 0.0, 0.5 * math.pi)  # narrow side's direction
    y = k.cos()[:, None] * e1 + k.sin()[:, None] * e2
    y = torch.where((members.sum(1) >= FOOTPRINT_MIN_POINTS)[:, None], y, e2)
    z = -up
    return torch.stack([torch.linalg.cross(y, z), y, z], -1)


def table_frame(up: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) columns: the image's right made level with the table, the level direction
    away from the camera, and the table's up: the frame "left of" and "behind" are read in,
    whatever the camera's pitch and roll."""
    x = torch.zeros_like(up)
    x[:, 0] = 1.0
    right = F.normalize(x - (x * up).sum(-1, keepdim=True) * up, dim=-1)
    return torch.stack([right, torch.linalg.cross(up, right), up], -1)


def _mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, d_out))


COLOUR_WIDTH = 32  # colour_match key/query width: colour is a low-dimensional thing
SHAPE_WIDTH = 32  # shape_match key/query width: seven categories, a few sizes
RELATION_WIDTH = 32  # relation_match key/query width
N_ANCHORS = 2  # "between" names two objects
RELATION_SCALE = 10.0  # anchor offsets in decimetres: table-top relations span about -6..6
OBJECT_CATEGORIES = tuple(CATEGORY_NOUNS)  # object_aux's class order (and COLOURS')
N_OBJECTS = 12  # object_aux: objects per frame the tensor cache keeps (scenes have 3-10)


def _pooled_query(feats: torch.Tensor, attention_mask: torch.Tensor, weight: nn.Linear,
                  query: nn.Linear) -> torch.Tensor:
    """(B, D) query: per-word queries averaged with learned attention over the real words."""
    w = weight(feats)[..., 0].float()
    w = w.masked_fill(attention_mask == 0, float("-inf")).softmax(dim=1)
    return (w.unsqueeze(-1).to(feats.dtype) * query(feats)).sum(1)


def _match(keys: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """(B, N) scaled dot products of (B, N, D) keys with a (B, D) query."""
    return (keys @ query.unsqueeze(-1))[..., 0] / math.sqrt(query.shape[-1])


class FineColourMatch(nn.Module):
    """Colour read where it is: a 1x1 conv key per sub-patch (mean input colour and height
    above the table, so object pixels can be told from the table's), matched against colour
    queries; a cell's score is the log-mean-exp over its sub-patches, a soft maximum that a
    small object covering a few of them still wins. Zero-initialised queries: a checkpoint
    without the part answers as before when it is added."""

    def __init__(self, d_word: int, factor: int) -> None:
        super().__init__()
        self.factor = factor
        self.key = nn.Sequential(nn.Conv2d(4, COLOUR_WIDTH, 1), nn.GELU(),
                                 nn.Conv2d(COLOUR_WIDTH, COLOUR_WIDTH, 1))
        self.weight = nn.Linear(d_word, 1)
        self.query = nn.Linear(d_word, COLOUR_WIDTH)
        nn.init.zeros_(self.query.weight)
        nn.init.zeros_(self.query.bias)

    def keys(self, rgb: torch.Tensor, heights: torch.Tensor, grid: tuple[int, int]
             ) -> torch.Tensor:
        """(B, COLOUR_WIDTH, rows*f, cols*f) from normalised RGB and ``table_heights``."""
        size = (grid[0] * self.factor, grid[1] * self.factor)
        x = torch.cat([F.adaptive_avg_pool2d(rgb, size),
                       F.adaptive_avg_pool2d(heights.to(rgb.dtype), size)], 1)
        return self.key(x)

    def cell_scores(self, keys: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """(B, K, N) per-cell scores of (B, K, COLOUR_WIDTH) queries."""
        c, h, w = keys.shape[1:]
        f = self.factor
        s = torch.einsum("bchw,bkc->bkhw", keys, queries.to(keys.dtype)) / math.sqrt(c)
        s = s.unflatten(2, (h // f, f)).unflatten(4, (w // f, f))  # (B, K, rows, f, cols, f)
        s = s.permute(0, 1, 2, 4, 3, 5).flatten(4).float()  # (B, K, rows, cols, f*f)
        return (s.logsumexp(-1) - math.log(f * f)).flatten(2)

    def forward(self, keys: torch.Tensor, word_feats: torch.Tensor,
                attention_mask: torch.Tensor) -> torch.Tensor:
        query = _pooled_query(word_feats, attention_mask, self.weight, self.query)
        return self.cell_scores(keys, query.unsqueeze(1))[:, 0]


class RelationMatch(nn.Module):
    """Attend, then relate: ``N_ANCHORS`` anchor heads, each a word-attention query (one
    shared projection, its own attention over the words: "the yellow thing" vs "the gray
    sphere") against the second-read tokens and, when given, the colour and shape keys; the
    softmax of each is a soft anchor position; every cell's offset from each anchor in
    ``table_frame`` (and its level distance) goes through an MLP to a relation key, matched
    against a relation query pooled over the words (zero-initialised: a checkpoint without the
    part answers as before when it is added)."""

    def __init__(self, d_word: int, d: int, colour: bool, shape: bool,
                 fine: bool = False) -> None:
        super().__init__()
        self.anchor_weight = nn.Linear(d_word, N_ANCHORS)
        self.anchor_query = nn.Linear(d_word, d)
        self.anchor_key = nn.Linear(d, d)
        self.anchor_colour = nn.Linear(d_word, COLOUR_WIDTH) if colour else None
        self.anchor_shape = nn.Linear(d_word, SHAPE_WIDTH) if shape else None
        self.anchor_fine = None
        if fine:  # the anchors' own colour words on the fine colour keys; zero init
            self.anchor_fine = nn.Linear(d_word, COLOUR_WIDTH)
            nn.init.zeros_(self.anchor_fine.weight)
            nn.init.zeros_(self.anchor_fine.bias)
        self.relation_key = _mlp(4 * N_ANCHORS, 64, RELATION_WIDTH)
        self.relation_weight = nn.Linear(d_word, 1)
        self.relation_query = nn.Linear(d_word, RELATION_WIDTH)
        nn.init.zeros_(self.relation_query.weight)
        nn.init.zeros_(self.relation_query.bias)

    def anchor_logits(self, word_feats: torch.Tensor, attention_mask: torch.Tensor,
                      tokens: torch.Tensor, colour_keys: torch.Tensor | None,
                      shape_keys: torch.Tensor | None,
                      fine: tuple[FineColourMatch, torch.Tensor] | None = None) -> torch.Tensor:
        """(B, N_ANCHORS, N) where each anchor head looks; ``fine``: the fine colour part
        and its keys."""
        w = self.anchor_weight(word_feats).float()
        w = w.masked_fill(attention_mask.unsqueeze(-1) == 0, float("-inf")).softmax(dim=1)
        pooled = w.transpose(1, 2).to(word_feats.dtype) @ word_feats  # (B, K, d_word)

        def match(keys: torch.Tensor, query: nn.Linear) -> torch.Tensor:
            q = query(pooled)
            return keys @ q.transpose(1, 2) / math.sqrt(q.shape[-1])  # (B, N, K)

        logits = match(self.anchor_key(tokens), self.anchor_query)
        if self.anchor_colour is not None:
            logits = logits + match(colour_keys.to(pooled.dtype), self.anchor_colour)
        if self.anchor_shape is not None:
            logits = logits + match(shape_keys.to(pooled.dtype), self.anchor_shape)
        logits = logits.transpose(1, 2).float()
        if self.anchor_fine is not None and fine is not None:
            part, keys = fine
            logits = logits + part.cell_scores(keys, self.anchor_fine(pooled))
        return logits

    def forward(self, word_feats: torch.Tensor, attention_mask: torch.Tensor,
                tokens: torch.Tensor, colour_keys: torch.Tensor | None,
                shape_keys: torch.Tensor | None, points: torch.Tensor, frame: torch.Tensor,
                fine: tuple[FineColourMatch, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (relation score (B, N), anchor logits (B, N_ANCHORS, N)); ``points`` (B, N, 3)
        each cell's camera-frame point (``cell_points``), ``frame`` from ``table_frame``."""
        anchors = self.anchor_logits(word_feats, attention_mask, tokens, colour_keys,
                                     shape_keys, fine)
        where = anchors.softmax(-1) @ points  # (B, K, 3)
        offsets = (points.unsqueeze(1) - where.unsqueeze(2)) @ frame.unsqueeze(1) * RELATION_SCALE
        level = (offsets[..., :2].square().sum(-1, keepdim=True) + 1e-6).sqrt()
        feats = torch.cat([offsets, level], -1).transpose(1, 2).flatten(2)  # (B, N, 4K)
        keys = self.relation_key(feats.to(tokens.dtype))
        query = _pooled_query(word_feats, attention_mask, self.relation_weight,
                              self.relation_query)
        return _match(keys, query), anchors


POLICY_OUTPUTS = 2 + 6 + 1 + 1  # contact refinement, 6D rotation, gripper width, depth offset
GATE_CONTEXT = 3  # the text gates score each word with the two before it


def _init_policy_output(last: nn.Linear) -> None:
    """Start near the frame's identity rotation, a 4 cm opening and no offsets."""
    with torch.no_grad():
        last.weight.mul_(0.01)
        last.bias.zero_()
        last.bias[2:8] = torch.tensor([1.0, 0, 0, 0, 1.0, 0])
        last.bias[8] = math.log(math.expm1(0.04))


class SideGraspHead(nn.Module):
    """A second policy head for grasps from the side, and the gate that says a phrase asks
    for one (``SpatialMambaConfig.side_grasp``).

    Why a second head: the one policy head, fine-tuned on side grasps, met the side target
    and lost the top-down yaw (5.9 -> 23.7 deg median): one set of weights in one frame
    cannot hold both. This head reads the answered cell's token, the instruction and the
    camera geometry and answers in the gravity frame (a side grasp is its identity); the
    shipped head is left as it is. The gate reads the instruction's words only (which kind of
    grasp is asked for is in the words, not in the scene): a score per word with the two
    words before it, then a soft maximum over the phrase, so one phrase ("from the side")
    opens it whatever else is said. The two words before tell "from the side" from "on the
    left side of" (a score of the word alone opened the gate on 8 % of the v1 prompts, all
    of them "... side of ..."); a gate on the mean of the words learnt slowly (one word in
    ten moves a mean little).
    """

    def __init__(self, d: int, word_dim: int, hidden: int) -> None:
        super().__init__()
        self.body = _mlp(2 * d, hidden, POLICY_OUTPUTS)
        self.geometry = nn.Linear(6, hidden)
        self.gate = nn.Linear(GATE_CONTEXT * word_dim, 1)
        _init_policy_output(self.body[-1])
        self.close_gate()

    CLOSED_LOGIT = -4.0

    def close_gate(self) -> None:
        """The fresh gate: "top-down" to every phrase, so the model answers as before."""
        with torch.no_grad():
            self.gate.weight.zero_()
            self.gate.bias.fill_(self.CLOSED_LOGIT)

    def forward(self, token: torch.Tensor, summary: torch.Tensor, geo: torch.Tensor,
                words: torch.Tensor, attention_mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> raw policy outputs (B, POLICY_OUTPUTS), their frame (B, 3, 3), gate logit (B,)."""
        feats = self.body[0](torch.cat([token, summary], -1)) + self.geometry(geo.to(token.dtype))
        return (self.body[1:](feats).float(), gravity_frame(geo),
                self.gate_logit(words, attention_mask))

    def gate_logit(self, words: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B,) > 0 where the phrase asks for a side grasp; ``words`` the text encoder's."""
        context = words_in_context(words).to(self.gate.weight.dtype)
        return soft_max_over_words(self.gate(context)[..., 0].float(), attention_mask)


def words_in_context(words: torch.Tensor) -> torch.Tensor:
    """(B, L, GATE_CONTEXT * D): each word beside the ones before it (zeros before the first;
    padding is on the left), unit words scaled to about 1 per component, so that a step of a
    gate's weights moves its logit as far as a step of its bias does."""
    unit = F.normalize(words.float(), dim=-1) * words.shape[-1] ** 0.5
    return torch.cat([F.pad(unit, (0, 0, k, 0))[:, :unit.shape[1]]
                      for k in reversed(range(GATE_CONTEXT))], -1)


def soft_max_over_words(per_word: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, L) word scores -> (B,) phrase logit. A soft maximum: a hard one sends the gradient
    only to the leading word, a word all phrases share at first, and never finds the one that
    tells them apart; log-mean-exp, so a fresh gate's logit is its bias whatever the length."""
    n = attention_mask.sum(-1).clamp_min(1).float()
    return per_word.masked_fill(~attention_mask.bool(), -1e4).logsumexp(-1) - n.log()


class InstructionGate(nn.Module):
    """Does the instruction ask something of the scene (``SpatialMambaConfig.instruction_gate``)?

    Why: the referring heads learnt from prompts that all name an object or a place, so they
    answered "qwv zzk plonk" about as confidently as "the red cup" (run 16, fresh scenes:
    mean confidence 0.48 on nonsense, 0.60 on real prompts). The gate reads the text only,
    through a small MLP, and its probability multiplies the point's confidence (P(right) =
    P(a request) x P(right | a request)). What it reads (``instruction_gate_reads``):
    - ``sentence`` (run 19 on): MiniLM's sentence vector (``text.SentenceEncoder``). A request
      is a sentence-level thing: the word-level gate refused "grab whatever is closest to
      you" (no object word) and passed "tell me about black holes" (scene words). Held out:
      161 of 164 free requests accepted, 150 of 160 off-task requests refused (the word gate:
      159, 126; docs/model.md, "Instruction gate"). Costs a MiniLM pass.
    - ``words`` (run 17-18): the frozen word vectors, each with the two before it, a soft
      maximum over the phrase (as the side-grasp gate); costs nothing.
    Trained text only against ``data.off_task`` negatives (``model.train_text_gate``). Fresh,
    it is open (logit 8, probability 0.9997): adding it changes no answer. Not part of the
    image forward pass: ``predict.instruction_logits`` runs it once per distinct text.
    """

    OPEN_LOGIT = 8.0

    def __init__(self, reads: str, word_dim: int, hidden: int) -> None:
        super().__init__()
        self.reads = reads
        if reads == "sentence":
            self.sentence_encoder = SentenceEncoder()  # frozen, weights from its package
            d_in = self.sentence_encoder.out_dim
        elif reads == "words":
            d_in = GATE_CONTEXT * word_dim
        else:
            raise ValueError(f"instruction gate reads 'words' or 'sentence', not {reads!r}")
        self.score = _mlp(d_in, hidden, 1)
        with torch.no_grad():
            self.score[-1].weight.zero_()
            self.score[-1].bias.fill_(self.OPEN_LOGIT)

    def features(self, words: torch.Tensor, input_ids: torch.Tensor,
                 attention_mask: torch.Tensor) -> torch.Tensor:
        """What the score reads: (B, 384) sentence vectors or (B, L, 3D) words in context.
        Separate from ``logit`` so a trainer can compute the frozen part once."""
        if self.reads == "sentence":
            return self.sentence_encoder(input_ids, attention_mask)
        return words_in_context(words)

    def logit(self, features: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B,) logit that the text is a request about the scene, from ``features``."""
        score = self.score(features.to(self.score[0].weight.dtype))[..., 0].float()
        return score if self.reads == "sentence" else soft_max_over_words(score, attention_mask)

    def forward(self, words: torch.Tensor, input_ids: torch.Tensor,
                attention_mask: torch.Tensor) -> torch.Tensor:
        return self.logit(self.features(words, input_ids, attention_mask), attention_mask)


@dataclass
class GraspAnswer:
    """One policy head's grasp, as the output carries it."""

    contact_delta: torch.Tensor  # (B, 2) normalized offset from the referred point
    rot6d: torch.Tensor  # (B, 6)
    gripper_width: torch.Tensor  # (B,) metres
    depth_offset: torch.Tensor  # (B,) metres from the visible surface to the grasp centre
    frame: torch.Tensor | None = None  # (B, 3, 3) the frame rot6d is in; None: the camera's

    @classmethod
    def from_outputs(cls, pol: torch.Tensor, frame: torch.Tensor | None) -> GraspAnswer:
        return cls(contact_delta=0.25 * torch.tanh(pol[:, 0:2]), rot6d=pol[:, 2:8],
                   gripper_width=F.softplus(pol[:, 8]), depth_offset=pol[:, 9], frame=frame)

    @property
    def rotation(self) -> torch.Tensor:
        """(B, 3, 3) grasp rotation in the camera optical frame."""
        r = rot6d_to_matrix(self.rot6d.float())
        return r if self.frame is None else self.frame @ r

    def where(self, rows: torch.Tensor, other: GraspAnswer) -> GraspAnswer:
        """``other``'s answer on the (B,) bool ``rows``, this one's elsewhere."""
        def pick(a, b):
            return torch.where(rows.view(-1, *[1] * (a.dim() - 1)), b, a)
        eye = torch.eye(3, device=rows.device).expand(len(rows), 3, 3)
        frame = pick(eye if self.frame is None else self.frame,
                     eye if other.frame is None else other.frame)
        return GraspAnswer(pick(self.contact_delta, other.contact_delta),
                           pick(self.rot6d, other.rot6d),
                           pick(self.gripper_width, other.gripper_width),
                           pick(self.depth_offset, other.depth_offset), frame)


@dataclass
class SpatialMambaOutput:
    point_logits: torch.Tensor  # (B, N) one score per RGB token (raster order)
    point_offsets: torch.Tensor  # (B, N, 2) in [0, 1] inside each token's cell (x, y)
    contact_delta: torch.Tensor  # (B, 2) normalized offset from the referred point
    rot6d: torch.Tensor  # (B, 6)
    gripper_width: torch.Tensor  # (B,) metres
    depth_offset: torch.Tensor  # (B,) metres from the visible surface to the grasp centre
    frame: torch.Tensor | None = None  # (B, 3, 3) the frame rot6d is in; None: the camera's
    anchor_logits: torch.Tensor | None = None  # (B, N_ANCHORS, N) relation_match's anchors
    tokens: torch.Tensor | None = None  # (B, N, d) second-read outputs (object_aux's input)
    fine_keys: torch.Tensor | None = None  # (B, C, rows*f, cols*f) colour_fine's keys
    point_terms: dict[str, torch.Tensor] | None = None  # (B, N) each score point_logits sums
    # side_grasp models: the gate's logit that the phrase asks for a side grasp (B,), and
    # each head's own answer ("top", "side"); the fields above are the one the gate picked
    side_logit: torch.Tensor | None = None
    grasp_heads: dict[str, GraspAnswer] | None = None
    # instruction_gate models: (B,) logit that the text is a request about the scene. Not
    # computed by ``forward``: the gate reads only the text, so ``predict`` asks it once per
    # distinct instruction (``predict.instruction_logits``) and sets it here
    instruction_logit: torch.Tensor | None = None

    @property
    def rotation(self) -> torch.Tensor:
        """(B, 3, 3) grasp rotation in the camera optical frame."""
        return self.grasp.rotation

    @property
    def grasp(self) -> GraspAnswer:
        return GraspAnswer(self.contact_delta, self.rot6d, self.gripper_width,
                           self.depth_offset, self.frame)


class SpatialMamba(nn.Module):
    """The model. ``init_text`` loads MiniLM's token table (skip it when weights follow from a
    checkpoint); ``pretrained_towers`` pulls CLIP/SigLIP weights (base/large, needs a hub)."""

    def __init__(self, config: SpatialMambaConfig, vocab_size: int = 30522,
                 init_text: bool = True, pretrained_towers: bool = False) -> None:
        super().__init__()
        self.config = cfg = config
        d = cfg.d_model
        self.rgb_encoder = build_vision_encoder(cfg, pretrained_towers)
        self.depth_encoder = copy.deepcopy(self.rgb_encoder)  # RoboRefer: init from RGB
        self.rgb_projector = Projector(self.rgb_encoder.out_dim, d)
        self.depth_projector = Projector(self.depth_encoder.out_dim, d)
        self.text_encoder = build_text_encoder(cfg.text_encoder, vocab_size, cfg.text_dim,
                                               init=init_text)
        self.text_projector = Projector(self.text_encoder.out_dim, d)
        if cfg.colour_skip:  # zero init: a checkpoint without it answers as before
            self.colour_skip = nn.Linear(3 * cfg.colour_skip ** 2, d)
            nn.init.zeros_(self.colour_skip.weight)
            nn.init.zeros_(self.colour_skip.bias)
        self.pos_embed = nn.Parameter(torch.zeros(cfg.n_image_tokens, d))
        self.type_embed = nn.Parameter(torch.zeros(4, d))  # text, depth, rgb, second read
        nn.init.normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.type_embed, std=0.02)
        # instruction summary -> per-channel scale and shift of image tokens (or a shift only)
        self.text_to_image = nn.Linear(d, 2 * d if cfg.text_film else d)
        nn.init.zeros_(self.text_to_image.weight)
        nn.init.zeros_(self.text_to_image.bias)
        self.backbone = build_backbone(cfg)
        # point head = bilinear text-token match (what is asked vs. what is here) + an MLP
        # score/offset per token; the query comes from the last output token, the only one
        # that has scanned the whole image, and from the pooled instruction
        self.point_query = nn.Linear(2 * d, d)
        self.point_key = nn.Linear(d, d)
        self.point_head = _mlp(d, cfg.head_hidden, 3)
        self.policy_head = _mlp(2 * d, cfg.head_hidden, POLICY_OUTPUTS)
        if cfg.policy_geometry:  # zero init: a checkpoint without it answers as before
            self.policy_geometry = nn.Linear(6, cfg.head_hidden)
            nn.init.zeros_(self.policy_geometry.weight)
            nn.init.zeros_(self.policy_geometry.bias)
        if cfg.side_grasp:
            self.side_grasp = SideGraspHead(d, self.text_encoder.out_dim, cfg.head_hidden)
        if cfg.instruction_gate:
            self.instruction_gate = InstructionGate(cfg.instruction_gate_reads,
                                                    self.text_encoder.out_dim,
                                                    cfg.instruction_gate_hidden)
        if cfg.word_match:  # see SpatialMambaConfig.word_match
            d_word = self.text_encoder.out_dim + d
            self.word_weight = nn.Linear(d_word, 1)
            self.word_query = nn.Linear(d_word, d)
            self.word_key = nn.Linear(d, d)
            # zero query: the score starts at 0 (a trained model's behaviour is kept when the
            # part is added) while the query still gets a gradient through the random keys
            nn.init.zeros_(self.word_query.weight)
            nn.init.zeros_(self.word_query.bias)
        if cfg.colour_match:  # see SpatialMambaConfig.colour_match; zero query as above
            d_word = self.text_encoder.out_dim + d
            self.colour_key = _mlp(3 * cfg.colour_skip ** 2, COLOUR_WIDTH, COLOUR_WIDTH)
            self.colour_weight = nn.Linear(d_word, 1)
            self.colour_query = nn.Linear(d_word, COLOUR_WIDTH)
            nn.init.zeros_(self.colour_query.weight)
            nn.init.zeros_(self.colour_query.bias)
        if cfg.shape_match:  # see SpatialMambaConfig.shape_match; zero query and skip as above
            d_word = self.text_encoder.out_dim + d
            self.shape_encoder = HeightEncoder(cfg.patch_size, SHAPE_WIDTH, cfg.conv_final_stride)
            self.shape_weight = nn.Linear(d_word, 1)
            self.shape_query = nn.Linear(d_word, SHAPE_WIDTH)
            self.shape_skip = nn.Linear(SHAPE_WIDTH, d)
            for layer in (self.shape_query, self.shape_skip):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        if cfg.colour_fine:  # see SpatialMambaConfig.colour_fine
            self.colour_fine = FineColourMatch(self.text_encoder.out_dim + d, cfg.colour_fine)
        if cfg.relation_match:  # see SpatialMambaConfig.relation_match
            self.relation_match = RelationMatch(
                self.text_encoder.out_dim + d, d, cfg.colour_match, cfg.shape_match,
                bool(cfg.colour_fine))
        if cfg.object_aux:  # see SpatialMambaConfig.object_aux; training-time heads
            self.object_head = nn.Linear(d, len(COLOURS) + len(OBJECT_CATEGORIES))
            if cfg.colour_fine:
                self.fine_object_head = nn.Linear(COLOUR_WIDTH, len(COLOURS))
        _init_policy_output(self.policy_head[-1])

    # -- forward ------------------------------------------------------------------------
    def forward(self, rgb: torch.Tensor, depth: torch.Tensor, input_ids: torch.Tensor,
                attention_mask: torch.Tensor) -> SpatialMambaOutput:
        """rgb, depth: (B, 3, H, W) normalised (see processing); input_ids/attention_mask:
        (B, T) left-padded."""
        b = rgb.shape[0]
        words = self.text_encoder(input_ids, attention_mask)
        text = self.text_projector(words)
        text = text + self.type_embed[0]
        m = attention_mask.unsqueeze(-1).to(text.dtype)
        text_pooled = (text * m).sum(1) / m.sum(1).clamp_min(1)
        cond = self.text_to_image(text_pooled).unsqueeze(1)
        dep = self.depth_projector(self.depth_encoder(depth))
        img = self.rgb_projector(self.rgb_encoder(rgb))
        if self.config.colour_skip:
            cell_colours = self._cell_colours(rgb)
            img = img + self.colour_skip(cell_colours)
        cfg = self.config
        if (cfg.shape_match or cfg.policy_geometry or cfg.relation_match or cfg.colour_fine
                or cfg.side_grasp):
            plane = table_plane(depth, cfg.grid, cfg.max_depth_m)
        if cfg.shape_match or cfg.colour_fine:
            heights = table_heights(depth, plane, cfg.max_depth_m).to(img.dtype)
        shape_keys = colour_keys = fine = None
        if cfg.colour_fine:
            fine = (self.colour_fine, self.colour_fine.keys(rgb, heights, cfg.grid))
        if self.config.shape_match:
            shape_keys = self.shape_encoder(heights)
            img = img + self.shape_skip(shape_keys)
        if self.config.text_film:
            scale, shift = cond.chunk(2, dim=-1)
            dep, img = dep * (1 + scale) + shift, img * (1 + scale) + shift
        else:
            dep, img = dep + cond, img + cond
        parts = [text, dep + self.pos_embed + self.type_embed[1],
                 img + self.pos_embed + self.type_embed[2]]
        if self.config.second_read:  # both modalities of each cell, position counted twice
            parts.append(dep + img + 2 * self.pos_embed + self.type_embed[3])
        seq = torch.cat(parts, dim=1)
        n_img = img.shape[1]
        mask = torch.cat([attention_mask.to(torch.long), attention_mask.new_ones(
            b, seq.shape[1] - attention_mask.shape[1], dtype=torch.long)], dim=1)
        hidden = self.backbone(inputs_embeds=seq, attention_mask=mask).last_hidden_state
        rgb_out = hidden[:, -n_img:]
        query = self.point_query(torch.cat([hidden[:, -1], text_pooled], dim=-1))
        # each point score on its own (term supervision's input); the point logits sum them
        terms = {"token": _match(self.point_key(rgb_out), query)}
        if (cfg.word_match or cfg.colour_match or cfg.shape_match or cfg.relation_match
                or cfg.colour_fine):
            word_feats = torch.cat([words.to(hidden.dtype), hidden[:, :words.shape[1]]], dim=-1)
        if self.config.word_match:
            query = _pooled_query(word_feats, attention_mask, self.word_weight, self.word_query)
            terms["word"] = _match(self.word_key(rgb_out), query)
        if self.config.colour_match:
            query = _pooled_query(word_feats, attention_mask, self.colour_weight,
                                  self.colour_query)
            colour_keys = self.colour_key(cell_colours.to(query.dtype))
            terms["colour"] = _match(colour_keys, query)
        if self.config.shape_match:
            query = _pooled_query(word_feats, attention_mask, self.shape_weight,
                                  self.shape_query)
            terms["shape"] = _match(shape_keys.to(query.dtype), query)
        if fine is not None:
            terms["colour_fine"] = fine[0](fine[1], word_feats, attention_mask)
        anchor_logits = None
        if self.config.relation_match:
            related, anchor_logits = self.relation_match(
                word_feats, attention_mask, rgb_out, colour_keys, shape_keys,
                cell_points(depth, self.config.grid, self.config.max_depth_m),
                table_frame(plane[1]), fine)
            terms["relation"] = related
        point = self.point_head(rgb_out)
        terms["token"] = terms["token"] + point[..., 0]
        terms = {k: t.float() for k, t in terms.items()}
        point_logits = sum(terms.values())
        # the cell the answer comes from (decode_point's argmax): not the softmax, whose mass
        # an uncertain model spreads over the image; no gradient moves where the head looks
        cell = point_logits.argmax(-1)
        target = rgb_out[torch.arange(b, device=cell.device), cell]  # the referred object's
        image = target if cfg.policy_pool == "target" else rgb_out.mean(1)
        summary = hidden[:, -1] + text_pooled if cfg.policy_text else hidden[:, -1]
        feats = self.policy_head[0](torch.cat([image, summary], dim=-1))
        frame = geo = None
        if cfg.policy_geometry or cfg.side_grasp:
            look = F.one_hot(cell, n_img).float()
            geo = camera_geometry(depth, plane[1], look, cfg.grid, cfg.max_depth_m)
        if cfg.policy_geometry:
            feats = feats + self.policy_geometry(geo.to(feats.dtype))
            if cfg.policy_frame == "gravity":
                frame = gravity_frame(geo)
            elif cfg.policy_frame == "footprint":
                frame = footprint_frame(depth, plane, cell, geo, cfg.grid, cfg.max_depth_m)
        grasp = GraspAnswer.from_outputs(self.policy_head[1:](feats).float(), frame)
        side_logit = heads = None
        if cfg.side_grasp:
            pol, side_frame, side_logit = self.side_grasp(
                target, hidden[:, -1] + text_pooled, geo, words, attention_mask)
            heads = {"top": grasp, "side": GraspAnswer.from_outputs(pol, side_frame)}
            grasp = grasp.where(side_logit > 0, heads["side"])
        return SpatialMambaOutput(
            point_logits=point_logits,
            point_offsets=torch.sigmoid(point[..., 1:].float()),
            contact_delta=grasp.contact_delta,
            rot6d=grasp.rot6d,
            gripper_width=grasp.gripper_width,
            depth_offset=grasp.depth_offset,
            frame=grasp.frame,
            anchor_logits=anchor_logits,
            tokens=rgb_out,
            fine_keys=None if fine is None else fine[1],
            point_terms=terms,
            side_logit=side_logit,
            grasp_heads=heads,
        )

    def _cell_colours(self, rgb: torch.Tensor) -> torch.Tensor:
        """(B, N, 3*s*s): each token cell's input colour on an s x s sub-grid, raster order."""
        rows, cols = self.config.grid
        s = self.config.colour_skip
        x = F.adaptive_avg_pool2d(rgb, (rows * s, cols * s))  # (B, 3, rows*s, cols*s)
        x = x.unflatten(2, (rows, s)).unflatten(4, (cols, s))  # (B, 3, rows, s, cols, s)
        return x.permute(0, 2, 4, 1, 3, 5).flatten(3).flatten(1, 2)

    # -- decoding -----------------------------------------------------------------------
    def cell_centers(self, device=None) -> torch.Tensor:
        """(N, 2) top-left corners (x, y) of each RGB token's cell, normalized."""
        rows, cols = self.config.grid
        r, c = torch.meshgrid(torch.arange(rows, device=device),
                              torch.arange(cols, device=device), indexing="ij")
        return torch.stack([c.flatten() / cols, r.flatten() / rows], dim=-1).float()

    def decode_point(self, out: SpatialMambaOutput, temperature: float | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (point_norm (B, 2), confidence (B,), cell index (B,)).

        Point = best token's cell + its sub-patch offset. Confidence = temperature-scaled
        probability mass in a small window around that cell: an object spanning several
        cells does not look "uncertain" just because its mass is shared between them; times
        the instruction gate's probability where the model has one.
        """
        rows, cols = self.config.grid
        t = self.config.calibration_temperature if temperature is None else temperature
        prob = torch.softmax(out.point_logits / t, dim=-1)
        cell = prob.argmax(-1)
        point = self.cell_points(out, cell[:, None])[:, 0]
        w = self.config.confidence_window
        grid = prob.view(-1, 1, rows, cols)
        window = F.avg_pool2d(grid, 2 * w + 1, stride=1, padding=w,
                              count_include_pad=True) * (2 * w + 1) ** 2
        conf = window.flatten(1).gather(1, cell[:, None])[:, 0].clamp(0, 1)
        if out.instruction_logit is not None:
            conf = conf * torch.sigmoid(out.instruction_logit.float())
        return point, conf, cell

    def decode_candidates(self, out: SpatialMambaOutput, k: int,
                          temperature: float | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (points_norm (B, k, 2), probabilities (B, k)): the ``k`` most probable cells,
        each at its own sub-patch offset, best first. The first is ``decode_point``'s point;
        the others are what the model would answer next (a check downstream may prefer one)."""
        rows, cols = self.config.grid
        t = self.config.calibration_temperature if temperature is None else temperature
        prob = torch.softmax(out.point_logits.float() / t, dim=-1)
        top, cells = prob.topk(min(k, rows * cols), dim=-1)
        return self.cell_points(out, cells), top

    def cell_points(self, out: SpatialMambaOutput, cells: torch.Tensor) -> torch.Tensor:
        """(B, K) cell indices -> (B, K, 2) normalized points: each cell's corner plus its
        own sub-patch offset (the point ``decode_point`` and ``decode_candidates`` answer)."""
        rows, cols = self.config.grid
        offset = out.point_offsets.float().gather(1, cells[..., None].expand(-1, -1, 2))
        size = torch.tensor([1 / cols, 1 / rows], device=cells.device)
        return (self.cell_centers(cells.device)[cells] + offset * size).clamp(0, 1)

    # -- convenience (implemented in checkpoint.py / predict.py) ------------------------
    @classmethod
    def from_pretrained(cls, path=None, device: str | torch.device = "cpu") -> SpatialMamba:
        from spatial_ros.model.checkpoint import load_pretrained

        return load_pretrained(path, device=device)

    def save_pretrained(self, path, tokenizer=None) -> None:
        from spatial_ros.model.checkpoint import save_pretrained

        save_pretrained(self, path, tokenizer=tokenizer)

    def predict(self, rgb, depth_m, intrinsics, instruction: str, **kw):
        from spatial_ros.model.predict import predict

        return predict(self, rgb, depth_m, intrinsics, instruction, **kw)

    def predict_batch(self, rgbs, depths_m, intrinsics, instructions, **kw):
        from spatial_ros.model.predict import predict_batch

        return predict_batch(self, rgbs, depths_m, intrinsics, instructions, **kw)
