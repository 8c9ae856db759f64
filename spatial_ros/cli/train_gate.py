"""``spatial-ros train-gate``: train a gate that reads only the text (minutes, no images).

The config's ``gate`` picks which: ``instruction`` adds ``InstructionGate`` to a checkpoint
(default: the shipped one), trained against ``data.off_task`` negatives; ``side_grasp``
retrains the side-grasp head's gate. Prints how often the gate opens on each held-out set
(docs/model.md, "Instruction gate").
"""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from spatial_ros.common.config import load_config
    from spatial_ros.model.train_text_gate import TextGateConfig, format_rows, train_text_gate

    cfg = load_config(TextGateConfig, args.config)
    if args.init_from:
        cfg.init_from = args.init_from
    if args.out:
        cfg.out_dir = args.out
    if args.steps is not None:
        cfg.steps = args.steps
    report = train_text_gate(cfg)
    print(format_rows(report["final"]))
    print(f"checkpoint: {cfg.out_dir}/final ({report['minutes']:.1f} min)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-gate",
                       help="train a text-only gate: instruction or side-grasp (docs/model.md)")
    p.add_argument("--config", required=True, help="e.g. config/gate/instruction_gate.yaml")
    p.add_argument("--init-from", help="checkpoint to add the gate to (overrides init_from)")
    p.add_argument("--out", help="output directory (overrides out_dir)")
    p.add_argument("--steps", type=int, help="training steps (overrides steps)")
    p.set_defaults(func=run)
