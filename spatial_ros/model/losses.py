"""Training losses of SpatialMamba, one term per head output, summed with config weights.

- point: cross-entropy between the token softmax and the cell target distribution (mask
  area + annotated point), plus L1 on the sub-patch offsets of the cells the mask covers;
- policy (samples with a grasp only): L1 on the contact point (the referred point, detached,
  plus the predicted refinement), geodesic rotation loss (RoboMamba; the smaller of the
  two angles to a parallel-jaw grasp and its half-turn twin), L1 on gripper width and
  on the depth offset;
- kind (``side_grasp`` models): binary cross-entropy of the side-grasp gate against whether
  the sample's grasp approaches from the side; the policy terms above then score each head
  on its own kind's samples (the top-down head on top-down grasps, the side head on side
  ones), whatever the gate says, so a wrong gate early in training teaches no head the
  other kind;
- anchor (``relation_match`` models): cross-entropy of each anchor head's softmax against the
  cell of the object the prompt's relation is to, over the samples that name one;
- objects (``object_aux`` models): cross-entropy of every visible object's colour and category
  read from the second-read token of its centroid's cell, and of its colour read from the
  fine colour key at its centroid, over all objects in the frame;
- terms (deep supervision of the point head): the point loss again on each score the point
  logits sum (token, word, colour, shape, fine colour, relation), averaged. A score that
  cannot tell the target from the prompt (the relation score when no relation is named, the
  colour score when two objects share the named colour) is best flat there, so it stops
  adding confident noise to the sum; one that can learns to on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from spatial_ros.data.vocab import COLOURS
from spatial_ros.model.spatial_mamba import (
    GraspAnswer,
    SpatialMamba,
    SpatialMambaOutput,
    grasp_rotation_error,
)


@dataclass
class LossWeights:
    point: float = 1.0
    offset: float = 2.0
    contact: float = 2.0
    rotation: float = 0.5
    width: float = 10.0
    depth: float = 10.0
    kind: float = 1.0
    anchor: float = 0.5
    objects: float = 0.3
    terms: float = 0.0


def compute_losses(model: SpatialMamba, out: SpatialMambaOutput, batch: dict,
                   w: LossWeights) -> dict[str, torch.Tensor]:
    target = batch["cell_target"].float()
    losses = {"point": point_loss(out.point_logits, target)}
    weight = batch["offset_weight"].float()
    err = (out.point_offsets - batch["cell_offsets"].float()).abs().sum(-1)
    losses["offset"] = ((err * weight).sum(-1) / weight.sum(-1).clamp_min(1e-6)).mean()
    has = batch["has_grasp"].bool()
    if out.grasp_heads is None:
        heads = [(out.grasp, has)]
    else:
        side = batch["grasp_side"].bool()
        heads = [(out.grasp_heads["top"], has & ~side), (out.grasp_heads["side"], has & side)]
        losses["kind"] = F.binary_cross_entropy_with_logits(out.side_logit, side.float())
    with torch.no_grad():
        point, _, _ = model.decode_point(out, temperature=1.0)
    # each head's terms are means over its own rows, weighted by their share of the grasps
    n = has.sum().clamp_min(1)
    for k in ("contact", "rotation", "width", "depth"):
        losses[k] = 0.0
    for answer, rows in heads:
        for k, v in policy_losses(answer, rows, point, batch).items():
            losses[k] = losses[k] + v * rows.sum() / n
    if out.anchor_logits is not None:
        losses["anchor"] = anchor_loss(out.anchor_logits, batch["anchor_cells"])
    if model.config.object_aux:
        losses["objects"] = object_loss(model, out, batch["object_xy"], batch["object_labels"])
    if w.terms and out.point_terms:
        losses["terms"] = sum(point_loss(t, target) for t in out.point_terms.values()
                              ) / len(out.point_terms)
    losses["total"] = sum(getattr(w, k) * v for k, v in losses.items())
    return losses


def policy_losses(answer: GraspAnswer, rows: torch.Tensor, point: torch.Tensor, batch: dict
                  ) -> dict[str, torch.Tensor]:
    """One policy head's contact, rotation, width and depth terms, averaged over the (B,)
    bool ``rows``; zero, but touching every output (DDP sees each parameter used), without
    rows."""
    if not rows.any():
        zero = (answer.rot6d.sum() + answer.contact_delta.sum() + answer.gripper_width.sum()
                + answer.depth_offset.sum()) * 0.0
        return dict.fromkeys(("contact", "rotation", "width", "depth"), zero)
    symmetry = batch.get("grasp_symmetry")
    return {
        "contact": F.l1_loss((point + answer.contact_delta)[rows], batch["contact"][rows]),
        "rotation": grasp_rotation_error(answer.rotation[rows], batch["rotation"][rows],
                                         None if symmetry is None else symmetry[rows]).mean(),
        "width": F.l1_loss(answer.gripper_width[rows], batch["width"][rows]),
        "depth": F.l1_loss(answer.depth_offset[rows], batch["depth_offset"][rows]),
    }


def point_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of (B, N) cell logits against a (B, N) target distribution."""
    return F.cross_entropy(logits, target)


def anchor_loss(logits: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of (B, K, N) anchor logits against (B, K) cells (-1: no anchor)."""
    cells = cells[:, :logits.shape[1]]
    named = cells >= 0
    if not named.any():
        return logits.sum() * 0.0  # keeps every parameter in the graph (DDP)
    return F.cross_entropy(logits[named], cells[named])


def object_loss(model: SpatialMamba, out: SpatialMambaOutput, xy: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
    """Colour + category cross-entropy of (B, K) objects at normalised centroids ``xy`` (B, K,
    2), ``labels`` (B, K, 2) class indices (-1: padding)."""
    n_colours = len(COLOURS)
    real = labels[..., 0] >= 0
    if not real.any():
        return out.tokens.sum() * 0.0
    b, k = real.nonzero(as_tuple=True)
    x, y = xy[b, k, 0].clamp(0, 1 - 1e-6), xy[b, k, 1].clamp(0, 1 - 1e-6)
    rows, cols = model.config.grid
    cell = (y * rows).long() * cols + (x * cols).long()
    logits = model.object_head(out.tokens[b, cell]).float()
    colour, category = labels[b, k, 0], labels[b, k, 1]
    loss = (F.cross_entropy(logits[:, :n_colours], colour)
            + F.cross_entropy(logits[:, n_colours:], category))
    if out.fine_keys is not None:
        h, w = out.fine_keys.shape[2:]
        keys = out.fine_keys[b, :, (y * h).long(), (x * w).long()]  # (M, C)
        loss = loss + F.cross_entropy(model.fine_object_head(keys).float(), colour)
    return loss
