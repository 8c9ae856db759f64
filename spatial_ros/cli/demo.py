"""``spatial-ros demo``: the simulated end-to-end episode (the README's main command)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from spatial_ros.bringup.demo import DemoConfig, run_demo

    robots = ["ur5", "franka", "g1"] if args.robot == "all" else [args.robot]
    failed = 0
    for robot in robots:
        out = args.out if len(robots) == 1 else f"{args.out}/{robot}"
        cfg = DemoConfig(robot=robot, seed=args.seed, referrer=args.referrer,
                         model_path=args.model or "", out_dir=out,
                         attribute_check=not args.no_check,
                         tasks=tuple(args.tasks))
        outcomes = run_demo(cfg)
        n_ok = sum(o.success for o in outcomes)
        print(f"\n{robot}: {n_ok}/{len(outcomes)} tasks succeeded — report {out}/report.md, "
              f"episode {out}/demo.gif")
        failed += len(outcomes) - n_ok
    return 0 if failed == 0 else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="simulated episode: perceive, pick, place, multi-step; "
                                    "writes a report, overlays and a GIF")
    p.add_argument("--robot", default="ur5", choices=["ur5", "franka", "g1", "all"])
    p.add_argument("--seed", type=int, default=0, help="first scene seed to try")
    p.add_argument("--referrer", default="model", choices=["model", "geometric"],
                   help="perception: the shipped SpatialMamba checkpoint (or --model) or the "
                        "weights-free geometric baseline")
    p.add_argument("--model", default=None, help="checkpoint directory (default: shipped)")
    p.add_argument("--no-check", action="store_true",
                   help="take the model's answers unchecked (no colour/kind check by depth "
                        "and colour; perception/attribute_check.py)")
    p.add_argument("--tasks", nargs="+", default=["pick", "pick_place", "two_step"],
                   choices=["pick", "pick_place", "two_step", "three_step"])
    p.add_argument("--out", default="outputs/demo", help="report directory")
    p.set_defaults(func=run)
