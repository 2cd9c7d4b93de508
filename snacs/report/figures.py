"""Accuracy against FLOPs reduction, one figure per benchmark (PNG and PDF), with captions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Panel:
    """One panel of the accuracy figure: which accuracy against which FLOPs count."""

    #: the summary's column stems of the x (FLOPs reduction) and y (top-1) values
    x: str
    y: str
    #: the horizontal reference line's column stem (the dense model's accuracy)
    reference: str
    title: str
    counted: str


PANELS = (
    Panel(
        "flops_reduction_pct",
        "pruned_top1",
        "baseline_top1",
        "fine-tuned, masked",
        "masked (weights zeroed)",
    ),
    Panel(
        "slim_flops_reduction_pct",
        "pruned_top1",
        "baseline_top1",
        "fine-tuned, slim",
        "slim (channels removed)",
    ),
    # One-shot on masked counts: connection pruners save almost nothing slim, so a slim
    # axis would stack them at zero and hide the criterion's quality.
    Panel(
        "flops_reduction_pct",
        "one_shot_top1",
        "one_shot_baseline_top1",
        "one-shot (no fine-tuning), masked",
        "masked (weights zeroed)",
    ),
)


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
        "Top-1 accuracy against FLOPs reduction (conv + linear multiply-accumulates at "
        "batch 1), one line per method through its budgets. Left: after fine-tuning, the "
        "masked model; middle: after fine-tuning, the slimmed model a deployment runs; "
        "right: one-shot, the dense weights under the masks with BatchNorm statistics "
        "re-estimated and no fine-tuning, on masked counts. Dashed: the dense model; dotted "
        "(right): the dense model under the same BatchNorm re-estimation. "
        f"{spread[0].upper()}{spread[1:]}. Hollow red rings mark runs whose achieved budget "
        f"missed its target ({missed} here)."
    )


def accuracy_vs_flops(summary: pd.DataFrame, benchmark: str, outputs: Iterable[str | Path]) -> str:
    """Top-1 against FLOPs reduction, fine-tuned and one-shot, one line per method; returns
    the caption.

    Every method keeps its colour and marker from :mod:`snacs.report.style`; error bars
    appear only where there are several seeds, and a method's legend entry is a plain
    line (no error-bar caps). The x axis starts at 0 and ends past the largest reduction,
    so budgets are read against the whole range. The two fine-tuned panels share their
    accuracy axis; the one-shot panel has its own, since one-shot accuracy may lie far
    below.
    """
    block = pruner_rows(summary[summary["benchmark"] == benchmark])
    if block.empty:
        raise ValueError(f"no results for benchmark {benchmark!r}")
    fig, axes = plt.subplots(1, len(PANELS), figsize=(16, 4.4))
    axes[1].sharey(axes[0])
    largest = max(block[f"{panel.x}_mean"].max() for panel in PANELS)
    for ax, panel in zip(axes, PANELS, strict=True):
        _draw_panel(ax, block, panel, largest)
    if block["target_met"].eq(False).any() if "target_met" in block else False:
        axes[-1].scatter([], [], s=160, facecolors="none", edgecolors="red", label="target missed")
    axes[0].set_ylabel("top-1 accuracy after fine-tuning (%)")
    axes[2].set_ylabel("top-1 accuracy right after pruning (%)")
    fig.suptitle(str(block["title"].iloc[0]))
    # One legend for all panels: each label once (methods, both dense lines, missed rings).
    entries = {}
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        entries.update(zip(labels, handles, strict=True))
    axes[-1].legend(
        entries.values(),
        entries.keys(),
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
    )
    fig.tight_layout()
    save_figure(fig, outputs)
    return accuracy_caption(block)


def _draw_panel(ax, block: pd.DataFrame, panel: Panel, largest: float) -> None:
    x, y = f"{panel.x}_mean", f"{panel.y}_mean"
    for method, rows in block.groupby("method", sort=True):
        rows = rows.sort_values(x)
        style = style_of(str(method))
        ax.plot(rows[x], rows[y], color=style.color, marker=style.marker, label=method)
        if (rows["seeds"] > 1).any():
            ax.errorbar(
                rows[x],
                rows[y],
                yerr=rows[f"{panel.y}_ci"],
                fmt="none",
                ecolor=style.color,
                capsize=2,
                linewidth=1,
            )
        missed = rows[rows["target_met"].eq(False)] if "target_met" in rows else rows[:0]
        if not missed.empty:
            ax.scatter(
                missed[x],
                missed[y],
                s=160,
                facecolors="none",
                edgecolors="red",
                linewidths=1.5,
                zorder=3,
            )
    reference = block[f"{panel.reference}_mean"].iloc[0]
    if panel.y == "pruned_top1":
        ax.axhline(reference, color="grey", linestyle="--", linewidth=1, label="dense model")
    else:
        ax.axhline(
            reference,
            color="black",
            linestyle=":",
            linewidth=1.2,
            label="dense model, BatchNorm re-estimated",
        )
    ax.set_xlim(0, max(1.0, largest * 1.05))
    ax.set_xlabel(f"FLOPs reduction (%), {panel.counted}")
    ax.set_title(panel.title)
    ax.grid(alpha=0.3)
