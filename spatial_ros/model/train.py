"""Training: staged (RoboMamba/LLaVA-style), resumable, seeded, DDP-ready.

Stages name the parameter groups they train:
- ``align``: projectors (+ position/type embeddings) only, encoders and backbone frozen:
  aligns modalities to the backbone width (matters with pretrained towers/backbones);
- ``full``: everything except the frozen text table;
- ``policy``: the policy head only, as RoboMamba fine-tunes for manipulation in minutes.

Layout of ``out_dir``: ``last/`` (checkpoint + ``train_state.json`` + optimizer state as
safetensors, written every epoch; ``--resume`` continues from it), ``best/`` (best validation
success, temperature-calibrated at the end), ``log.jsonl`` (one line per validation).
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from spatial_ros.model import dist
from spatial_ros.model.checkpoint import build_model, load_pretrained, save_pretrained
from spatial_ros.model.config import preset_config
from spatial_ros.model.data_loading import CachedRefDataset, build_cache
from spatial_ros.model.losses import LossWeights, compute_losses
from spatial_ros.model.spatial_mamba import SpatialMamba, grasp_rotation_error

log = logging.getLogger(__name__)

GROUPS = {
    "encoders": ("rgb_encoder", "depth_encoder", "shape_encoder"),
    "projectors": ("rgb_projector", "depth_projector", "text_projector", "pos_embed",
                   "type_embed", "text_to_image", "colour_skip", "shape_skip"),
    "backbone": ("backbone",),
    "point_head": ("point_head", "point_query", "point_key", "word_weight", "word_query",
                   "word_key", "colour_key", "colour_weight", "colour_query", "shape_weight",
                   "shape_query", "relation_match", "colour_fine", "object_head",
                   "fine_object_head"),
    "policy_head": ("policy_head", "policy_geometry"),
    "side_grasp": ("side_grasp",),
    "instruction_gate": ("instruction_gate",),  # trained text only: model.train_text_gate
}


@dataclass
class StageConfig:
    name: str
    trainable: list[str]  # group names from GROUPS, or ["all"]
    epochs: float = 1.0  # fractional epochs allowed (a stage can be a few hundred steps)
    lr: float = 1e-3
    warmup_steps: int = 50
    minutes: float | None = None  # wall-clock cap; the cosine schedule then runs on time


@dataclass
class DataConfig:
    root: str = "datasets/v1"
    cache_dir: str | None = None
    train_split: str = "train"
    val_split: str = "val"
    limit: int | None = None  # first N samples per split (smoke runs)
    val_limit: int | None = 2000
    # more datasets whose train and val splits join root's (e.g. datasets/robots: frames with
    # a robot in view); val_limit applies to each, so selection weighs them equally
    extra_roots: list[str] = field(default_factory=list)


@dataclass
class TrainConfig:
    out_dir: str = "runs/tiny"
    model: dict[str, Any] = field(default_factory=lambda: {"preset": "tiny"})
    init_from: str | None = None  # checkpoint dir to start from (e.g. policy fine-tuning)
    data: DataConfig = field(default_factory=DataConfig)
    stages: list[StageConfig] = field(default_factory=lambda: [
        StageConfig("full", ["all"], epochs=10)])
    batch_size: int = 32
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    color_jitter: float = 0.15
    loss: LossWeights = field(default_factory=LossWeights)
    seed: int = 0
    num_threads: int = 2
    num_workers: int = 0
    device: str = "auto"
    val_every_epochs: float = 1.0
    max_minutes: float | None = None  # wall-clock budget for all stages; then save and stop
    calibrate: bool = True


SHOWN_LOSSES = ("total", "point", "rotation", "kind", "anchor", "objects", "terms")  # progress bar


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - third-party code may use the global RNG
    torch.manual_seed(seed)


def set_trainable(model: SpatialMamba, groups: list[str]) -> list[torch.nn.Parameter]:
    unknown = set(groups) - set(GROUPS) - {"all"}
    if unknown:
        raise ValueError(f"unknown trainable group(s) {sorted(unknown)}; "
                         f"known: {sorted(GROUPS)} or 'all'")
    grouped = {n for g in GROUPS.values() for n in g}
    # a model part no group names would silently stay at its random init ("all" included)
    parts = {n for n, _ in model.named_children()} | {
        n for n, _ in model.named_parameters() if "." not in n}
    orphans = parts - grouped - {"text_encoder"}  # the text table is frozen by design
    if orphans:
        raise RuntimeError(f"model parts {sorted(orphans)} belong to no training group")
    names = grouped if "all" in groups else {n for g in groups for n in GROUPS[g]}
    params = []
    for name, p in model.named_parameters():
        # the backbone's token-embedding table is unused (we feed inputs_embeds)
        on = name.split(".")[0] in names and not name.startswith("backbone.embeddings.")
        p.requires_grad_(on)
        if on:
            params.append(p)
    return params


def _trim_text(batch: dict) -> dict:
    """Drops the left-padding columns no sample in this batch uses (shorter sequences)."""
    keep = batch["attention_mask"].bool().any(0)
    batch["input_ids"] = batch["input_ids"][:, keep].long()
    batch["attention_mask"] = batch["attention_mask"][:, keep].long()
    return batch


def model_inputs(model: SpatialMamba, batch: dict, device, jitter: float = 0.0):
    proc = model.processor
    rgb = batch["rgb"].to(device)
    x = proc.normalize_rgb(rgb)
    if jitter > 0:  # brightness/contrast jitter; colours themselves are labels, keep hue
        b = x.shape[0]
        gain = 1 + jitter * (2 * torch.rand(b, 1, 1, 1, device=device) - 1)
        bias = jitter * (2 * torch.rand(b, 1, 1, 1, device=device) - 1)
        x = x * gain + bias
    depth = proc.normalize_depth(batch["depth"].to(device), batch["intrinsics"].to(device))
    return x, depth, batch["input_ids"].to(device), batch["attention_mask"].to(device)


@torch.no_grad()
def collect_val(model: SpatialMamba, ds: CachedRefDataset, device, batch_size: int = 64
                ) -> dict[str, np.ndarray]:
    """Point, confidence (T=1 logits kept for calibration) and success per val sample, and
    the grasp rotation error (degrees, NaN without a grasp)."""
    model.eval()
    out_pts, logits, success, rot_err = [], [], [], []
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False)
    for batch in loader:
        batch = _trim_text(batch)
        out = model(*model_inputs(model, batch, device))
        point, _, _ = model.decode_point(out, temperature=1.0)
        mask = batch["mask_lo"].bool()
        h, w = mask.shape[1:]
        col = (point[:, 0] * w).long().clamp(0, w - 1).cpu()
        row = (point[:, 1] * h).long().clamp(0, h - 1).cpu()
        success.append(mask[torch.arange(len(mask)), row, col])
        out_pts.append(point.cpu())
        logits.append(out.point_logits.cpu())
        err = grasp_rotation_error(out.rotation.cpu(), batch["rotation"].float(),
                                   batch.get("grasp_symmetry"))
        rot_err.append(torch.where(batch["has_grasp"].bool(), torch.rad2deg(err), torch.nan))
    return {"point": torch.cat(out_pts).numpy(), "logits": torch.cat(logits),
            "success": torch.cat(success).numpy(), "rot_err_deg": torch.cat(rot_err).numpy()}


def val_metrics(ds: CachedRefDataset, success: np.ndarray,
                rot_err_deg: np.ndarray | None = None) -> dict[str, float]:
    steps, place = ds.t["steps"].numpy(), ds.t["placement"].numpy().astype(bool)
    n = len(success)
    groups = {"all": np.ones(n, bool), "single": (steps <= 1) & ~place,
              "multi": (steps > 1) & ~place, "placement": place}
    metrics = {k: float(success[m].mean()) for k, m in groups.items() if m.any()}
    if rot_err_deg is not None and np.isfinite(rot_err_deg).any():
        metrics["grasp_rot_deg"] = float(np.nanmedian(rot_err_deg))
    return metrics


def selection_score(metrics: dict[str, float]) -> list[float]:
    """Best-checkpoint order: point success first, then the lower grasp rotation error (what a
    policy-head-only stage changes, its point success being frozen)."""
    return [round(metrics["all"], 6), -metrics.get("grasp_rot_deg", 0.0)]


def fit_temperature(model: SpatialMamba, logits: torch.Tensor, success: np.ndarray) -> float:
    """Temperature minimising the Bernoulli NLL of confidence vs. actual success on val."""
    y = torch.from_numpy(success.astype(np.float32))
    best_t, best_nll = 1.0, math.inf
    for t in np.exp(np.linspace(np.log(0.25), np.log(8.0), 41)):
        conf = _confidence(model, logits, float(t)).clamp(1e-4, 1 - 1e-4)
        nll = float(-(y * conf.log() + (1 - y) * (1 - conf).log()).mean())
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def _confidence(model: SpatialMamba, logits: torch.Tensor, t: float) -> torch.Tensor:
    from spatial_ros.model.spatial_mamba import SpatialMambaOutput

    b, n = logits.shape
    fake = SpatialMambaOutput(logits, torch.full((b, n, 2), 0.5), torch.zeros(b, 2),
                              torch.zeros(b, 6), torch.zeros(b), torch.zeros(b))
    return model.decode_point(fake, temperature=t)[1]


# ----------------------------------------------------------------------------- state I/O


def _save_state(out: Path, model: SpatialMamba, opt: torch.optim.Optimizer,
                state: dict) -> None:
    save_pretrained(model, out)
    tensors = {}
    for i, s in enumerate(opt.state_dict()["state"].values()):
        for k, v in s.items():
            tensors[f"{i}.{k}"] = torch.as_tensor(v).detach().cpu().contiguous()
    save_file(tensors, str(out / "optimizer.safetensors"))
    (out / "train_state.json").write_text(json.dumps(state, indent=2))


def _load_optimizer(path: Path, opt: torch.optim.Optimizer) -> None:
    f = path / "optimizer.safetensors"
    if not f.is_file():
        return
    flat = load_file(str(f))
    sd = opt.state_dict()
    params = [p for g in sd["param_groups"] for p in g["params"]]
    for i, pid in enumerate(params):
        entry = {k.split(".", 1)[1]: v for k, v in flat.items() if k.split(".", 1)[0] == str(i)}
        if entry:
            sd["state"][pid] = entry
    opt.load_state_dict(sd)


# ----------------------------------------------------------------------------- loop


def train(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Runs all stages; returns the final summary (also written to out_dir/summary.json)."""
    info = dist.setup(cfg.device)
    torch.set_num_threads(cfg.num_threads)
    seed_everything(cfg.seed + info.rank)
    out_dir = Path(cfg.out_dir)
    last, best_dir = out_dir / "last", out_dir / "best"
    state = {"stage": 0, "epoch": 0, "step": 0, "best": [-1.0, -math.inf], "elapsed_s": 0.0}
    if resume and (last / "train_state.json").is_file():
        state.update(json.loads((last / "train_state.json").read_text()))
        model = load_pretrained(last)
        log.info("resuming from %s at stage %d epoch %d", last, state["stage"], state["epoch"])
    elif cfg.init_from:  # model keys other than the preset add parts to the checkpoint's
        overrides = {k: v for k, v in cfg.model.items() if k != "preset"}
        model = load_pretrained(cfg.init_from, overrides=overrides or None)
    else:
        mcfg = dict(cfg.model)
        model = build_model(preset_config(mcfg.pop("preset", "tiny"), **mcfg))
    model.to(info.device)
    roots = [cfg.data.root, *cfg.data.extra_roots]

    def caches(split: str, limit: int | None) -> list[Path]:
        return [build_cache(r, split, model.processor, cfg.data.cache_dir, limit) for r in roots]

    # one rank builds the caches (reading every split's records), the others wait and reuse
    train_caches = caches(cfg.data.train_split, cfg.data.limit) if info.is_main else None
    dist.barrier(info)
    if train_caches is None:
        train_caches = caches(cfg.data.train_split, cfg.data.limit)
    train_ds = CachedRefDataset(train_caches)
    val_ds = (CachedRefDataset(caches(cfg.data.val_split, cfg.data.val_limit))
              if info.is_main else None)
    log.info("training on %d samples from %s", len(train_ds), ", ".join(roots))
    sampler = DistributedSampler(train_ds, seed=cfg.seed) if info.enabled else None
    loader = DataLoader(train_ds, batch_size=cfg.batch_size, shuffle=sampler is None,
                        sampler=sampler, num_workers=cfg.num_workers, drop_last=len(train_ds)
                        > cfg.batch_size, generator=torch.Generator().manual_seed(cfg.seed))
    t_start = time.perf_counter() - state["elapsed_s"]
    history: list[dict] = []
    stopped = False
    for si in range(state["stage"], len(cfg.stages)):
        stage = cfg.stages[si]
        params = set_trainable(model, stage.trainable)
        ddp = dist.wrap(model, info)
        opt = torch.optim.AdamW(params, lr=stage.lr, weight_decay=cfg.weight_decay)
        steps_per_epoch = max(1, len(loader))
        total = max(1, int(stage.epochs * steps_per_epoch))
        start_step = 0
        if resume and state["stage"] == si and state["step"] > 0:
            _load_optimizer(last, opt)
            start_step = state["step"]
        stage_t0 = time.perf_counter()
        val_every = max(1, int(cfg.val_every_epochs * steps_per_epoch))
        step = start_step
        bar = tqdm(total=total, initial=step, desc=f"stage {stage.name}",
                   disable=not info.is_main, dynamic_ncols=True)
        epoch = step // steps_per_epoch
        while step < total and not stopped:
            if sampler is not None:
                sampler.set_epoch(epoch)
            for batch in loader:
                if step >= total:
                    break
                progress = step / total
                if stage.minutes:
                    progress = max(progress, (time.perf_counter() - stage_t0) / 60 / stage.minutes)
                for g in opt.param_groups:
                    g["lr"] = stage.lr * lr_factor(step, progress, stage.warmup_steps)
                ddp.train()
                batch = _trim_text(batch)
                out = ddp(*model_inputs(model, batch, info.device, cfg.color_jitter))
                batch = {k: v.to(info.device) for k, v in batch.items()}
                losses = compute_losses(model, out, batch, cfg.loss)
                opt.zero_grad(set_to_none=True)
                losses["total"].backward()
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                opt.step()
                step += 1
                bar.update(1)
                bar.set_postfix({k: f"{v.item():.3f}" for k, v in losses.items()
                                 if k in SHOWN_LOSSES})
                over = cfg.max_minutes is not None and \
                    time.perf_counter() - t_start > 60 * cfg.max_minutes
                stopped = dist.broadcast_flag(over, info)
                stage_done = dist.broadcast_flag(progress >= 1.0, info)
                if stage_done:
                    total = step
                if step % val_every == 0 or step == total or stopped:
                    state.update(stage=si, step=step, epoch=epoch,
                                 elapsed_s=time.perf_counter() - t_start)
                    if info.is_main:
                        rec = _validate_and_save(model, val_ds, opt, state, last, best_dir,
                                                 stage.name, info.device)
                        history.append(rec)
                        with (out_dir / "log.jsonl").open("a") as f:
                            f.write(json.dumps(rec) + "\n")
                        bar.write(f"[val] stage {stage.name} step {step}: "
                                  + ", ".join(f"{k} {v:.3f}" for k, v in rec["val"].items()))
                    dist.barrier(info)
                if stopped:
                    break
            epoch += 1
        bar.close()
        state.update(stage=si + 1, step=0, epoch=0)
        if stopped:
            break
    summary = {"stopped_early": stopped, "elapsed_min": (time.perf_counter() - t_start) / 60,
               "history": history, "config": asdict(cfg)}
    if info.is_main:
        summary.update(_finalize(best_dir if best_dir.is_dir() else last, val_ds, cfg,
                                 info.device))
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    dist.barrier(info)
    dist.cleanup(info)
    return summary


def lr_factor(step: int, progress: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 5% over the stage's progress (steps or time)."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _validate_and_save(model, val_ds, opt, state, last, best_dir, stage, device) -> dict:
    res = collect_val(model, val_ds, device)
    metrics = val_metrics(val_ds, res["success"], res["rot_err_deg"])
    score = selection_score(metrics)
    best = state["best"] if isinstance(state["best"], list) else [state["best"], -math.inf]
    if score > best:
        state["best"] = score
        save_pretrained(model, best_dir)
    _save_state(last, model, opt, dict(state))
    return {"stage": stage, "step": state["step"], "elapsed_s": round(state["elapsed_s"], 1),
            "val": metrics}


def _finalize(path: Path, val_ds, cfg: TrainConfig, device) -> dict:
    """Calibrates the confidence temperature of the kept checkpoint on val and re-saves it."""
    model = load_pretrained(path, device=device)
    res = collect_val(model, val_ds, device)
    out = {"checkpoint": str(path), "val": val_metrics(val_ds, res["success"], res["rot_err_deg"])}
    if cfg.calibrate:
        t = fit_temperature(model, res["logits"], res["success"])
        model.config.calibration_temperature = t
        conf = _confidence(model, res["logits"], t).numpy()
        out["calibration"] = {"temperature": t, "mean_confidence": float(conf.mean()),
                              "val_success": float(res["success"].mean())}
        save_pretrained(model.cpu(), path)
    return out
