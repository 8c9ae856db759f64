"""Inference API: (rgb, depth_m, intrinsics, instruction) -> ``Prediction``.

This signature makes SpatialMamba a *referrer* (the perception pipeline and the benchmark
also accept the geometric baseline through it). The 7-DoF grasp comes from the policy head's
contact point, the SpatialBot-style depth query there (robust to holes), the predicted depth
offset to the grasp centre, and back-projection through the camera intrinsics.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch

from spatial_ros.data.prediction import Prediction
from spatial_ros.geometry.backproject import backproject_pixels
from spatial_ros.geometry.depth_query import query_depth
from spatial_ros.geometry.intrinsics import Intrinsics
from spatial_ros.model.processing import InputError, check_rgb, normalized_intrinsics
from spatial_ros.model.spatial_mamba import SpatialMamba

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
CANDIDATES = 8  # ranked cells per answer (Prediction.candidates); an object spans 1-4
GATE_MEMORY = 4096  # instruction gate logits remembered, one per distinct text


def _intrinsics_for(intr: Intrinsics, width: int, height: int) -> Intrinsics:
    if (intr.width, intr.height) == (width, height):
        return intr
    if abs(intr.width / intr.height - width / height) < 0.01:
        return intr.scaled(width, height)
    raise InputError(f"intrinsics are for {intr.width}x{intr.height} but the image is "
                     f"{width}x{height} (different aspect ratio)")


def _autocast(device: torch.device, dtype: str):
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {list(DTYPES)}, got '{dtype}'")
    if dtype == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[dtype])


def predict_batch(model: SpatialMamba, rgbs: Sequence, depths_m: Sequence,
                  intrinsics: Intrinsics | Sequence[Intrinsics], instructions: Sequence[str],
                  dtype: str = "float32", depth_window: int = 5, candidates: int = CANDIDATES
                  ) -> list[Prediction]:
    """One forward pass for a batch; ``timings`` (ms) are the batch's, plus ``batch_size``;
    ``candidates``: how many ranked cells each ``Prediction.candidates`` lists."""
    n = len(rgbs)
    if not (len(depths_m) == len(instructions) == n):
        raise InputError(f"batch lengths differ: {n} rgb, {len(depths_m)} depth, "
                         f"{len(instructions)} instructions")
    if n == 0:
        return []
    intrs = [intrinsics] * n if isinstance(intrinsics, Intrinsics) else list(intrinsics)
    if len(intrs) != n:
        raise InputError(f"{len(intrs)} intrinsics for a batch of {n}")
    proc = model.processor
    device = next(model.parameters()).device
    t0 = time.perf_counter()
    text = proc.tokenize(list(instructions))
    rgb_u8, depth_lo, sizes, full_depths, cams = [], [], [], [], []
    for rgb, depth, intr in zip(rgbs, depths_m, intrs, strict=True):
        rgb = check_rgb(rgb)
        h, w = rgb.shape[:2]
        rgb_u8.append(proc.resize_rgb(rgb))
        depth_lo.append(proc.resize_depth(depth, (h, w)))
        full_depths.append(np.asarray(depth))
        sizes.append((w, h))
        cams.append(_intrinsics_for(intr, w, h))
    rgb_t = proc.normalize_rgb(torch.stack(rgb_u8).to(device))
    intr_t = torch.stack([normalized_intrinsics(c) for c in cams]).to(device)
    depth_t = proc.normalize_depth(torch.stack(depth_lo).to(device), intr_t)
    ids, mask = text.input_ids.to(device), text.attention_mask.to(device)
    t1 = time.perf_counter()
    gate = instruction_logits(model, instructions)
    # the compiled graph (compiled_forward.py) is float32; bf16 runs eager under autocast
    compiled = getattr(model, "compiled_forward", None) if dtype == "float32" else None
    with torch.inference_mode(), _autocast(device, dtype):
        out = (compiled or model)(rgb_t, depth_t, ids, mask)
        if gate is not None:
            out = dataclasses.replace(out, instruction_logit=gate.to(device))
        point, conf, _ = model.decode_point(out)
        cand_pts, cand_prob = model.decode_candidates(out, candidates)
        contact = (point + out.contact_delta).clamp(0, 1)
        rot = out.rotation
    point, conf, contact = point.float().cpu().numpy(), conf.float().cpu().numpy(), \
        contact.float().cpu().numpy()
    rot = rot.float().cpu().numpy().astype(np.float64)
    width = out.gripper_width.float().cpu().numpy()
    cand_pts, cand_prob = cand_pts.cpu().numpy(), cand_prob.cpu().numpy()
    offset = out.depth_offset.float().cpu().numpy()
    side = (np.zeros(n, bool) if out.side_logit is None
            else (out.side_logit > 0).cpu().numpy())
    request = (None if out.instruction_logit is None
               else torch.sigmoid(out.instruction_logit.float()).cpu().numpy())
    t2 = time.perf_counter()
    preds = []
    for i, ((w, h), intr) in enumerate(zip(sizes, cams, strict=True)):
        # OpenCV pixel convention (Prediction, Intrinsics): pixel centres at integers
        u, v = contact[i, 0] * w - 0.5, contact[i, 1] * h - 0.5
        col, row = int(np.clip(round(u), 0, w - 1)), int(np.clip(round(v), 0, h - 1))
        q = query_depth(full_depths[i], col, row, window=depth_window, stat="median")
        position = None
        if q.valid:
            position = backproject_pixels(u, v, q.depth_m + float(offset[i]), intr)[0]
        preds.append(Prediction.from_norm(
            float(point[i, 0]), float(point[i, 1]), w, h, confidence=float(conf[i]),
            rotation=rot[i], gripper_width=float(width[i]), position=position,
            grasp_approach="side" if side[i] else "top",
            instruction_score=None if request is None else float(request[i]),
            candidates=[(float(x), float(y), float(p))
                        for (x, y), p in zip(cand_pts[i], cand_prob[i], strict=True)]))
    t3 = time.perf_counter()
    timings = {"preprocess_ms": 1e3 * (t1 - t0), "model_ms": 1e3 * (t2 - t1),
               "postprocess_ms": 1e3 * (t3 - t2), "total_ms": 1e3 * (t3 - t0),
               "batch_size": float(n)}
    for p in preds:
        p.timings = dict(timings)
    return preds


def text_gate_logits(model: SpatialMamba, instructions: Sequence[str],
                     gate: str = "side_grasp") -> torch.Tensor:
    """(B,) logits of a gate that reads only the text, no image: "side_grasp" (> 0: the
    phrase asks for a side grasp, what ``predict`` decides ``grasp_approach`` by) or
    "instruction" (> 0: the text reads as a request about the scene)."""
    if gate == "side_grasp" and model.config.side_grasp:
        def fn(words, ids, mask):
            return model.side_grasp.gate_logit(words, mask)
    elif gate == "instruction" and model.config.instruction_gate:
        fn = model.instruction_gate
    else:
        raise ValueError(f"this checkpoint has no {gate} gate ({gate}: false)" if gate in
                         ("side_grasp", "instruction") else f"unknown gate {gate!r}")
    words, ids, mask = encode_text(model, instructions)
    with torch.inference_mode():
        return fn(words, ids, mask).float().cpu()


def encode_text(model: SpatialMamba, instructions: Sequence[str]
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The text gates' inputs: frozen word vectors, token ids and mask, on the model's device
    (no_grad, not inference_mode: a gate being trained reads them too)."""
    device = next(model.parameters()).device
    text = model.processor.tokenize(list(instructions))
    ids, mask = text.input_ids.to(device), text.attention_mask.to(device)
    with torch.no_grad():
        return model.text_encoder(ids, mask), ids, mask


def instruction_logits(model: SpatialMamba, instructions: Sequence[str]
                       ) -> torch.Tensor | None:
    """(B,) the instruction gate's logits (None without a gate), each text's remembered.

    Why remembered: the gate reads only the text, and the same words come again and again
    (the executor's "Pick up the red cube" at every try, an operator repeating, a bag
    replayed), while a new one costs a MiniLM pass (~10 ms on 2 CPU threads, as much as the
    rest of the model compiled). The memory keeps the last ``GATE_MEMORY`` texts and is
    emptied when any gate weight changes (tensor versions count in-place updates).
    """
    if not model.config.instruction_gate:
        return None
    version = tuple(p._version for p in model.instruction_gate.parameters())
    memory = model.__dict__.get("_instruction_memory")
    if memory is None or memory[0] != version:
        memory = (version, OrderedDict())
        model.__dict__["_instruction_memory"] = memory
    seen = memory[1]
    new = [t for t in dict.fromkeys(instructions) if t not in seen]
    if new:
        seen.update(zip(new, text_gate_logits(model, new, "instruction").tolist(), strict=True))
    logits = torch.tensor([seen[t] for t in instructions])
    for t in instructions:
        seen.move_to_end(t)
    while len(seen) > GATE_MEMORY:  # after reading: a batch may hold more texts than it keeps
        seen.popitem(last=False)
    return logits


def side_grasp_logits(model: SpatialMamba, instructions: Sequence[str]) -> torch.Tensor:
    """(B,) the side-grasp gate's logits from the words alone (``text_gate_logits``)."""
    return text_gate_logits(model, instructions, "side_grasp")


def predict(model: SpatialMamba, rgb, depth_m, intrinsics: Intrinsics, instruction: str,
            dtype: str = "float32", depth_window: int = 5, candidates: int = CANDIDATES
            ) -> Prediction:
    """Single query; see ``predict_batch``."""
    return predict_batch(model, [rgb], [depth_m], intrinsics, [instruction], dtype=dtype,
                         depth_window=depth_window, candidates=candidates)[0]
