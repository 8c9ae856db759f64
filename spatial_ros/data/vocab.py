"""The words referring expressions are made of, shared by the generator and the parser.

One table per concept keeps the templates and the geometric baseline's parser in step:
the parser tokenizes with exactly these phrases (longest match first).
"""

from __future__ import annotations

COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "white",
           "gray", "black")

# Category -> nouns that may name it (first is canonical). Unknown categories use their name.
CATEGORY_NOUNS: dict[str, tuple[str, ...]] = {
    "cube": ("cube",),
    "block": ("block", "brick"),
    "cylinder": ("cylinder",),
    "sphere": ("sphere", "ball"),
    "mug": ("mug", "cup"),
    "bowl": ("bowl",),
    "box": ("box", "tray"),
}
GENERIC_NOUNS = ("object", "item", "thing")

SIZE_WORDS = {"big": ("big", "large"), "small": ("small", "little")}

RELATION_PHRASES: dict[str, tuple[str, ...]] = {
    "left_of": ("to the left of", "left of", "on the left side of"),
    "right_of": ("to the right of", "right of", "on the right side of"),
    "in_front_of": ("in front of",),
    "behind": ("behind", "in back of"),
    "near": ("next to", "near", "close to"),
    "nearest_to": ("closest to", "nearest to"),
    "farthest_from": ("farthest from", "furthest from"),
    "on": ("on top of", "resting on"),
    "inside": ("inside", "within"),
    "larger_than": ("larger than", "bigger than"),
    "smaller_than": ("smaller than",),
    "taller_than": ("taller than",),
}
BETWEEN_WORDS = ("between",)
AND_WORDS = ("and",)

VIEW_PHRASES = {
    "robot": ("from the robot's view", "from the robot's perspective", "as seen by the robot"),
    "camera": ("from the camera's view", "as seen from the camera"),
}

# Superlatives said before the noun ("the tallest cup") or after it ("the cup closest to ...").
SUPERLATIVE_PREFIX: dict[str, tuple[str, ...]] = {
    "largest": ("largest", "biggest"),
    "smallest": ("smallest", "tiniest"),
    "tallest": ("tallest",),
    "shortest": ("shortest",),
    "leftmost": ("leftmost",),
    "rightmost": ("rightmost",),
}
SUPERLATIVE_POSTFIX: dict[str, tuple[str, ...]] = {
    "leftmost": ("on the far left",),
    "rightmost": ("on the far right",),
    "closest_camera": ("closest to the camera", "nearest to the camera"),
    "farthest_camera": ("farthest from the camera", "furthest from the camera"),
    "closest_robot": ("closest to the robot", "nearest to the robot"),
    "farthest_robot": ("farthest from the robot", "furthest from the robot"),
}

ORDINAL_WORDS = ("first", "second", "third", "fourth", "fifth")
ORDINAL_SIDES = {"left": ("from the left",), "right": ("from the right",)}

CONNECTORS = ("", "that is", "which is", "located", "sitting")

PLACE_HEADS = ("the free spot", "a free spot", "the empty space", "an empty area",
               "a free area", "the open space", "a vacant spot")
PLACE_INSIDE = ("inside", "into")

REFER_PREFIXES = ("", "Point to ", "Locate ", "Pick up ", "Find ", "Grab ", "Please point at ",
                  "Show me ")
POINT_PREFIXES = ("", "Point to ", "Locate ", "Find ", "Please point at ", "Show me ")
SIDE_GRASP_PREFIXES = ("Pick up ", "Grab ", "Grasp ", "Take ")
SIDE_GRASP_PHRASES = ("from the side", "with a side grasp", "from the side, horizontally",
                      "sideways", "from its side")
PLACE_PREFIXES = ("Point to ", "Find ", "Place it in ", "Put it in ", "Mark ")
INSIDE_PREFIXES = ("Place it ", "Put it ", "Drop it ", "Point ")


def nouns(category: str | None) -> tuple[str, ...]:
    if category is None:
        return GENERIC_NOUNS
    return CATEGORY_NOUNS.get(category, (category,))
