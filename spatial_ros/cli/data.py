"""``spatial-ros data``: generate the simulated referring dataset, auto-label recorded bags."""

from __future__ import annotations

import argparse
import json

from spatial_ros.cli._errors import reporting_errors


def _generate(args: argparse.Namespace) -> int:
    from spatial_ros.data.generate import GenerateConfig, generate

    cfg = GenerateConfig()
    if args.config:
        from spatial_ros.common.config import load_config

        cfg = load_config(GenerateConfig, args.config)
    if args.prompts_per_scene is not None:
        cfg.samples.prompts_per_scene = args.prompts_per_scene
    if args.scenes_per_shard is not None:
        cfg.scenes_per_shard = args.scenes_per_shard
    if args.size is not None:
        cfg.scene.width, cfg.scene.height = args.size
    for split in args.split.split(","):
        stats = generate(args.out, split.strip(), args.n, workers=args.workers, cfg=cfg,
                         progress=not args.no_progress)
        rate = 60.0 * stats["samples"] / max(stats["seconds"], 1e-9)
        print(json.dumps({**stats, "samples_per_minute_this_run": round(rate, 1)}))
    return 0


def _label(args: argparse.Namespace) -> int:
    from spatial_ros.data.label import LabelConfig, label_bag

    cfg = LabelConfig(namespace=args.namespace, every=args.every,
                      prompts_per_frame=args.prompts_per_frame, split=args.split)
    stats = label_bag(args.bag, args.out, cfg)
    print(json.dumps(stats))
    return 0 if stats["samples"] > 0 else 1


def _check_grasps(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from spatial_ros.data.generate import SPLIT_SEED_BASE
    from spatial_ros.data.grasp_check import check_many

    base = SPLIT_SEED_BASE[args.split]
    results, rate = check_many(range(base + args.start, base + args.start + args.n), args.robot,
                               progress=not args.no_progress)
    for r in results:
        print(json.dumps({k: (str(v) if k == "category" else v) for k, v in asdict(r).items()}))
    print(json.dumps({"robot": args.robot, "checked": len(results),
                      "passed": sum(r.success for r in results), "pass_rate": round(rate, 3)}))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="generate the referring dataset or label recorded bags")
    dsub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    g = dsub.add_parser("generate", help="render sim scenes into a referring dataset")
    g.add_argument("--n", type=int, required=True, help="samples per split")
    g.add_argument("--out", required=True, help="dataset directory (resumable)")
    g.add_argument("--workers", type=int, default=1, help="processes (spawn), sharded by seed")
    g.add_argument("--split", default="train",
                   help="split(s), comma separated: train,val,test,unseen")
    g.add_argument("--prompts-per-scene", type=int, default=None)
    g.add_argument("--scenes-per-shard", type=int, default=None,
                   help="scenes per work unit (default 8); fixed for a dataset directory")
    g.add_argument("--size", type=int, nargs=2, metavar=("W", "H"), default=None,
                   help="image size (default 640 480)")
    g.add_argument("--config", default="", help="YAML with GenerateConfig fields")
    g.add_argument("--no-progress", action="store_true")
    g.set_defaults(func=reporting_errors(_generate))

    c = dsub.add_parser("check-grasps",
                        help="execute dataset grasps in MuJoCo and report the lift pass rate")
    c.add_argument("--n", type=int, default=20, help="scenes (one random object each)")
    c.add_argument("--robot", default="franka", help="ur5 | franka | g1")
    c.add_argument("--split", default="train", help="seed range of this split")
    c.add_argument("--start", type=int, default=0, help="first seed offset")
    c.add_argument("--no-progress", action="store_true")
    c.set_defaults(func=reporting_errors(_check_grasps))

    lb = dsub.add_parser("label", help="auto-label a rosbag2 of RealSense topics")
    lb.add_argument("bag", help="rosbag2 directory")
    lb.add_argument("--out", required=True, help="dataset directory to write")
    lb.add_argument("--namespace", default="/camera/camera", help="camera topic namespace")
    lb.add_argument("--every", type=int, default=1, help="label every k-th frame")
    lb.add_argument("--prompts-per-frame", type=int, default=8)
    lb.add_argument("--split", default="real", help="split name to write")
    lb.set_defaults(func=reporting_errors(_label))
