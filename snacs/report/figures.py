"""Accuracy against FLOPs reduction, one figure per benchmark (PNG and PDF), with captions."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from snacs.io import atomic_path  # noqa: E402
from snacs.report.controls import pruner_rows  # noqa: E402
from snacs.report.style import style_of  # noqa: E402


def save_figure(fig: Figure, outputs: Iterable[str | Path]) -> None:
    """Write ``fig`` to every output (format from the suffix) atomically, then close it.

    ``bbox_inches="tight"`` keeps a legend placed outside the axes inside the image.
    """
    for output in map(Path, outputs):
        with atomic_path(output) as tmp:
            fig.savefig(tmp, format=output.suffix.lstrip("."), dpi=150, bbox_inches="tight")
    plt.close(fig)


PANELS = {
    "flops_reduction_pct": "masked: pruned weights zeroed in place",
    "slim_flops_reduction_pct": "slim: pruned channels physically removed",
}


def accuracy_caption(block: pd.DataFrame) -> str:
    """What the accuracy figure of one benchmark plots and how it was counted."""
    seeds = int(block["seeds"].max())
    spread = (
        f"error bars: 95 % t interval over {seeds} seeds"
        if seeds > 1
        else "one seed, so no error bars"
    )
    missed = block["target_met"].eq(False).sum() if "target_met" in block else 0
    return (
        "Top-1 accuracy after fine-tuning against FLOPs reduction (conv + linear "
        "multiply-accumulates at batch 1), one line per method through its budgets. Left: "
        "the masked model; right: the slimmed model a deployment runs. Dashed: the dense "
        f"model. {spread[0].upper()}{spread[1:]}. Hollow red rings mark runs whose achieved "
        f"budget missed its target ({missed} here)."
    )


def accuracy_vs_flops(summary: pd.DataFrame, benchmark: str, outputs: Iterable[str | Path]) -> str:
    """Top-1 against masked and slim FLOPs reduction, one line per method; returns the caption.

    Every method keeps its colour and marker from :mod:`snacs.report.style`; error bars
    appear only where there are several seeds, and a method's legend entry is a plain
    line (no error-bar caps). The x axis starts at 0 and ends past the largest reduction,
    so budgets are read against the whole range.
    """
    block = pruner_rows(summary[summary["benchmark"] == benchmark])
    if block.empty:
        raise ValueError(f"no results for benchmark {benchmark!r}")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    largest = max(block[f"{x}_mean"].max() for x in PANELS)
    for ax, (x, title) in zip(axes, PANELS.items(), strict=True):
        for method, rows in block.groupby("method", sort=True):
            rows = rows.sort_values(f"{x}_mean")
            style = style_of(str(method))
            xs, ys = rows[f"{x}_mean"], rows["pruned_top1_mean"]
            ax.plot(xs, ys, color=style.color, marker=style.marker, label=method)
            if (rows["seeds"] > 1).any():
                ax.errorbar(
                    xs,
                    ys,
                    yerr=rows["pruned_top1_ci"],
                    fmt="none",
                    ecolor=style.color,
                    capsize=2,
                    linewidth=1,
                )
            missed = rows[rows["target_met"].eq(False)] if "target_met" in rows else rows[:0]
            if not missed.empty:
                ax.scatter(
                    missed[f"{x}_mean"],
                    missed["pruned_top1_mean"],
                    s=160,
                    facecolors="none",
                    edgecolors="red",
                    linewidths=1.5,
                    zorder=3,
                )
        baseline = block["baseline_top1_mean"].iloc[0]
        ax.axhline(baseline, color="grey", linestyle="--", linewidth=1, label="dense model")
        ax.set_xlim(0, max(1.0, largest * 1.05))
        ax.set_xlabel(f"FLOPs reduction (%), {title}")
        ax.set_title(title.split(":")[0])
        ax.grid(alpha=0.3)
    if block["target_met"].eq(False).any() if "target_met" in block else False:
        axes[1].scatter([], [], s=160, facecolors="none", edgecolors="red", label="target missed")
    axes[0].set_ylabel("top-1 accuracy after fine-tuning (%)")
    fig.suptitle(str(block["title"].iloc[0]))
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    save_figure(fig, outputs)
    return accuracy_caption(block)
