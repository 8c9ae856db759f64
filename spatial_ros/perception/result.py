"""The one object a perception request produces, and its JSON form on ``/spatial/result``.

Every request gets a result, including failed ones: ``error`` names the problem and the
geometric fields are ``None``, so an operator or executor always hears back.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Grasp:
    """7-DoF grasp: 6-DoF gripper pose (position + quaternion x, y, z, w) plus opening width."""

    position: list[float]
    quaternion_xyzw: list[float]
    width_m: float
    frame_id: str


@dataclass
class PerceptionResult:
    request_id: str
    instruction: str
    error: str | None = None
    referrer: str = ""
    stamp_ns: int = 0  # the frame's stamp (so bag replay and sim time stay consistent)
    camera_frame: str = ""
    base_frame: str = ""
    image_size: list[int] | None = None  # [width, height]
    point_norm: list[float] | None = None  # model output, [x, y] in [0, 1]
    point_px: list[float] | None = None  # pixel the 3D point comes from (after refinement)
    point_px_model: list[float] | None = None  # pixel the model predicted
    depth_m: float | None = None
    point_camera: list[float] | None = None
    point_base: list[float] | None = None
    grasp_camera: Grasp | None = None
    grasp_base: Grasp | None = None
    # where the grasp comes from: "top" (down onto the object) or "side" (level with the
    # table: the model's side-grasp head answered, as the instruction asked)
    grasp_approach: str | None = None
    # base frame: {center, extent, top_z, n_pixels} of the object region under the point
    footprint_base: dict[str, Any] | None = None
    # the camera's orientation in the base frame: where "left of" (as the camera sees it) is
    camera_quaternion_base: list[float] | None = None
    confidence: float | None = None
    # how much the words read as a request about the scene (the model's instruction gate;
    # None for a referrer without one); under min_instruction_score the result is an error
    instruction_score: float | None = None
    #: what the attribute check saw and did (perception/attribute_check.py): the phrase's
    #: colour/kind, the objects under the model's answer and under the one given, overruled
    check: dict[str, Any] | None = None
    refined: bool = False
    refine_shift_px: float | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    latency_ms: float | None = None  # instruction received -> result published (node sets it)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return _finite(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PerceptionResult:
        data = dict(data)
        for key in ("grasp_camera", "grasp_base"):
            if data.get(key) is not None:
                data[key] = Grasp(**data[key])
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> PerceptionResult:
        return cls.from_dict(json.loads(text))


def _finite(value: Any) -> Any:
    """JSON has no NaN/inf: they become null rather than invalid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
