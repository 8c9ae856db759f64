"""``torch.compile`` for serving: one static-shape graph, everything else eager.

Why: the tiny model's time goes to the many small ops of transformers' Mamba-2 torch path
(the chunked scan), not to arithmetic; inductor fuses them. Measured here (2 CPU cores, the
shipped checkpoint, model forward only): 1 thread 43 -> 21 ms, 2 threads 29 -> 17 ms.

Why one static shape: with dynamic shapes the graph took 6 minutes to compile and ran
slower than eager (54 ms). Perception asks one question at a time, so the compiled graph is
for a batch of 1 with the instruction left-padded to ``text_tokens`` tokens (padding is
masked: outputs equal the unpadded ones to 1e-6). A batch, or a longer instruction, runs
eager: correct, just not faster. The first call compiles (about a minute on 2 cores; torch
caches the result on disk, later processes take seconds), so call ``warm_up`` at start-up.
"""

from __future__ import annotations

import logging
import time

import torch

log = logging.getLogger(__name__)

TEXT_TOKENS = 32  # instructions up to this many tokens (with [CLS]/[SEP]) run compiled


class CompiledForward:
    """Callable like ``SpatialMamba.forward``; compiled for (1, ``text_tokens``) inputs."""

    def __init__(self, model, text_tokens: int = TEXT_TOKENS) -> None:
        self.model = model
        self.text_tokens = text_tokens
        self.pad_id = int(model.processor.tokenizer.pad_token_id or 0)
        self._compiled = torch.compile(model.forward, dynamic=False)
        self.compiled_calls = 0
        self.eager_calls = 0

    def fits(self, rgb: torch.Tensor, input_ids: torch.Tensor) -> bool:
        return rgb.shape[0] == 1 and input_ids.shape[1] <= self.text_tokens

    def __call__(self, rgb, depth, input_ids, attention_mask):
        if not self.fits(rgb, input_ids):
            self.eager_calls += 1
            return self.model(rgb, depth, input_ids, attention_mask)
        n = self.text_tokens - input_ids.shape[1]
        if n:
            input_ids = torch.cat([input_ids.new_full((1, n), self.pad_id), input_ids], 1)
            attention_mask = torch.cat([attention_mask.new_zeros(1, n), attention_mask], 1)
        self.compiled_calls += 1
        return self._compiled(rgb, depth, input_ids, attention_mask)

    def warm_up(self) -> float:
        """Compiles now (one forward on blank input); returns the seconds it took."""
        cfg = self.model.config
        device = next(self.model.parameters()).device
        image = torch.zeros(1, 3, cfg.image_height, cfg.image_width, device=device)
        ids = torch.full((1, self.text_tokens), self.pad_id, dtype=torch.long, device=device)
        mask = torch.zeros_like(ids)
        mask[:, -2:] = 1  # the padded shape every fitting call has
        t0 = time.perf_counter()
        with torch.inference_mode():
            self._compiled(image, image, ids, mask)
        return time.perf_counter() - t0


def compile_for_inference(model) -> CompiledForward:
    """Makes ``predict``/``predict_batch`` (float32) run through a compiled graph; returns it
    (not yet compiled: the first fitting call or ``warm_up()`` compiles)."""
    model.eval()
    compiled = CompiledForward(model)
    model.compiled_forward = compiled  # plain attribute: not a submodule, not in state_dict
    log.info("model forward will be compiled for batch 1, up to %d text tokens",
             compiled.text_tokens)
    return compiled
