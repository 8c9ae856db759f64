"""Backbone scaling: Mamba-2 (linear in tokens) vs a Transformer encoder of equal width and
depth (quadratic attention), forward latency and peak memory from 256 to 8,192 tokens.

    .venv/bin/python bench/bench_backbone_scaling.py [--quick] [--width 128] [--depth 4]

Each (backbone, length) runs in a fresh subprocess so its peak resident memory is its own
(``ru_maxrss`` minus the RSS before the forward pass); latency is the best of the repetitions
(the least disturbed by other processes on a shared machine). Prints a Markdown table with the
Transformer/Mamba ratios, the first length where Mamba is faster, and writes a PNG plot.
The Transformer is ``torch.nn.TransformerEncoder`` (PyTorch SDPA attention, 4x MLP).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

WORKER = r"""
import json, resource, sys, time, warnings
import torch
warnings.filterwarnings("ignore")
kind, length, width, depth, threads, reps = sys.argv[1], *map(int, sys.argv[2:7])
torch.set_num_threads(threads)
torch.manual_seed(0)
if kind == "mamba2":
    import transformers
    transformers.logging.set_verbosity_error()
    from transformers import Mamba2Config, Mamba2Model
    model = Mamba2Model(Mamba2Config(hidden_size=width, num_hidden_layers=depth, state_size=32,
                                     expand=2, head_dim=32, num_heads=2 * width // 32,
                                     chunk_size=64, vocab_size=1, pad_token_id=None,
                                     bos_token_id=None, eos_token_id=None)).eval()
    run = lambda x: model(inputs_embeds=x).last_hidden_state
else:
    layer = torch.nn.TransformerEncoderLayer(width, max(1, width // 32), 4 * width,
                                             batch_first=True, norm_first=True, dropout=0.0)
    model = torch.nn.TransformerEncoder(layer, depth, enable_nested_tensor=False).eval()
    run = model
params = sum(p.numel() for p in model.parameters())
x = torch.randn(1, length, width)
def rss_kb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
with torch.inference_mode():
    before = rss_kb()
    run(x)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(reps):
        t = time.perf_counter(); run(x); times.append(time.perf_counter() - t)
print(json.dumps({"ms": 1e3 * min(times), "mem_mb": max(0, peak - before) / 1024,
                  "params": params}))
"""


def measure(kind: str, length: int, width: int, depth: int, threads: int, reps: int) -> dict:
    out = subprocess.run([sys.executable, "-c", WORKER, kind, str(length), str(width),
                          str(depth), str(threads), str(reps)], capture_output=True, text=True,
                         timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} @ {length}: {out.stderr[-800:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="lengths 256..4096, fewer repetitions")
    ap.add_argument("--width", type=int, default=128, help="tiny preset width")
    ap.add_argument("--depth", type=int, default=4, help="tiny preset depth")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--plot", default=str(HERE / "results" / "backbone_scaling.png"))
    args = ap.parse_args()
    lengths = [256, 512, 1024, 2048, 4096] + ([] if args.quick else [8192])
    reps = 3 if args.quick else 5
    rows = []
    for n in lengths:
        m = measure("mamba2", n, args.width, args.depth, args.threads, reps)
        t = measure("transformer", n, args.width, args.depth, args.threads, reps)
        rows.append((n, m, t))
    print(f"Backbones at width {args.width}, depth {args.depth}, batch 1, {args.threads} CPU "
          f"threads (Mamba-2 torch path: no mamba-ssm kernels on CPU); params: Mamba-2 "
          f"{rows[0][1]['params'] / 1e6:.2f} M, Transformer {rows[0][2]['params'] / 1e6:.2f} M"
          "\n")
    print("| tokens | Mamba-2 ms | Transformer ms | Transformer / Mamba time | Mamba-2 MB | "
          "Transformer MB | Transformer / Mamba memory |")
    print("|---|---|---|---|---|---|---|")
    for n, m, t in rows:
        mem_ratio = t["mem_mb"] / m["mem_mb"] if m["mem_mb"] > 0 else float("nan")
        print(f"| {n} | {m['ms']:.1f} | {t['ms']:.1f} | {t['ms'] / m['ms']:.2f}x | "
              f"{m['mem_mb']:.1f} | {t['mem_mb']:.1f} | {mem_ratio:.2f}x |")
    faster = [n for n, m, t in rows if m["ms"] < t["ms"]]
    print("\nMamba-2 is faster from "
          + (f"{faster[0]} tokens on" if faster else "none of the measured lengths")
          + " (per-token cost: Mamba-2 "
          + f"{rows[-1][1]['ms'] / rows[-1][0] * 1e3:.1f} us vs Transformer "
          + f"{rows[-1][2]['ms'] / rows[-1][0] * 1e3:.1f} us at {rows[-1][0]} tokens)")
    _plot(rows, Path(args.plot), args)
    print(f"\nplot: {args.plot}")
    return 0


def _plot(rows, path: Path, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    n = [r[0] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.loglog(n, [r[1]["ms"] for r in rows], "o-", label="Mamba-2")
    a.loglog(n, [r[2]["ms"] for r in rows], "s-", label="Transformer")
    a.set_xlabel("tokens")
    a.set_ylabel("forward latency (ms)")
    a.legend()
    a.grid(True, which="both", alpha=0.3)
    b.semilogx(n, [r[1]["mem_mb"] for r in rows], "o-", label="Mamba-2")
    b.semilogx(n, [r[2]["mem_mb"] for r in rows], "s-", label="Transformer")
    b.set_xlabel("tokens")
    b.set_ylabel("peak extra memory (MB)")
    b.legend()
    b.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"width {args.width}, depth {args.depth}, {args.threads} CPU threads")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    raise SystemExit(main())
