"""Checkpoint directories: ``config.json`` + ``model.safetensors`` + tokenizer files.

No pickles (safetensors cannot execute code on load). Every way a checkpoint can be wrong
gets its own message: a missing file, a corrupt file, or weights that do not fit the config
(names and shapes are listed), instead of a stack trace from deep inside torch.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from spatial_ros.common.config import ConfigError, from_dict
from spatial_ros.model.config import FORMAT_VERSION, SpatialMambaConfig
from spatial_ros.model.processing import SpatialMambaProcessor
from spatial_ros.model.spatial_mamba import SpatialMamba
from spatial_ros.model.text import load_tokenizer, save_tokenizer_files

log = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class CheckpointError(RuntimeError):
    """A checkpoint directory is missing, corrupt or does not match its config."""


def default_checkpoint_dir() -> Path:
    """The trained ``tiny`` checkpoint shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "checkpoints"


def build_model(config: SpatialMambaConfig, init_text: bool = True,
                pretrained_towers: bool = False, tokenizer_dir: str | Path | None = None
                ) -> SpatialMamba:
    """A fresh model with its processor attached (``model.processor``)."""
    tokenizer = load_tokenizer(tokenizer_dir)
    model = SpatialMamba(config, vocab_size=len(tokenizer), init_text=init_text,
                         pretrained_towers=pretrained_towers)
    model.processor = SpatialMambaProcessor(config, tokenizer)
    return model


def save_pretrained(model: SpatialMamba, path: str | Path, tokenizer=None) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.config.save(path / CONFIG_NAME)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path / WEIGHTS_NAME), metadata={"format": "pt",
                                                         "architecture": "SpatialMamba"})
    tok = tokenizer or getattr(getattr(model, "processor", None), "tokenizer", None)
    if tok is not None:
        tok.save_pretrained(str(path))
    else:
        save_tokenizer_files(path)
    return path


def load_pretrained(path: str | Path | None = None, device: str | torch.device = "cpu",
                    overrides: dict | None = None) -> SpatialMamba:
    """Loads a checkpoint directory (default: the shipped tiny one), in eval mode.

    ``overrides`` change the config before the model is built (training on from a checkpoint
    with a part added): weights the checkpoint lacks keep their fresh init and are logged;
    everything else must still match.
    """
    path = Path(path) if path is not None else default_checkpoint_dir()
    if not path.is_dir():
        raise CheckpointError(f"checkpoint directory not found: {path}")
    for name in (CONFIG_NAME, WEIGHTS_NAME, "tokenizer.json"):
        if not (path / name).is_file():
            raise CheckpointError(f"checkpoint {path} is missing {name}")
    try:
        config = SpatialMambaConfig.from_json(path / CONFIG_NAME)
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint {path}: bad {CONFIG_NAME}: {exc}") from exc
    saved_grid = config.grid
    if overrides:
        try:
            config = from_dict(SpatialMambaConfig, {**config.to_dict(), **overrides},
                               where="overrides")
        except ConfigError as exc:
            raise CheckpointError(f"checkpoint {path}: {exc}") from exc
    if config.format_version != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format_version {config.format_version}; "
                              f"this code reads {FORMAT_VERSION}")
    try:
        state = load_file(str(path / WEIGHTS_NAME))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path}: {WEIGHTS_NAME} is corrupt or truncated "
                              f"({exc})") from exc
    if config.grid != saved_grid and "pos_embed" in state:
        state["pos_embed"] = resize_pos_embed(state["pos_embed"], saved_grid, config.grid)
        log.info("checkpoint %s: position embeddings resized from a %dx%d to a %dx%d grid",
                 path, *saved_grid, *config.grid)
    try:
        model = build_model(config, init_text=False, tokenizer_dir=path)
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path}: cannot load tokenizer ({exc})") from exc
    fresh = check_state_dict(model, state, path, allow_missing=bool(overrides))
    if fresh:
        log.info("checkpoint %s lacks %d tensors of the overridden config; fresh init: %s",
                 path, len(fresh), ", ".join(fresh))
    model.load_state_dict(state, strict=not fresh)
    return model.to(device).eval()


def resize_pos_embed(pos: torch.Tensor, old: tuple[int, int], new: tuple[int, int]
                     ) -> torch.Tensor:
    """(rows*cols, D) raster-order position embeddings interpolated to another token grid,
    so training can go on from a checkpoint at a finer grid (ViT's recipe)."""
    grid = pos.float().T.reshape(1, -1, *old)
    grid = torch.nn.functional.interpolate(grid, size=new, mode="bilinear", align_corners=False)
    return grid.reshape(pos.shape[1], -1).T.contiguous().to(pos.dtype)


def check_state_dict(model: torch.nn.Module, state: dict[str, torch.Tensor], where,
                     allow_missing: bool = False) -> list[str]:
    """Raises on any mismatch; returns the missing names when ``allow_missing``."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    allowed, missing = (missing, []) if allow_missing else ([], missing)
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k}: file {tuple(state[k].shape)} vs config {tuple(v.shape)}"
             for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[:3]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})")
        if wrong:
            parts.append(f"{len(wrong)} with wrong shape (e.g. {wrong[:3]})")
        raise CheckpointError(f"checkpoint {where}: weights do not match config.json: "
                              + "; ".join(parts))
    return allowed
