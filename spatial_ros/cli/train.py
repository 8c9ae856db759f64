"""``spatial-ros train``: train SpatialMamba from a YAML config (stages, resume, DDP).

Multi-GPU: ``torchrun --nproc_per_node 8 -m spatial_ros.cli.main train --config ...``.
"""

from __future__ import annotations

import argparse
import json


def run(args: argparse.Namespace) -> int:
    from spatial_ros.common.config import load_config
    from spatial_ros.model.train import TrainConfig, train

    cfg = load_config(TrainConfig, args.config)
    if args.data:
        cfg.data.root = args.data
    if args.out:
        cfg.out_dir = args.out
    if args.max_minutes is not None:
        cfg.max_minutes = args.max_minutes
    summary = train(cfg, resume=args.resume)
    if "val" in summary:
        print(json.dumps({"checkpoint": summary["checkpoint"], "val": summary["val"],
                          "calibration": summary.get("calibration"),
                          "elapsed_min": round(summary["elapsed_min"], 2)}, indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the SpatialMamba model (see docs/model.md)")
    p.add_argument("--config", required=True, help="training YAML, e.g. config/train/tiny.yaml")
    p.add_argument("--resume", action="store_true", help="continue from OUT_DIR/last")
    p.add_argument("--data", help="dataset directory (overrides data.root)")
    p.add_argument("--out", help="output directory (overrides out_dir)")
    p.add_argument("--max-minutes", type=float, help="wall-clock budget (overrides max_minutes)")
    p.set_defaults(func=run)
