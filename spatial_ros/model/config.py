"""SpatialMamba configuration: one dataclass, three presets, JSON round trip.

The config is the contract between a checkpoint's ``config.json`` and the code: every
shape-bearing number lives here, so loading a checkpoint rebuilds exactly the module tree
its ``model.safetensors`` was saved from (and a mismatch is reported, not guessed around).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from spatial_ros.common.config import ConfigError, from_dict

FORMAT_VERSION = 2  # 2: xyz depth input, FiLM text conditioning, second read


@dataclass
class SpatialMambaConfig:
    preset: str = "tiny"
    # --- vision: RGB and depth encoders share this architecture (RoboRefer) ---------------
    vision: Literal["conv", "clip", "siglip"] = "conv"
    image_width: int = 160  # model input size; any camera size is resized to it
    image_height: int = 128
    conv_stem: int = 4  # patchify stem stride (cheap on CPU), then one stride-2 block per
    conv_channels: list[int] = field(default_factory=lambda: [48, 96, 128])  # ... -> stride 16
    # stride of the last conv block (and the height encoder's): 1 gives twice the token grid
    # each way (16x20 at 160x128) with the same weights, so a checkpoint trained at 2 can be
    # trained on at 1. Why: an 8x10 cell is 64x60 camera px and the executor's objects are
    # 25-40 px, so one cell's token often holds two objects.
    conv_final_stride: Literal[1, 2] = 2
    vision_tower: str | None = None  # hub id or local dir for clip/siglip pretrained weights
    vision_tower_config: dict[str, Any] = field(default_factory=dict)  # random-init towers
    max_depth_m: float = 2.0  # depth normalisation range; beyond is clipped
    # "xyz": the depth encoder sees the back-projected point map (X, Y, Z in the camera frame,
    # needs intrinsics), so "left of"/"closer than" are differences of input values rather
    # than something learned from pixel positions; "depth": Z replicated on 3 channels
    depth_input: Literal["xyz", "depth"] = "xyz"
    # add each cell's colour, average-pooled on an NxN sub-grid, to its RGB token (0 = off).
    # Why: linear probes on the shipped checkpoint (scripts/probe_colour.py) read an object's
    # colour from its cell's mean input RGB 78 % of the time but from the trained encoder's
    # token 26 % and from the backbone 12 % (chance 10 %): the encoder had dropped colour.
    colour_skip: int = 0
    # --- text ----------------------------------------------------------------------------
    text_encoder: Literal["static", "minilm"] = "static"
    text_dim: int = 128  # width of the static (PCA-reduced MiniLM) token table
    max_text_tokens: int = 64  # longer instructions are truncated with a warning
    # --- backbone ------------------------------------------------------------------------
    backbone: Literal["mamba2", "mamba"] = "mamba2"
    d_model: int = 128
    n_layers: int = 4
    state_size: int = 32
    expand: int = 2
    head_dim: int = 32  # mamba2 only
    n_groups: int = 1  # mamba2 only
    chunk_size: int = 64  # mamba2 SSD chunk; 64 is fastest on CPU for ~200 tokens
    conv_kernel: int = 4
    # the image is read twice ([text, depth, rgb, rgb+depth]): a causal scan's first read of a
    # token cannot know about objects later in raster order (an anchor below the target), the
    # second read can ("Just read twice", Arora et al. 2024); the point head reads the second
    second_read: bool = True
    text_film: bool = True  # instruction scales/shifts every image token (FiLM) before the scan
    # a second point score: each second-read token against a query pooled over the words with
    # learned attention, built from the raw token vectors beside their backbone outputs. The
    # text projector of the first format-2 model mapped all colour words to nearly one vector
    # (cosine 0.85-0.98), so colour never reached the point head through the pooled text.
    word_match: bool = False
    # a third point score: each cell's raw colour (the colour_skip sub-grid, through a small
    # MLP) against a colour query pooled over the words like word_match's. Why: with the skip,
    # probes read an object's colour from its backbone token 44 % of the time, but a colour
    # prompt's point query carries its colour only 28 %: the text side lost it. This path
    # matches colour words to pixels without going through the scan. Needs colour_skip.
    colour_match: bool = False
    # a fourth point score from shape: a small conv net over each pixel's height above the
    # fitted table plane (from the depth point map, at input resolution) gives each cell a
    # shape key, matched against a shape query pooled over the words like colour_match's, and
    # added to its RGB token. Why: the shipped model found "the cylinder" on robot-view frames
    # 60 % of the time and 6 of its 8 misses on "the <colour> <category>" were the
    # right colour on the wrong shape; camera-frame XYZ (what the depth encoder reads) changes
    # with the camera pose, height above the table does not. Needs depth_input xyz.
    shape_match: bool = False
    # a fifth point score from where each cell lies relative to the objects the instruction's
    # relation is to: two anchor heads (word-attention queries against the second-read
    # tokens, plus the colour and shape keys when those parts are on; trained with their own
    # loss on the anchors' cells) give soft anchor positions; each cell's offset from them in
    # a table-level frame (decimetres, from the depth point map) goes through an MLP to a key
    # matched against a relation query pooled over the words. Why: prompts relative to an
    # anchor were the shipped model's weakest (left/right 59 %, between 51 %, place_relation
    # 36 %, place_between 32 % on test), and their geometry is a difference of two 3D points
    # the scan never had to compute. Needs depth_input xyz.
    relation_match: bool = False
    # a sixth point score: colour matched on an NxN sub-grid of every cell (0 = off), each
    # sub-patch's mean colour and height above the table through a 1x1 conv key, against a
    # colour query pooled over the words; a cell scores the soft maximum over its sub-patches
    # ("something of this colour is here"), and the anchor heads get the same match. Why: a
    # cell is 64x60 camera pixels, so colour_match's one key per cell mixes an object with
    # the table and its neighbours: a probe reads an object's colour name from its own
    # pixels 99.5 % of the time but from its cell's colour key 72 %, and 45 of the shipped
    # model's 57 misses on the executor's "pick up the <colour> <category>" were the wrong
    # cell (white/gray, red/pink, black/brown). Needs depth_input xyz.
    colour_fine: int = 0
    # training only: classify every visible object's colour and category from the
    # second-read token of the cell holding its centroid (and its colour from the fine colour
    # key of its centroid's sub-patch, with colour_fine), a loss on all ~6 objects of a scene
    # instead of the one the prompt names. Why: on the executor's "pick up the <colour>
    # <category>" the shipped model pointed at the named object 166 of 218 times, and 41 of
    # its misses were another object of another colour or category; the point loss alone
    # teaches one object per frame. Adds two linear heads; inference does not run them.
    object_aux: bool = False
    # --- heads ---------------------------------------------------------------------------
    head_hidden: int = 128
    # what the policy head reads besides the last token: "mean" of the image tokens, or
    # "target", the second-read token of the cell the point answer comes from (the referred
    # object's own token, so its yaw and bearing reach the grasp rotation). Same shapes.
    policy_pool: Literal["mean", "target"] = "mean"
    # add the pooled instruction to the last token the policy head reads: the instruction's
    # words ("from the side") otherwise reach the head only through the whole scan
    policy_text: bool = False
    # also feed the policy head two camera-frame directions computed, not learned, from the
    # depth point map: the table's up normal (plane fit) and the ray to the referred object;
    # a grasp's rotation in the camera frame is a function of exactly these
    policy_geometry: bool = False
    # the frame the rotation head answers in: "camera", or "gravity", the frame at the
    # answered cell whose z is the horizontal line of sight and y the table-level normal to
    # it (needs policy_geometry): there a side grasp is the identity and a top-down one a
    # fixed tilt plus a yaw, whatever the camera's pitch or the object's bearing; or
    # "footprint", z down the table's normal and y across the narrow side of the answered
    # object's depth footprint (``footprint_frame``): there a top-down grasp across the narrow
    # side is the identity, its yaw read off the depth instead of a few pixels' features
    policy_frame: Literal["camera", "gravity", "footprint"] = "camera"
    # a second policy head for grasps from the side ("pick up the mug from the side"), in the
    # gravity frame, reading the answered cell's token, the instruction and the camera
    # geometry, and a gate on the instruction that picks which head answers
    # (``SideGraspHead``): side grasps learnt without touching the top-down head's answers
    side_grasp: bool = False
    # a gate on the text alone that says whether it asks something of the scene at all;
    # its probability multiplies the point's confidence, so nonsense and off-task text get
    # a low one (``InstructionGate``, trained text only: ``model.train_text_gate``); it reads
    # MiniLM's sentence vector ("sentence") or the frozen word vectors ("words", runs 17-18)
    instruction_gate: bool = False
    instruction_gate_reads: Literal["words", "sentence"] = "words"
    instruction_gate_hidden: int = 64
    confidence_window: int = 1  # confidence = probability mass in a (2w+1)^2 cell window
    calibration_temperature: float = 1.0  # fitted on val after training
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.image_width % self.patch_size or self.image_height % self.patch_size:
            raise ConfigError(f"image size {self.image_width}x{self.image_height} must be a "
                              f"multiple of the patch size {self.patch_size}")
        if self.backbone == "mamba2" and (self.expand * self.d_model) % self.head_dim:
            raise ConfigError(f"mamba2 needs expand*d_model ({self.expand * self.d_model}) "
                              f"divisible by head_dim ({self.head_dim})")
        if self.policy_frame != "camera" and not self.policy_geometry:
            raise ConfigError(f"policy_frame {self.policy_frame} is built from policy_geometry: "
                              "enable it")
        for part in ("policy_geometry", "shape_match", "relation_match", "colour_fine",
                     "side_grasp"):
            if getattr(self, part) and self.depth_input != "xyz":
                raise ConfigError(f"{part} reads the depth point map: needs depth_input xyz")
        if self.colour_skip < 0 or (self.colour_skip and self.patch_size % self.colour_skip):
            raise ConfigError(f"colour_skip {self.colour_skip} must divide the patch size "
                              f"{self.patch_size} (0 turns it off)")
        if self.colour_fine < 0 or (self.colour_fine and self.patch_size % self.colour_fine):
            raise ConfigError(f"colour_fine {self.colour_fine} must divide the patch size "
                              f"{self.patch_size} (0 turns it off)")
        if self.colour_match and not self.colour_skip:
            raise ConfigError("colour_match reads the colour_skip sub-grid: set colour_skip")
        if self.shape_match and self.patch_size % 4:
            raise ConfigError(f"shape_match needs a patch size divisible by 4, not "
                              f"{self.patch_size}")
        if self.max_text_tokens < 3:
            raise ConfigError("max_text_tokens must be at least 3 ([CLS] word [SEP])")

    @property
    def patch_size(self) -> int:
        if self.vision == "conv":  # the stem, then stride-2 blocks, the last at final stride
            blocks = len(self.conv_channels) - 1
            return self.conv_stem * (2 ** (blocks - 1) * self.conv_final_stride if blocks else 1)
        return int(self.vision_tower_config.get("patch_size", 16))

    @property
    def grid(self) -> tuple[int, int]:
        """(rows, cols) of image tokens per modality."""
        return self.image_height // self.patch_size, self.image_width // self.patch_size

    @property
    def n_image_tokens(self) -> int:
        rows, cols = self.grid
        return rows * cols

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_json(cls, path: str | Path) -> SpatialMambaConfig:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from exc
        return from_dict(cls, data, where=path.name)


# RoboMamba uses Mamba-2.8B (mamba1, d_model 2560, 64 layers) with a CLIP ViT-L/14 tower.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"word_match": True},
    "base": dict(
        vision="siglip", image_width=224, image_height=224,
        vision_tower="google/siglip-base-patch16-224",
        vision_tower_config=dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                 intermediate_size=3072, image_size=224, patch_size=16),
        text_encoder="minilm", max_text_tokens=64, backbone="mamba2", d_model=1024,
        n_layers=48, state_size=128, head_dim=64, chunk_size=256, head_hidden=512),
    "large": dict(
        vision="clip", image_width=336, image_height=336,
        vision_tower="openai/clip-vit-large-patch14-336",
        vision_tower_config=dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                                 intermediate_size=4096, image_size=336, patch_size=14),
        text_encoder="minilm", max_text_tokens=64, backbone="mamba", d_model=2560,
        n_layers=64, state_size=16, head_hidden=1024),
}


def preset_config(name: str, **overrides: Any) -> SpatialMambaConfig:
    """The named preset with ``overrides`` applied (e.g. a tiny tower for tests)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown model preset '{name}'; known: {sorted(PRESETS)}")
    data = {"preset": name, **PRESETS[name], **overrides}
    return from_dict(SpatialMambaConfig, data, where=f"preset {name}")
