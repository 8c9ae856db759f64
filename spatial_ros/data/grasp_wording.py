"""How an operator may ask for a grasp from the side, and how "side" is used for other
things: the text the side-grasp gate is trained and checked on, beyond the generator's.

The data engine asks for a side grasp with five phrases (``vocab.SIDE_GRASP_PHRASES``), and
uses "side" otherwise only in "on the left/right side of". A gate trained on that alone
opened for 13 of 16 free side-grasp phrasings and also for 5 of 16 other uses of "side"
(twenty-fifth session). ``TRAIN_*`` widen both sides for training; ``HELD_OUT_*`` (free
operator phrasings, written apart and never trained on) measure what that bought.
"""

from __future__ import annotations

import numpy as np

from spatial_ros.data import vocab

TRAIN_SIDE_PHRASES = (
    "with a lateral grasp", "laterally", "with the gripper level", "with the gripper horizontal",
    "holding it from the side", "using a sideways grip", "gripping its side", "in a side grip",
    "from the side, not from above", "with the fingers level with the table",
    "sideways, not from the top", "with a horizontal grip")
TRAIN_OTHER_SIDE_USES = (
    "on the far side of the {a}", "on the near side of the {a}", "on either side of the {a}",
    "on the opposite side of the table", "by the {a}'s side", "alongside the {a}",
    "on the side of the table nearest the {a}", "from overhead", "straight down onto it",
    "with a top-down grasp", "on its side", "near the side wall",
    "set to one side of the {a}", "on the same side as the {a}")
HELD_OUT_SIDE = (
    "pick up the mug from the side", "grab the red cup sideways", "take the bottle horizontally",
    "grasp the blue cylinder from its side", "pick the can up side-on",
    "approach the mug from the side and grab it", "get the green cube with a side grasp",
    "grab the yellow cylinder from one side", "pick up the white mug horizontally",
    "use a sideways grasp on the red block", "take the cup by its side",
    "come in from the side to pick the ball", "pick up the tall cylinder from the side please",
    "side grasp the red cup", "grab it from the side", "pick the bottle from the left side")
HELD_OUT_OTHER = (
    "pick up the mug", "the cup on the left side of the bowl",
    "put it on the right side of the tray", "place the mug beside the bowl",
    "grab the cube next to the side of the table", "pick up the block from the top",
    "pick up the can from above", "move the red block to the other side",
    "pick the cup on this side of the box", "grab the leftmost mug",
    "take the cube at the side of the bowl", "pick up the thing besides the bowl",
    "put the ball inside the box", "pick up the upside down cup",
    "the mug by the side of the plate", "lift the red cube")

_ANCHORS = ("bowl", "box", "tray", "red cup", "blue block", "green ball", "mug", "cube")


def reword_side_request(prompt: str, rng: np.random.Generator) -> str:
    """A generator side-grasp prompt with its phrase swapped for a ``TRAIN_SIDE_PHRASES`` one
    (returned as is when it ends with none of the generator's phrases)."""
    for phrase in sorted(vocab.SIDE_GRASP_PHRASES, key=len, reverse=True):
        if prompt.endswith(phrase):
            new = TRAIN_SIDE_PHRASES[rng.integers(len(TRAIN_SIDE_PHRASES))]
            return prompt[:-len(phrase)] + new
    return prompt


def other_side_use(prompt: str, rng: np.random.Generator) -> str:
    """``prompt`` with a ``TRAIN_OTHER_SIDE_USES`` phrase after it: "side" (or "from above")
    in a request that does not ask for a side grasp."""
    use = TRAIN_OTHER_SIDE_USES[rng.integers(len(TRAIN_OTHER_SIDE_USES))]
    return f"{prompt.rstrip('.')} {use.format(a=_ANCHORS[rng.integers(len(_ANCHORS))])}"
