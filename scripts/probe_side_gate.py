"""Where does a checkpoint's side-grasp gate open? Text only, no images.

Two checks of ``SideGraspHead.gate_logit`` (docs/model.md, "Policy-head-only fine-tuning"):
every prompt of every dataset split found under ``--data`` (side-grasp prompts should open
it, every other prompt keep it shut), and the free operator phrasings of
``data.grasp_wording`` that neither the generator nor the gate's training ever wrote, half
asking for a side grasp and half using "side" for something else. Run:

    .venv/bin/python scripts/probe_side_gate.py [--ckpt spatial_ros/checkpoints] [--data datasets]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from spatial_ros.data import grasp_wording
from spatial_ros.model import SpatialMamba
from spatial_ros.model.train_text_gate import gate_logits

SPLITS = ("train", "val", "test", "unseen")
ASKS_SIDE, ASKS_OTHER = grasp_wording.HELD_OUT_SIDE, grasp_wording.HELD_OUT_OTHER


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", default=None, help="default: the shipped checkpoint")
    ap.add_argument("--data", default="datasets", help="folder of dataset roots")
    args = ap.parse_args()
    model = SpatialMamba.from_pretrained(args.ckpt)
    if not model.config.side_grasp:
        raise SystemExit(f"{args.ckpt or 'the shipped checkpoint'} has no side-grasp head")
    print("| dataset split | prompts | side-grasp prompts opened | other prompts opened |")
    print("|---|---|---|---|")
    paths = [root / f"{s}.jsonl" for root in sorted(Path(args.data).iterdir()) for s in SPLITS]
    for path in (p for p in paths if p.is_file()):
        records = [json.loads(line) for line in path.open()]
        logits = gate_logits(model, [r["prompt"] for r in records], "side_grasp")
        side = [r["kind"] == "grasp_side" for r in records]
        opened = [x > 0 for x in logits]
        n_side = sum(side)
        print(f"| {path.parent.name}/{path.stem} | {len(records)} | "
              f"{sum(o and s for o, s in zip(opened, side, strict=True))} of {n_side} | "
              f"{sum(o and not s for o, s in zip(opened, side, strict=True))} of "
              f"{len(records) - n_side} |")
    print("\n| free phrasing | asks for a side grasp | gate logit | opened |")
    print("|---|---|---|---|")
    logits = gate_logits(model, list(ASKS_SIDE + ASKS_OTHER), "side_grasp")
    for text, x in zip(ASKS_SIDE + ASKS_OTHER, logits, strict=True):
        print(f"| {text} | {'yes' if text in ASKS_SIDE else 'no'} | {x:+.2f} | "
              f"{'yes' if x > 0 else 'no'} |")
    n = len(ASKS_SIDE)
    print(f"\nside phrasings opened: {sum(x > 0 for x in logits[:n])} of {n}; "
          f"other phrasings opened: {sum(x > 0 for x in logits[n:])} of {len(ASKS_OTHER)}")


if __name__ == "__main__":
    main()
