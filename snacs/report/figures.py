"""Accuracy against FLOPs reduction, one figure per benchmark (PNG and PDF)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from snacs.io import atomic_path  # noqa: E402


def accuracy_vs_flops(summary: pd.DataFrame, benchmark: str, outputs: Iterable[str | Path]) -> None:
    """Plot pruned top-1 (mean ± std over seeds) against FLOPs reduction for each method."""
    block = summary[summary["benchmark"] == benchmark]
    if block.empty:
        raise ValueError(f"no results for benchmark {benchmark!r}")
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for method, rows in block.groupby("method", sort=True):
        rows = rows.sort_values("flops_reduction_pct_mean")
        ax.errorbar(
            rows["flops_reduction_pct_mean"],
            rows["pruned_top1_mean"],
            yerr=rows["pruned_top1_std"],
            marker="o",
            capsize=3,
            label=method,
        )
    baseline = block["baseline_top1_mean"].iloc[0]
    ax.axhline(baseline, color="grey", linestyle="--", linewidth=1, label="dense baseline")
    ax.set_xlabel("FLOPs reduction (%, conv+linear MACs)")
    ax.set_ylabel("top-1 accuracy after fine-tuning (%)")
    ax.set_title(str(block["title"].iloc[0]))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    for output in outputs:
        output = Path(output)
        with atomic_path(output) as tmp:
            fig.savefig(tmp, format=output.suffix.lstrip("."), dpi=150)
    plt.close(fig)
