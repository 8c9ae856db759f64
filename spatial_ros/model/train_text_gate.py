"""Trains the gates that read only the text: the instruction gate (``InstructionGate``) and
the side-grasp gate (``SideGraspHead.gate``), and measures them.

Why a trainer of its own: these gates read only frozen text features (MiniLM's sentence
vector, or its word vectors), so they need no image, no tensor cache and no backbone pass.
The instruction gate's texts are drawn once into a pool whose sentence vectors are computed
once (about 5 minutes for 80,000 texts on two CPU cores); a step is then a small MLP, and a
run takes about 8 minutes. Each run starts the gate fresh (seeded) and leaves every other
weight of the checkpoint as it was.

- ``gate: instruction``: positives are the prompts of the datasets' train splits (some
  reworded: ``data.off_task.vary_prompt``), negatives ``data.off_task``'s families.
- ``gate: side_grasp``: positives are the side-grasp prompts (kind ``grasp_side``), half of
  them with their phrase swapped for another way to say it; negatives every other prompt,
  half of them with "side" used for something else after it (``data.grasp_wording``).

Run: ``spatial-ros train-gate --config config/gate/instruction_gate.yaml`` (or
``side_grasp_gate.yaml``).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from spatial_ros.data import grasp_wording, off_task
from spatial_ros.model.checkpoint import load_pretrained, save_pretrained
from spatial_ros.model.predict import encode_text, text_gate_logits
from spatial_ros.model.spatial_mamba import InstructionGate, SpatialMamba

log = logging.getLogger(__name__)

EVAL_SPLITS = ("val", "test", "unseen")
EVAL_NEGATIVES = 500  # per random family, held-out part
GATES = ("instruction", "side_grasp")
READS = ("sentence", "words")
SIDE_KIND = "grasp_side"


@dataclass
class TextGateConfig:
    gate: str = "instruction"  # instruction | side_grasp
    out_dir: str = "runs/instruction_gate"
    init_from: str | None = None  # checkpoint to train the gate in; None: the shipped one
    roots: list[str] = field(default_factory=lambda: [
        "datasets/v1", "datasets/robots", "datasets/rollouts", "datasets/grasp_side_mix"])
    steps: int = 3000
    batch_size: int = 256  # half positives, half negatives
    lr: float = 3e-3
    weight_decay: float = 0.01
    hidden: int = 64  # instruction gate's MLP width
    reads: str = "sentence"  # instruction gate's input: sentence | words (InstructionGate)
    pool: int = 40000  # instruction gate: texts per side, drawn once (their MiniLM vectors too)
    eval_every: int = 1000
    seed: int = 0
    num_threads: int = 2

    def __post_init__(self) -> None:
        if self.gate not in GATES:
            raise ValueError(f"gate must be one of {GATES}, got {self.gate!r}")
        if self.reads not in READS:
            raise ValueError(f"reads must be one of {READS}, got {self.reads!r}")


def read_records(roots: list[str], split: str) -> dict[str, list[tuple[str, str]]]:
    """Each root's unique (prompt, kind) pairs of ``split`` (roots without it left out)."""
    out = {}
    for root in roots:
        path = Path(root) / f"{split}.jsonl"
        if path.is_file():
            with path.open() as f:
                pairs = {(r["prompt"], r.get("kind", "")) for r in map(json.loads, f)}
            out[Path(root).name] = sorted(pairs)
    return out


def read_prompts(roots: list[str], split: str) -> dict[str, list[str]]:
    """Each root's unique prompts of ``split``."""
    return {name: sorted({p for p, _ in pairs})
            for name, pairs in read_records(roots, split).items()}


def word_pools(model: SpatialMamba, prompts: dict[str, dict[str, list[str]]]
               ) -> dict[str, list[str]]:
    """Dictionary words of the model's tokenizer for the "words" family, minus every word of
    ``prompts`` ({split: {root: prompts}}, all splits: a negative never says "cup" or
    "left")."""
    vocab = [w for w in model.processor.tokenizer.get_vocab() if not w.startswith(("##", "["))]
    said = set()
    for by_root in prompts.values():
        for texts in by_root.values():
            said |= off_task.prompt_words(texts)
    return off_task.split_word_pool(vocab, said)


def sentence_features(gate: InstructionGate, model: SpatialMamba, texts: list[str],
                      batch: int = 256) -> torch.Tensor:
    """The sentence gate's frozen input for ``texts``, computed once (a MiniLM pass costs
    about 4 ms per text here: far more than the gate's step). Sorted by length so a batch
    pads little."""
    order = np.argsort([len(t) for t in texts], kind="stable")
    out = torch.zeros(len(texts), gate.score[0].in_features)
    for i in tqdm(range(0, len(texts), batch), desc="MiniLM sentence vectors", unit="batch"):
        idx = order[i:i + batch]
        words, ids, mask = encode_text(model, [texts[j] for j in idx])
        with torch.no_grad():
            out[torch.as_tensor(idx)] = gate.features(words, ids, mask).float().cpu()
    return out


def gate_logits(model: SpatialMamba, texts: list[str], gate: str = "instruction",
                batch: int = 512) -> np.ndarray:
    """``predict.text_gate_logits`` over any number of texts, ``batch`` at a time."""
    out = [text_gate_logits(model, texts[i:i + batch], gate).numpy()
           for i in range(0, len(texts), batch)]
    return np.concatenate(out) if out else np.zeros(0)


def gate_probabilities(model: SpatialMamba, texts: list[str], gate: str = "instruction",
                       batch: int = 512) -> np.ndarray:
    """The gate's probability per text (instruction: a request about the scene; side_grasp:
    asks for a grasp from the side), words only."""
    return 1.0 / (1.0 + np.exp(-gate_logits(model, texts, gate, batch)))


def _row(name: str, want: bool, p: np.ndarray) -> dict:
    worst = {"p_min": float(p.min())} if want else {"p_max": float(p.max())}
    return {"set": name, "want": want, "n": len(p), "passed": float((p > 0.5).mean()), **worst}


class InstructionTask:
    """Positives: scene prompts (reworded at times); negatives: ``data.off_task``. Both drawn
    once into a pool of ``cfg.pool`` texts a side, so a sentence gate's MiniLM vectors are
    computed once, not at every step."""

    def __init__(self, model: SpatialMamba, cfg: TextGateConfig) -> None:
        self.model, self.cfg = model, cfg
        model.instruction_gate = InstructionGate(cfg.reads, model.text_encoder.out_dim,
                                                 cfg.hidden)
        model.config.instruction_gate = True
        model.config.instruction_gate_reads = cfg.reads
        model.config.instruction_gate_hidden = cfg.hidden
        self.module = model.instruction_gate
        self.prompts = {split: read_prompts(cfg.roots, split)
                        for split in ("train", *EVAL_SPLITS)}
        positives = [p for ps in self.prompts["train"].values() for p in ps]
        self.pools = word_pools(model, self.prompts)
        log.info("%d train prompts; word pool %d train / %d held out", len(positives),
                 len(self.pools["train"]), len(self.pools["test"]))
        rng = np.random.default_rng(cfg.seed)
        pos = [off_task.vary_prompt(positives[i], rng, self.pools["train"])
               for i in rng.integers(len(positives), size=cfg.pool)]
        neg = [t for _, t in off_task.sample_off_task(rng, cfg.pool, "train",
                                                      self.pools["train"])]
        self.texts = pos + neg
        self.sentences = (sentence_features(self.module, model, self.texts)
                          if cfg.reads == "sentence" else None)

    def batch(self, rng: np.random.Generator, half: int) -> np.ndarray:
        """Pool indices: ``half`` positives, then ``half`` negatives."""
        n = self.cfg.pool
        return np.concatenate([rng.integers(n, size=half), n + rng.integers(n, size=half)])

    def logits(self, batch: np.ndarray) -> torch.Tensor:
        if self.sentences is not None:
            return self.module.logit(self.sentences[torch.as_tensor(batch)], None)
        words, ids, mask = encode_text(self.model, [self.texts[i] for i in batch])
        return self.module(words, ids, mask)

    def evaluate(self, seed: int = 1) -> list[dict]:
        """Dataset prompts of the held-out splits and the free requests should pass, every
        held-out negative family be refused."""
        rows = [_row(f"{name}/{split}", True, gate_probabilities(self.model, prompts))
                for split in EVAL_SPLITS for name, prompts in self.prompts[split].items()]
        rows.append(_row("free requests (held out)", True,
                         gate_probabilities(self.model, list(off_task.FREE_REQUESTS))))
        rng = np.random.default_rng(seed)
        for family in off_task.FAMILIES:
            texts = (list(off_task.HELD_OUT_OFF_TASK) if family == "off_task" else
                     [t for _, t in off_task.sample_off_task(
                         rng, EVAL_NEGATIVES, "test", self.pools["test"], families=(family,))])
            rows.append(_row(f"{family} (held out)", False,
                             gate_probabilities(self.model, texts)))
        return rows


class SideGraspTask:
    """Positives: side-grasp prompts (reworded half the time); negatives: every other prompt
    (half of them with "side" used for something else)."""

    def __init__(self, model: SpatialMamba, cfg: TextGateConfig) -> None:
        if not model.config.side_grasp:
            raise ValueError("gate side_grasp: the checkpoint has no side-grasp head")
        self.model, self.cfg = model, cfg
        self.module = model.side_grasp.gate
        model.side_grasp.close_gate()  # fresh, as SideGraspHead starts it
        self.held_out = {split: read_records(cfg.roots, split) for split in EVAL_SPLITS}
        pairs = [pk for ps in read_records(cfg.roots, "train").values() for pk in ps]
        self.side = sorted({p for p, k in pairs if k == SIDE_KIND})
        self.other = sorted({p for p, k in pairs if k != SIDE_KIND})
        if not self.side:
            raise FileNotFoundError(f"no {SIDE_KIND} prompts in the train splits of "
                                    f"{cfg.roots}")
        log.info("%d side-grasp and %d other train prompts", len(self.side), len(self.other))

    def batch(self, rng: np.random.Generator, half: int) -> list[str]:
        """``half`` side-grasp texts, then ``half`` others."""
        pos = [self.side[i] for i in rng.integers(len(self.side), size=half)]
        pos = [grasp_wording.reword_side_request(p, rng) if rng.random() < 0.5 else p
               for p in pos]
        neg = [self.other[i] for i in rng.integers(len(self.other), size=half)]
        neg = [grasp_wording.other_side_use(p, rng) if rng.random() < 0.5 else p for p in neg]
        return pos + neg

    def logits(self, texts: list[str]) -> torch.Tensor:
        words, _, mask = encode_text(self.model, texts)
        return self.model.side_grasp.gate_logit(words, mask)

    def evaluate(self, seed: int = 1) -> list[dict]:
        """Held-out splits: side-grasp prompts should open the gate, the others not; and the
        free phrasings of ``data.grasp_wording`` (never trained on)."""
        rows = []
        for split, by_root in self.held_out.items():
            for name, pairs in by_root.items():
                for want in (True, False):
                    texts = [p for p, k in pairs if (k == SIDE_KIND) == want]
                    if texts:
                        label = "side-grasp" if want else "other"
                        rows.append(_row(f"{name}/{split} {label}", want,
                                         gate_probabilities(self.model, texts, "side_grasp")))
        for name, texts, want in (("side phrasings (held out)", grasp_wording.HELD_OUT_SIDE,
                                   True),
                                  ("other uses of side (held out)",
                                   grasp_wording.HELD_OUT_OTHER, False)):
            rows.append(_row(name, want, gate_probabilities(self.model, list(texts),
                                                            "side_grasp")))
        return rows


def format_rows(rows: list[dict]) -> str:
    lines = ["| set | should pass | n | passed | worst probability |", "|---|---|---|---|---|"]
    for r in rows:
        worst = r.get("p_min", r.get("p_max"))
        lines.append(f"| {r['set']} | {'yes' if r['want'] else 'no'} | {r['n']} | "
                     f"{100 * r['passed']:.1f} % | {worst:.3f} |")
    return "\n".join(lines)


def train_text_gate(cfg: TextGateConfig) -> dict:
    """Trains ``cfg.gate`` afresh in ``cfg.init_from``; writes ``out_dir/final`` (the
    checkpoint) and ``out_dir/report.json``; returns the report."""
    torch.set_num_threads(cfg.num_threads)
    rng = np.random.default_rng(cfg.seed)
    model = load_pretrained(cfg.init_from)
    for p in model.parameters():
        p.requires_grad_(False)
    torch.manual_seed(cfg.seed)  # the fresh gate: the same whatever init_from held
    task = (InstructionTask if cfg.gate == "instruction" else SideGraspTask)(model, cfg)
    gate = task.module.train()
    for p in gate.parameters():
        p.requires_grad_(True)
    opt = torch.optim.AdamW(gate.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.steps,
                                                pct_start=0.05)
    half = cfg.batch_size // 2
    target = torch.tensor([1.0] * half + [0.0] * half)
    t0 = time.time()
    history = []
    bar = tqdm(range(cfg.steps), desc=f"{cfg.gate} gate", unit="step")
    for step in bar:
        loss = F.binary_cross_entropy_with_logits(task.logits(task.batch(rng, half)), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            gate.eval()
            rows = task.evaluate()
            gate.train()
            history.append({"step": step + 1, "loss": loss.item(), "rows": rows})
            log.info("step %d:\n%s", step + 1, format_rows(rows))
    gate.eval()
    out = Path(cfg.out_dir)
    save_pretrained(model, out / "final")
    report = {"config": asdict(cfg), "minutes": (time.time() - t0) / 60, "history": history,
              "final": history[-1]["rows"]}
    (out / "report.json").write_text(json.dumps(report, indent=2))
    log.info("wrote %s (%.1f min)", out / "final", report["minutes"])
    return report
