"""Named colours with HSV ranges, so domain randomization never changes a colour's name.

A referring expression says "the red cube"; if randomization could turn that cube orange,
the label would be wrong. Every colour is therefore a box in HSV space that a person would
still call by its name, and sampling stays inside the box.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ColourSpec:
    name: str
    hue: tuple[float, float]  # degrees, may wrap (e.g. (-8, 8) for red)
    sat: tuple[float, float]
    val: tuple[float, float]

    @property
    def nominal(self) -> tuple[float, float, float, float]:
        """The centre of the colour's range (what the un-randomized scene uses)."""
        h = (sum(self.hue) / 2.0) % 360.0
        r, g, b = colorsys.hsv_to_rgb(h / 360.0, sum(self.sat) / 2.0, sum(self.val) / 2.0)
        return (r, g, b, 1.0)

    def sample(self, rng: np.random.Generator) -> tuple[float, float, float, float]:
        h = rng.uniform(*self.hue) % 360.0
        r, g, b = colorsys.hsv_to_rgb(h / 360.0, rng.uniform(*self.sat), rng.uniform(*self.val))
        return (r, g, b, 1.0)

    def contains(self, rgba) -> bool:
        """True when ``rgba`` lies inside this colour's HSV box (1e-6 tolerance)."""
        h, s, v = colorsys.rgb_to_hsv(*[float(c) for c in rgba[:3]])
        h *= 360.0
        lo, hi = self.hue
        eps = 1e-6
        in_hue = any(lo - eps <= h + k <= hi + eps for k in (-360.0, 0.0, 360.0))
        if self.sat[1] <= 0.15:  # achromatic colours: hue is meaningless
            in_hue = True
        return (in_hue and self.sat[0] - eps <= s <= self.sat[1] + eps
                and self.val[0] - eps <= v <= self.val[1] + eps)


COLOURS: dict[str, ColourSpec] = {c.name: c for c in (
    ColourSpec("red", (-6.0, 6.0), (0.75, 0.95), (0.65, 0.9)),
    ColourSpec("orange", (20.0, 32.0), (0.8, 1.0), (0.85, 1.0)),
    ColourSpec("yellow", (50.0, 58.0), (0.75, 0.95), (0.85, 1.0)),
    ColourSpec("green", (105.0, 135.0), (0.6, 0.85), (0.45, 0.75)),
    ColourSpec("blue", (210.0, 228.0), (0.7, 0.9), (0.6, 0.9)),
    ColourSpec("purple", (270.0, 290.0), (0.5, 0.75), (0.45, 0.7)),
    ColourSpec("pink", (325.0, 340.0), (0.35, 0.55), (0.9, 1.0)),
    ColourSpec("brown", (22.0, 32.0), (0.55, 0.75), (0.3, 0.45)),
    ColourSpec("white", (0.0, 360.0), (0.0, 0.06), (0.88, 0.97)),
    ColourSpec("gray", (0.0, 360.0), (0.0, 0.06), (0.45, 0.6)),
    ColourSpec("black", (0.0, 360.0), (0.0, 0.1), (0.04, 0.12)),
)}


def colour(name: str) -> ColourSpec:
    try:
        return COLOURS[name]
    except KeyError:
        raise ValueError(f"unknown colour '{name}'; known: {sorted(COLOURS)}") from None
