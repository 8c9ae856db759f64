"""The referring benchmark: any referrer, the same samples, the same metrics.

Metrics: RefSpatial-Bench's accuracy (the share of predicted points inside the target mask;
float coordinates are read as normalized, integers as pixels), placement success (that
accuracy on free-space prompts), grasp position error in cm (the referrer's 3D position, or
its point back-projected through the depth image, against the ground-truth grasp centre) and
grasp rotation error (geodesic degrees, modulo the turns about the approach axis that give
the same grasp: the gripper's half turn, and the target's own symmetry, e.g. any turn on a
sphere; ``data.grasps.approach_symmetry``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from spatial_ros.data.dataset import RefSample
from spatial_ros.data.grasps import grasp_rotation_error_deg, sample_grasp_symmetry
from spatial_ros.geometry.backproject import backproject_pixels
from spatial_ros.geometry.depth_query import query_depth


@dataclass
class SampleResult:
    id: str
    kind: str
    steps: int
    placement: bool
    accuracy: float  # share of predicted points inside the mask (0 or 1 for one point)
    pos_err_cm: float | None
    rot_err_deg: float | None
    latency_s: float
    error: str = ""
    robot: str = ""  # the robot in view (robot-scene datasets); "" for bare tables
    target: str = ""  # the category of the object to grasp; "" without a grasp

    def to_dict(self) -> dict:
        return asdict(self)


def points_in_mask(points: Sequence[Sequence[float]], mask: np.ndarray) -> float:
    """RefSpatial-Bench rule: share of points inside the mask. A point whose coordinates are
    both Python/NumPy integers is a pixel (column, row); otherwise it is normalized [0, 1]."""
    if len(points) == 0:
        return 0.0
    h, w = mask.shape
    hits = 0
    for p in points:
        x, y = p[0], p[1]
        if isinstance(x, int | np.integer) and isinstance(y, int | np.integer):
            col, row = int(x), int(y)
        else:
            col, row = int(np.floor(float(x) * w)), int(np.floor(float(y) * h))
        if 0 <= col < w and 0 <= row < h and mask[row, col]:
            hits += 1
    return hits / len(points)


def _predicted_position(pred, depth_m: np.ndarray, intr) -> np.ndarray | None:
    if getattr(pred, "position", None) is not None:
        return np.asarray(pred.position, float).reshape(3)
    u, v = pred.point_px
    q = query_depth(depth_m, float(u), float(v), window=7, stat="median")
    if not q.valid:
        return None
    return backproject_pixels(np.array([q.u]), np.array([q.v]), np.array([q.depth_m]), intr)[0]


def evaluate_sample(referrer, s: RefSample) -> SampleResult:
    """Runs one referrer on one sample; a referrer exception scores 0 and is recorded."""
    rgb, depth_m, mask = s.load_rgb(), s.load_depth_m(), s.load_mask()
    if hasattr(referrer, "set_camera_pose"):
        referrer.set_camera_pose(s.camera_pose)
    t0 = time.perf_counter()
    try:
        pred = referrer.predict(rgb, depth_m, s.intrinsics, s.prompt)
    except Exception as exc:  # one failing prompt must not end the benchmark
        return SampleResult(s.id, s.kind, s.steps, s.placement, 0.0, None, None,
                            time.perf_counter() - t0, f"{type(exc).__name__}: {exc}",
                            s.extra.get("robot", ""))
    latency = time.perf_counter() - t0
    acc = points_in_mask([tuple(float(c) for c in pred.point_norm)], mask)
    pos_err = rot_err = None
    target = ""
    if s.grasp is not None:
        obj = s.target_object()
        target = "" if obj is None else str(obj.get("category", ""))
        p = _predicted_position(pred, depth_m, s.intrinsics)
        if p is not None:
            pos_err = 100.0 * float(np.linalg.norm(p - np.asarray(s.grasp["position"])))
        if getattr(pred, "rotation", None) is not None:
            r_true = np.asarray(s.grasp["rotation"])
            sym = sample_grasp_symmetry(obj, s.camera_pose, r_true)
            rot_err = grasp_rotation_error_deg(np.asarray(pred.rotation), r_true, sym)
    return SampleResult(s.id, s.kind, s.steps, s.placement, acc, pos_err, rot_err, latency,
                        robot=s.extra.get("robot", ""), target=target)


def evaluate(referrer, samples: Iterable[RefSample], progress: bool = True,
             desc: str = "evaluate") -> list[SampleResult]:
    from tqdm import tqdm

    samples = list(samples)
    return [evaluate_sample(referrer, s)
            for s in tqdm(samples, desc=desc, unit="sample", disable=not progress)]


@dataclass
class Summary:
    n: int
    accuracy: float
    placement_success: float | None
    n_placement: int
    pos_err_cm: float | None  # median
    rot_err_deg: float | None  # median
    n_grasp: int
    latency_ms: float
    errors: int


def _median(xs: list[float]) -> float | None:
    return float(np.median(xs)) if xs else None


def summarize(results: Sequence[SampleResult]) -> Summary:
    acc = [r.accuracy for r in results]
    place = [r.accuracy for r in results if r.placement]
    pos = [r.pos_err_cm for r in results if r.pos_err_cm is not None]
    rot = [r.rot_err_deg for r in results if r.rot_err_deg is not None]
    return Summary(
        n=len(results), accuracy=float(np.mean(acc)) if acc else 0.0,
        placement_success=float(np.mean(place)) if place else None, n_placement=len(place),
        pos_err_cm=_median(pos), rot_err_deg=_median(rot), n_grasp=len(pos),
        latency_ms=1000.0 * float(np.mean([r.latency_s for r in results])) if results else 0.0,
        errors=sum(bool(r.error) for r in results))


def group_accuracy(results: Sequence[SampleResult], key: str) -> dict[str, tuple[float, int]]:
    """Accuracy and count per value of ``key`` ("kind", "steps" or "robot"; results without
    a value, e.g. no robot in view, are left out)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for r in results:
        if getattr(r, key) != "":
            groups[str(getattr(r, key))].append(r.accuracy)
    return {k: (float(np.mean(v)), len(v)) for k, v in sorted(groups.items())}


def group_rotation_error(results: Sequence[SampleResult], key: str = "kind"
                         ) -> dict[str, tuple[float, int]]:
    """Median grasp rotation error (degrees) and count per value of ``key``, over the samples
    that have one (a grasp-pose task kind is judged on this, not on the point)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for r in results:
        if r.rot_err_deg is not None:
            groups[str(getattr(r, key))].append(r.rot_err_deg)
    return {k: (float(np.median(v)), len(v)) for k, v in sorted(groups.items())}


def _fmt(x: float | None, pct: bool = False, digits: int = 1) -> str:
    if x is None:
        return "–"
    return f"{100 * x:.{digits}f}" if pct else f"{x:.{digits}f}"


def _group_table(heading: str, label: str, per: dict[str, dict[str, tuple[float, int]]],
                 percent: bool = False, order=None) -> list[str]:
    """One Markdown table, a row per group and a column per predictor ((value, n) cells);
    nothing when no predictor has a group."""
    names = list(per)
    groups = sorted({g for p in per.values() for g in p}, key=order)
    if not groups:
        return []
    lines = ["", heading, "", f"| {label} | n | " + " | ".join(names) + " |",
             "|---|---|" + "---|" * len(names)]
    for g in groups:
        count = max(p[g][1] for p in per.values() if g in p)
        cells = [_fmt(per[n][g][0], percent) if g in per[n] else "–" for n in names]
        lines.append(f"| {g} | {count} | " + " | ".join(cells) + " |")
    return lines


def markdown_report(all_results: dict[str, Sequence[SampleResult]], title: str = "") -> str:
    """Side-by-side Markdown tables: overall, per kind, per step count, per robot in view."""
    names = list(all_results)
    sums = {n: summarize(r) for n, r in all_results.items()}
    lines = [f"## {title}", ""] if title else []
    lines += ["| predictor | n | accuracy % | placement success % | grasp pos err cm (median) "
              "| grasp rot err ° (median) | latency ms | errors |",
              "|---|---|---|---|---|---|---|---|"]
    for n in names:
        s = sums[n]
        lines.append(f"| {n} | {s.n} | {_fmt(s.accuracy, True)} | "
                     f"{_fmt(s.placement_success, True)} | {_fmt(s.pos_err_cm)} | "
                     f"{_fmt(s.rot_err_deg)} | {s.latency_ms:.1f} | {s.errors} |")
    for key, label in (("kind", "kind"), ("steps", "steps"), ("robot", "robot")):
        lines += _group_table(f"Accuracy (%) per {label}:", label,
                              {n: group_accuracy(r, key) for n, r in all_results.items()},
                              percent=True, order=(lambda g: (len(g), g)) if key == "steps"
                              else None)
    lines += _group_table("Grasp rotation error (°, median) per kind:", "kind",
                          {n: group_rotation_error(r) for n, r in all_results.items()})
    lines += _group_table(  # a sphere's or a cylinder's yaw is free: where yaw is read at all
        "Grasp rotation error (°, median) per object grasped:", "object",
        {n: group_rotation_error([x for x in r if x.target], "target")
         for n, r in all_results.items()})
    return "\n".join(lines) + "\n"
