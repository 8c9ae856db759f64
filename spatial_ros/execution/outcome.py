"""Did the step do what it should? Checked after every pick and place.

- Any robot: after closing and lifting, the jaws must still be apart (something is held);
  this is in ``SkillExecutor.pick`` since it needs only the gripper's measured width.
- ``GroundTruthObserver`` (simulation): the object really rose with the gripper, and after
  placing it rests where the relation asked (inside the container's footprint, on top of
  the anchor, or near the chosen free spot) and no longer in the hand.
- ``NullObserver`` (real robots without a scene model): trusts the gripper check; the next
  step's fresh perception is then the check (a missing object fails its grounding).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from spatial_ros.data import relations
from spatial_ros.execution.grounding import Target


@dataclass
class Outcome:
    ok: bool
    reason: str = ""


class Observer(Protocol):
    def before_pick(self, target: Target) -> None: ...

    def check_pick(self, target: Target) -> Outcome: ...

    def check_place(self, held: Target, place: Target, relation: str) -> Outcome: ...


class NullObserver:
    def before_pick(self, target: Target) -> None:
        return None

    def check_pick(self, target: Target) -> Outcome:
        return Outcome(True)

    def check_place(self, held: Target, place: Target, relation: str) -> Outcome:
        return Outcome(True)


class GroundTruthObserver:
    """Reads object poses from ground-truth scene graphs (``grounding.world_scene`` or
    ``grounding.truth_scene``); a ``World`` is accepted directly."""

    def __init__(self, scene, min_lift: float = 0.04, place_tolerance: float = 0.07) -> None:
        from spatial_ros.execution.grounding import world_scene

        self.scene = scene if callable(scene) else world_scene(scene)
        self.min_lift = min_lift
        self.place_tolerance = place_tolerance
        self._z0: dict[int, float] = {}

    def _objects(self) -> dict:
        return {o.id: o for o in self.scene().objects}

    def before_pick(self, target: Target) -> None:
        if target.object_id is not None:
            self._z0[target.object_id] = float(self._objects()[target.object_id].position[2])

    def check_pick(self, target: Target) -> Outcome:
        if target.object_id is None:
            return Outcome(True)
        z0 = self._z0.get(target.object_id)
        z = float(self._objects()[target.object_id].position[2])
        if z0 is not None and z - z0 < self.min_lift:
            return Outcome(False, f"{target.label} did not rise with the gripper "
                                  f"({(z - z0) * 100:.1f} cm)")
        return Outcome(True)

    def check_place(self, held: Target, place: Target, relation: str) -> Outcome:
        """The relation holds by the data layer's own predicates (what the benchmark and
        the dataset's labels use); without an anchor id, the object is near the spot."""
        if held.object_id is None:
            return Outcome(True)
        g = self.scene()
        obj = g.by_id(held.object_id)
        holds = RELATION_CHECKS.get(relation)
        if holds is not None and place.object_id is not None:
            anchor = g.by_id(place.object_id)
            if not holds(g, obj, anchor):
                return Outcome(False, f"{obj.name} ended at {np.round(obj.position, 3).tolist()}"
                                      f", not {relation.replace('_', ' ')} {anchor.name}")
            return Outcome(True)
        err = float(np.linalg.norm(obj.position[:2] - place.position[:2]))
        if err > self.place_tolerance:
            return Outcome(False, f"{obj.name} ended {err * 100:.0f} cm from the free spot")
        return Outcome(True)


RELATION_CHECKS = {
    "in": relations.inside, "on": relations.on, "left_of": relations.left_of,
    "right_of": relations.right_of, "in_front_of": relations.in_front_of,
    "behind": relations.behind, "next_to": relations.near,
}
