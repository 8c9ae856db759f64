"""Sharded, resumable dataset generation from the simulator.

Each split draws scene seeds from its own disjoint range (``SPLIT_SEED_BASE``); seeds are
grouped into shards of ``scenes_per_shard`` that worker processes (spawn context: every
worker gets its own OpenGL context) render independently. A shard appends one JSON line per
finished scene to ``shards/<split>/<k>.partial`` and is renamed to ``<k>.jsonl`` when done,
so an interrupted run resumes by skipping finished shards and finished scenes.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from spatial_ros.common.lifetime import die_with_parent
from spatial_ros.data.dataset import SPLITS, load_meta, save_png, write_jsonl, write_meta
from spatial_ros.data.rollouts import RolloutConfig, rollout_frames
from spatial_ros.data.samples import SampleConfig, answer_record, scene_answers
from spatial_ros.data.sim_scene import SimScene, SimSceneConfig, render_scene

log = logging.getLogger(__name__)

GENERATOR_VERSION = "spatial_ros.data/1"
SPLIT_SEED_BASE = {"train": 0, "val": 10_000_000, "test": 20_000_000, "unseen": 30_000_000}


@dataclass
class GenerateConfig:
    scenes_per_shard: int = 8
    scene: SimSceneConfig = field(default_factory=SimSceneConfig)
    samples: SampleConfig = field(default_factory=SampleConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)  # enabled: executor frames


def scene_id(split: str, seed: int) -> str:
    return f"{split}_{seed:08d}"


def generate_scene(out: Path, split: str, seed: int, cfg: GenerateConfig) -> list[dict]:
    """Renders scene ``seed`` (or, with ``cfg.rollout.enabled``, runs its task rollout),
    writes its images and masks, returns its sample records."""
    rng = np.random.default_rng([seed, 11])
    sid = scene_id(split, seed)
    if not cfg.rollout.enabled:
        return _frame_records(out, split, sid, render_scene(seed, cfg.scene), rng, cfg)
    instruction, frames = rollout_frames(seed, tuple(cfg.scene.robots), cfg.rollout,
                                         cfg.scene.min_target_pixels)
    records = []
    for k, frame in enumerate(frames):
        for rec in _frame_records(out, split, f"{sid}_{k}", frame, rng, cfg):
            rec["rollout"] = {"task": instruction, "frame": k}
            records.append(rec)
    return records


def _frame_records(out: Path, split: str, sid: str, scene: SimScene,
                   rng: np.random.Generator, cfg: GenerateConfig) -> list[dict]:
    answers = scene_answers(scene.graph, scene.intrinsics, scene.segmentation, rng,
                            cfg.samples, split)
    if not answers:
        return []
    save_png(out / "rgb" / f"{sid}.png", scene.rgb)
    save_png(out / "depth" / f"{sid}.png", scene.depth_mm)
    objects = [o.to_dict() for o in scene.graph.objects] if cfg.samples.include_objects else None
    records = []
    for k, a in enumerate(answers):
        sample_id = f"{sid}_{k:02d}"
        save_png(out / "mask" / f"{sample_id}.png", a.mask)
        rec = answer_record(a, sample_id, sid, split, scene.intrinsics, scene.graph, objects)
        if cfg.scene.robots:  # which robot is in view, for per-robot results
            rec["robot"] = scene.robot
        records.append(rec)
    return records


def _shard_paths(out: Path, split: str, shard: int) -> tuple[Path, Path]:
    d = out / "shards" / split
    return d / f"{shard:06d}.jsonl", d / f"{shard:06d}.partial"


def run_shard(out: str, split: str, shard: int, cfg_dict: dict) -> int:
    """Generates every scene of a shard not already done; returns the shard's sample count."""
    import logging as _logging

    _logging.getLogger("spatial_ros").setLevel(_logging.WARNING)
    from spatial_ros.common.config import from_dict

    cfg = from_dict(GenerateConfig, cfg_dict)
    root = Path(out)
    final, partial = _shard_paths(root, split, shard)
    if final.exists():
        return sum(len(s["records"]) for s in _read_scenes(final))
    done = {s["seed"]: s for s in _read_scenes(partial)} if partial.exists() else {}
    partial.parent.mkdir(parents=True, exist_ok=True)
    with partial.open("a") as fh:
        for i in range(cfg.scenes_per_shard):
            seed = SPLIT_SEED_BASE[split] + shard * cfg.scenes_per_shard + i
            if seed in done:
                continue
            try:
                records = generate_scene(root, split, seed, cfg)
            except ValueError as exc:  # e.g. objects that cannot be placed: skip the seed
                log.warning("scene %s skipped: %s", seed, exc)
                records = []
            line = {"seed": seed, "records": records}
            done[seed] = line
            fh.write(json.dumps(line, separators=(",", ":")) + "\n")
            fh.flush()
    scenes = [done[s] for s in sorted(done)]
    write_jsonl(final, scenes)
    partial.unlink(missing_ok=True)
    return sum(len(s["records"]) for s in scenes)


def _read_scenes(path: Path) -> list[dict]:
    """Scene lines of a shard file; a torn last line (crash mid-write) is dropped."""
    scenes = []
    for line in path.read_text().splitlines():
        try:
            scenes.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return scenes


def generate(out: str | Path, split: str, n: int, workers: int = 1,
             cfg: GenerateConfig | None = None, progress: bool = True) -> dict:
    """Generates at least ``n`` samples of ``split`` into ``out`` and writes
    ``<split>.jsonl`` with exactly ``n`` (fewer only if seeds run out); returns stats."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if n <= 0:
        raise ValueError(f"--n must be positive, got {n}")
    cfg = cfg or GenerateConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg_dict = json.loads(json.dumps(asdict(cfg)))
    old = load_meta(out).get("config")
    if old is not None:  # fields added since a dataset was made read as their defaults
        defaults = json.loads(json.dumps(asdict(GenerateConfig())))
        old = {**old, "scene": {**defaults["scene"], **old.get("scene", {})},
               "rollout": {**defaults["rollout"], **old.get("rollout", {})}}
    for key in ("scenes_per_shard", "scene", "rollout"):  # what decides seeds and images
        if old is not None and old.get(key) != cfg_dict[key]:
            raise ValueError(f"{out} was generated with a different '{key}' config; use a "
                             f"new --out directory (or the same options) to resume")
    counts: dict[int, int] = {}
    for path in sorted((out / "shards" / split).glob("*.jsonl")):
        counts[int(path.stem)] = sum(len(s["records"]) for s in _read_scenes(path))
    total = sum(counts.values())
    t0 = time.perf_counter()
    from tqdm import tqdm

    bar = tqdm(total=n, initial=min(total, n), unit="sample", desc=f"generate {split}",
               disable=not progress)
    next_shard = 0
    max_shards = 10_000_000 // cfg.scenes_per_shard

    def pending_shards():
        nonlocal next_shard
        while next_shard < max_shards:
            k = next_shard
            next_shard += 1
            if k not in counts:
                yield k

    shards = pending_shards()
    if workers <= 1:
        while total < n:
            k = next(shards, None)
            if k is None:
                break
            counts[k] = run_shard(str(out), split, k, cfg_dict)
            total += counts[k]
            bar.update(min(counts[k], max(0, n - bar.n)))
    else:
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx,
                                 initializer=die_with_parent) as pool:
            running = {}
            avg = cfg.samples.prompts_per_scene * cfg.scenes_per_shard * 0.8
            while True:
                while (total + len(running) * avg < n and len(running) < 2 * workers):
                    k = next(shards, None)
                    if k is None:
                        break
                    running[pool.submit(run_shard, str(out), split, k, cfg_dict)] = k
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for f in finished:
                    k = running.pop(f)
                    counts[k] = f.result()
                    total += counts[k]
                    bar.update(min(counts[k], max(0, n - bar.n)))
    bar.close()
    records = []
    for k in sorted(counts):
        final, _ = _shard_paths(out, split, k)
        for s in _read_scenes(final):
            records += s["records"]
        if len(records) >= n:
            break
    records = records[:n]
    write_jsonl(out / f"{split}.jsonl", records)
    elapsed = time.perf_counter() - t0
    meta = load_meta(out)
    meta.update({"generator": GENERATOR_VERSION, "config": cfg_dict,
                 "held_out_combos": [list(c) for c in cfg.samples.held_out],
                 "split_seed_base": SPLIT_SEED_BASE})
    meta.setdefault("counts", {})[split] = len(records)
    meta.setdefault("scenes", {})[split] = len({r["scene_id"] for r in records})
    meta.setdefault("kinds", {})[split] = _histogram(r["kind"] for r in records)
    meta.setdefault("steps", {})[split] = _histogram(str(r["steps"]) for r in records)
    write_meta(out, meta)
    return {"split": split, "samples": len(records), "seconds": elapsed,
            "scenes": meta["scenes"][split]}


def _histogram(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return dict(sorted(out.items()))
