"""Where does a checkpoint's side-grasp gate open? Text only, no images.

Two checks of ``SideGraspHead.gate_logit`` (docs/model.md, "Policy-head-only fine-tuning"):
every prompt of every dataset split found under ``--data`` (side-grasp prompts should open
it, every other prompt keep it shut), and a fixed list of free operator phrasings the data
generator never writes, half asking for a side grasp and half using "side" for something
else. Run:

    .venv/bin/python scripts/probe_side_gate.py [--ckpt spatial_ros/checkpoints] [--data datasets]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from spatial_ros.model import SpatialMamba
from spatial_ros.model.predict import side_grasp_logits

SPLITS = ("train", "val", "test", "unseen")
ASKS_SIDE = (
    "pick up the mug from the side", "grab the red cup sideways", "take the bottle horizontally",
    "grasp the blue cylinder from its side", "pick the can up side-on",
    "approach the mug from the side and grab it", "get the green cube with a side grasp",
    "grab the yellow cylinder from one side", "pick up the white mug horizontally",
    "use a sideways grasp on the red block", "take the cup by its side",
    "come in from the side to pick the ball", "pick up the tall cylinder from the side please",
    "side grasp the red cup", "grab it from the side", "pick the bottle from the left side")
ASKS_OTHER = (
    "pick up the mug", "the cup on the left side of the bowl",
    "put it on the right side of the tray", "place the mug beside the bowl",
    "grab the cube next to the side of the table", "pick up the block from the top",
    "pick up the can from above", "move the red block to the other side",
    "pick the cup on this side of the box", "grab the leftmost mug",
    "take the cube at the side of the bowl", "pick up the thing besides the bowl",
    "put the ball inside the box", "pick up the upside down cup",
    "the mug by the side of the plate", "lift the red cube")


def gate_logits(model: SpatialMamba, prompts: list[str], batch: int = 256) -> list[float]:
    out = []
    for i in range(0, len(prompts), batch):
        out += side_grasp_logits(model, prompts[i:i + batch]).tolist()
    return out


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
        logits = gate_logits(model, [r["prompt"] for r in records])
        side = [r["kind"] == "grasp_side" for r in records]
        opened = [x > 0 for x in logits]
        n_side = sum(side)
        print(f"| {path.parent.name}/{path.stem} | {len(records)} | "
              f"{sum(o and s for o, s in zip(opened, side, strict=True))} of {n_side} | "
              f"{sum(o and not s for o, s in zip(opened, side, strict=True))} of "
              f"{len(records) - n_side} |")
    print("\n| free phrasing | asks for a side grasp | gate logit | opened |")
    print("|---|---|---|---|")
    logits = gate_logits(model, list(ASKS_SIDE + ASKS_OTHER))
    for text, x in zip(ASKS_SIDE + ASKS_OTHER, logits, strict=True):
        print(f"| {text} | {'yes' if text in ASKS_SIDE else 'no'} | {x:+.2f} | "
              f"{'yes' if x > 0 else 'no'} |")
    n = len(ASKS_SIDE)
    print(f"\nside phrasings opened: {sum(x > 0 for x in logits[:n])} of {n}; "
          f"other phrasings opened: {sum(x > 0 for x in logits[n:])} of {len(ASKS_OTHER)}")


if __name__ == "__main__":
    main()
