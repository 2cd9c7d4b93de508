"""Figures of the side studies, each drawing the paper's numbers dashed beside ours.

* :func:`speed_figure`: seconds to score one layer pair against the group count (log-log),
  speed-ups of SNACS over MINT annotated, like the paper's runtime figure (docs/method.md);
* :func:`estimator_figure`: MSE of the estimator's readings against N and against d, and
  their rank correlation with the truth on layer-shaped cases (docs/method.md);
* :func:`layer_compression_figure`: pruned percentage of every layer per method (docs/method.md).

Same colour and marker = same method as in every other figure (:mod:`snacs.report.style`);
solid = measured here, dashed = the paper's values.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from snacs.report.figures import save_figure  # noqa: E402
from snacs.report.speed import method_label  # noqa: E402
from snacs.report.style import style_of  # noqa: E402
from snacs.studies.estimator_accuracy import collapse_note, variant_label  # noqa: E402
from snacs.studies.speed import MINT, snacs_method  # noqa: E402


def speed_figure(table: pd.DataFrame, outputs: Iterable[str | Path]) -> None:
    """Runtime against group count from :func:`snacs.studies.speed.speedup_table`."""
    phis = [c.removeprefix("speedup_") for c in table.columns if c.startswith("speedup_")]
    methods = [MINT, *(snacs_method(p) for p in phis)]
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for method in methods:
        color = style_of(method).color
        ours = table[table[f"{method}_runs"] > 0]
        if not ours.empty:
            ax.errorbar(
                ours["groups"],
                ours[f"{method}_mean"],
                yerr=ours[f"{method}_std"],
                color=color,
                marker=style_of(method).marker,
                capsize=3,
                label=f"{method_label(method)} (this run)",
            )
        paper = table.dropna(subset=[f"paper_{method}_mean"])
        if not paper.empty:
            ax.plot(
                paper["groups"],
                paper[f"paper_{method}_mean"],
                color=color,
                marker="s",
                markerfacecolor="none",
                linestyle="--",
                label=f"{method_label(method)} (paper)",
            )
    _annotate_speedups(ax, table, phis, "", "black")
    _annotate_speedups(ax, table, phis, "paper_", "dimgrey")
    groups = list(table["groups"])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(groups, [f"{g}×{g}" for g in groups])
    ax.minorticks_off()
    ax.set_xlim(min(groups) / 1.4, max(groups) * 1.7)  # room for the last annotation
    ax.text(
        0.99,
        0.02,
        "speed-up MINT / SNACS: black = this run, grey italic = paper",
        transform=ax.transAxes,
        ha="right",
        fontsize=8,
        color="dimgrey",
    )
    ax.set_xlabel("parent groups × child groups (VGG16 conv9, 512 → 512)")
    ax.set_ylabel("seconds to score the layer pair (log)")
    ax.set_title("Scoring time: SNACS vs MINT (speed-up = MINT / SNACS, smaller φ)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    save_figure(fig, outputs)


def _annotate_speedups(ax, table: pd.DataFrame, phis: list[str], prefix: str, color: str) -> None:
    """Write the smaller speed-up of each group count between its MINT and SNACS points."""
    for _, row in table.dropna(subset=[f"{prefix}min_speedup"]).iterrows():
        snacs = min(row[f"{prefix}{snacs_method(p)}_mean"] for p in phis)
        middle = math.sqrt(row[f"{prefix}{MINT}_mean"] * snacs)
        ratio = row[f"{prefix}min_speedup"]
        ax.annotate(
            f"{ratio:.1f}×" if ratio < 10 else f"{ratio:.0f}×",
            (row["groups"], middle),
            xytext=(6, 0),
            textcoords="offset points",
            fontsize=8,
            color=color,
            fontstyle="normal" if not prefix else "italic",
            va="center",
        )


def estimator_figure(table: pd.DataFrame, outputs: Iterable[str | Path]) -> None:
    """MSE against N and d per estimator, and Spearman on layer-shaped cases.

    From :func:`summarise_estimator`'s table; the caption under the panels states any
    collapse towards 0 in words (:func:`collapse_note`), since a collapsed estimator's
    MSE only mirrors the true CMI.
    """
    panels = [s for s in ("samples", "dimension", "layer") if s in set(table["sweep"])]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.4), squeeze=False)
    titles = {
        "samples": "number of samples N (dims 1, 1, 2)",
        "dimension": "dimension d (dims d, d, d)",
        "layer": "width of Z (layer-shaped: X child group, Y parent group of 8)",
    }
    variants = list(dict.fromkeys(zip(table["reading"], table["phi"], strict=True)))
    colours = {variant: f"C{index}" for index, variant in enumerate(variants)}
    for ax, sweep in zip(axes[0], panels, strict=True):
        block = table[table["sweep"] == sweep]
        metric = "spearman" if sweep == "layer" else "mse"
        for reading, phi in variants:
            rows = block[(block["reading"] == reading) & (block["phi"] == phi)]
            rows = rows.sort_values("setting")
            if rows.empty:
                continue
            colour = colours[(reading, phi)]
            label = variant_label(reading, phi)
            ax.plot(rows["setting"], rows[metric], color=colour, marker="o", label=label)
            paper = rows.dropna(subset=["paper_mse"])
            if metric == "mse" and not paper.empty:
                ax.plot(
                    paper["setting"],
                    paper["paper_mse"],
                    color=colour,
                    marker="s",
                    markerfacecolor="none",
                    linestyle="--",
                    label=f"{label} (paper)",
                )
        if sweep == "layer":
            baseline = block.drop_duplicates("setting").sort_values("setting")
            ax.plot(
                baseline["setting"],
                baseline["mi_spearman"],
                color="grey",
                linestyle=":",
                marker="x",
                label="true plain MI I(X;Y)",
            )
            ax.axhline(0.9, color="grey", linewidth=0.6)
            ax.set_ylim(-1.05, 1.05)
            ax.set_ylabel("Spearman with the true CMI over cases")
        else:
            ax.set_yscale("log")
            ax.set_ylabel("MSE against the true CMI (bits², log)")
        if sweep == "samples":
            ax.set_xscale("log")
        ax.set_xlabel(titles[sweep])
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle("ACMI estimator accuracy on Gaussian data (solid: this run, dashed: paper)")
    caption = collapse_note(table)
    if caption:
        fig.text(0.01, 0.01, textwrap.fill(caption, 40 * len(panels)), fontsize=7, va="bottom")
        fig.tight_layout(rect=(0, 0.04 + 0.025 * caption.count(";"), 1, 1))
    else:
        fig.tight_layout()
    save_figure(fig, outputs)


def layer_compression_figure(
    ours: pd.DataFrame,
    paper: pd.DataFrame | None,
    title: str,
    outputs: Iterable[str | Path],
) -> None:
    """Pruned % per layer index for each method; the paper's values dashed when given."""
    if paper is not None and paper.empty:
        paper = None
    methods = list(dict.fromkeys([*ours["method"], *([] if paper is None else paper["method"])]))
    layers = max(
        [ours["layer_index"].max() if not ours.empty else 0]
        + ([paper["layer_index"].max()] if paper is not None and not paper.empty else [])
    )
    fig, ax = plt.subplots(figsize=(min(16.0, max(6.5, 3.0 + 0.2 * layers)), 4.2))
    for method in methods:
        color = style_of(method).color
        rows = ours[ours["method"] == method].sort_values("layer_index")
        if not rows.empty:
            target = rows["target"].iloc[0]
            ax.plot(
                rows["layer_index"],
                rows["pruned_pct"],
                color=color,
                marker=style_of(method).marker,
                markersize=4,
                label=f"{method} (this run, {target})",
            )
        if paper is not None:
            reference = paper[paper["method"] == method].sort_values("layer_index")
            if not reference.empty:
                ax.plot(
                    reference["layer_index"],
                    reference["pruned_pct"],
                    color=color,
                    marker="s",
                    markersize=4,
                    markerfacecolor="none",
                    linestyle="--",
                    label=f"{method} (paper)",
                )
    ax.set_xlim(0.5, layers + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(-2, 102)
    ax.set_xlabel("layer (conv/linear, forward order from 1)")
    ax.set_ylabel("weights pruned (%)")
    ax.set_title(f"{title}: compression per layer")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    save_figure(fig, outputs)
