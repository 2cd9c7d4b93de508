"""Accuracy against FLOPs reduction, one figure per benchmark (PNG and PDF)."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import cycle
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from snacs.io import atomic_path  # noqa: E402
from snacs.report.controls import pruner_rows  # noqa: E402

# Colour and marker both change per method, so more than ten methods stay distinguishable.
MARKERS = "osD^v<>ph*X"


def save_figure(fig: Figure, outputs: Iterable[str | Path]) -> None:
    """Write ``fig`` to every output (format from the suffix) atomically, then close it.

    ``bbox_inches="tight"`` keeps a legend placed outside the axes inside the image.
    """
    for output in map(Path, outputs):
        with atomic_path(output) as tmp:
            fig.savefig(tmp, format=output.suffix.lstrip("."), dpi=150, bbox_inches="tight")
    plt.close(fig)


def accuracy_vs_flops(summary: pd.DataFrame, benchmark: str, outputs: Iterable[str | Path]) -> None:
    """Plot pruned top-1 (mean ± std over seeds) against FLOPs reduction for each method.

    The legend sits right of the axes: with ten pruners inside, it hid measured points.
    """
    block = pruner_rows(summary[summary["benchmark"] == benchmark])
    if block.empty:
        raise ValueError(f"no results for benchmark {benchmark!r}")
    fig, ax = plt.subplots(figsize=(7, 4))
    markers = cycle(MARKERS)
    for method, rows in block.groupby("method", sort=True):
        rows = rows.sort_values("flops_reduction_pct_mean")
        ax.errorbar(
            rows["flops_reduction_pct_mean"],
            rows["pruned_top1_mean"],
            yerr=rows["pruned_top1_std"],
            marker=next(markers),
            capsize=3,
            label=method,
        )
    baseline = block["baseline_top1_mean"].iloc[0]
    ax.axhline(baseline, color="grey", linestyle="--", linewidth=1, label="dense baseline")
    ax.set_xlabel("FLOPs reduction (%, conv+linear MACs)")
    ax.set_ylabel("top-1 accuracy after fine-tuning (%)")
    ax.set_title(str(block["title"].iloc[0]))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    save_figure(fig, outputs)
