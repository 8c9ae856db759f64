"""Benchmark charts (matplotlib, Agg: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from spatial_ros.data.evaluate import SampleResult, group_accuracy, summarize


def accuracy_bars(all_results: dict[str, Sequence[SampleResult]], path: str | Path,
                  key: str = "kind", title: str = "") -> Path:
    """Grouped bars: accuracy per ``key`` value (plus "all") for each predictor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(all_results)
    per = {n: group_accuracy(r, key) for n, r in all_results.items()}
    groups = sorted({g for p in per.values() for g in p},
                    key=lambda g: (len(g), g) if key == "steps" else g)
    groups = ["all", *groups]
    x = np.arange(len(groups))
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(max(8.0, 0.55 * len(groups) * max(len(names), 1)), 4.8))
    for i, n in enumerate(names):
        vals = [100 * summarize(all_results[n]).accuracy if g == "all"
                else 100 * per[n].get(g, (np.nan, 0))[0] for g in groups]
        ax.bar(x + (i - (len(names) - 1) / 2) * width, vals, width, label=n)
    ax.set_xticks(x)
    ax.set_xticklabels(groups, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("accuracy (% points in mask)")
    ax.set_ylim(0, 100)
    ax.set_title(title or f"referring accuracy per {key}")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
