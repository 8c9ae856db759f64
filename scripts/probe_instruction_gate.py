"""Which held-out texts does a checkpoint's instruction gate take for a request? Text only.

Prints the gate's probability for every held-out free request and off-task request of
``data.off_task`` (docs/model.md, "Instruction gate"), and for any texts given; with
``--compare DIR`` another checkpoint's beside it, measured in the same run. Run:

    .venv/bin/python scripts/probe_instruction_gate.py [--ckpt DIR] [--compare DIR] ["text" ...]
"""

from __future__ import annotations

import argparse

import numpy as np

from spatial_ros.data import off_task
from spatial_ros.model import SpatialMamba
from spatial_ros.model.train_text_gate import gate_probabilities


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", default=None, help="default: the shipped checkpoint")
    ap.add_argument("--compare", default=None, help="a second checkpoint, scored beside it")
    ap.add_argument("texts", nargs="*", help="more texts to score")
    args = ap.parse_args()
    names = [args.ckpt or "shipped"] + ([args.compare] if args.compare else [])
    models = [SpatialMamba.from_pretrained(args.ckpt)]
    if args.compare:
        models.append(SpatialMamba.from_pretrained(args.compare))
    for name, model in zip(names, models, strict=True):
        if not model.config.instruction_gate:
            raise SystemExit(f"{name} has no instruction gate")
    groups = {"free request (held out)": (list(off_task.FREE_REQUESTS), True),
              "off-task (held out)": (list(off_task.HELD_OUT_OFF_TASK), False),
              "given": (args.texts, True)}
    print("| text | group | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for group, (texts, want) in groups.items():
        if not texts:
            continue
        probs = [gate_probabilities(model, texts) for model in models]
        for i, text in enumerate(texts):
            cells = [f"{p[i]:.3f} {'yes' if p[i] > 0.5 else 'no'}" for p in probs]
            print(f"| {text} | {group} | " + " | ".join(cells) + " |")
        verb = "accepted" if want else "refused"
        counts = [int(np.sum((p > 0.5) == want)) for p in probs]
        print(f"| **{group}: {verb}** | | " + " | ".join(f"**{c} of {len(texts)}**"
                                                      for c in counts) + " |")


if __name__ == "__main__":
    main()
