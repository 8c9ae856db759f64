"""Which held-out texts does a checkpoint's instruction gate take for a request? Words only.

Prints the gate's probability for every held-out free request and off-task request of
``data.off_task`` (docs/model.md, "Instruction gate"), and for any texts given. Run:

    .venv/bin/python scripts/probe_instruction_gate.py [--ckpt DIR] ["some text" ...]
"""

from __future__ import annotations

import argparse

from spatial_ros.data import off_task
from spatial_ros.model import SpatialMamba
from spatial_ros.model.train_text_gate import gate_probabilities


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", default=None, help="default: the shipped checkpoint")
    ap.add_argument("texts", nargs="*", help="more texts to score")
    args = ap.parse_args()
    model = SpatialMamba.from_pretrained(args.ckpt)
    if not model.config.instruction_gate:
        raise SystemExit(f"{args.ckpt or 'the shipped checkpoint'} has no instruction gate")
    groups = {"free request (held out)": list(off_task.FREE_REQUESTS),
              "off-task (held out)": list(off_task.HELD_OUT_OFF_TASK), "given": args.texts}
    print("| text | group | probability | accepted |")
    print("|---|---|---|---|")
    for group, texts in groups.items():
        if not texts:
            continue
        p = gate_probabilities(model, texts)
        for text, x in zip(texts, p, strict=True):
            print(f"| {text} | {group} | {x:.3f} | {'yes' if x > 0.5 else 'no'} |")
        print(f"| **{group}: accepted {int((p > 0.5).sum())} of {len(p)}** | | | |")


if __name__ == "__main__":
    main()
