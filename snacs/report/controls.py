"""Controls in the result tables: each pruner's margin over its random control.

A control run (``control`` column: random, magnitude, inverted) prunes the same number of
units per layer as its pruner's run, chosen another way. The margin of a pruner over its
random control is what its ranking is worth at its per-layer counts; it means something
only when it is larger than the seed noise of the run itself, which the controls table
puts beside it.
"""

from __future__ import annotations

import math

import pandas as pd

RUN_KEYS = ["benchmark", "method", "target"]
MARGIN = "margin_over_random_pp"


def pruner_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """The pruners' own rows (no control), e.g. for selection and figures."""
    if "control" not in summary:
        return summary
    return summary[summary["control"].astype("string").fillna("") == ""]


def with_control_margins(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` plus ``margin_over_random_pp`` on every pruner row.

    The margin is the pruner's mean pruned top-1 minus its random control's (mean over the
    run seeds and the control seeds); empty where there is no random control.
    """
    summary = summary.copy()
    controls = summary["control"].astype("string").fillna("")
    random = summary[controls == "random"].set_index(RUN_KEYS)["pruned_top1_mean"]
    keys = pd.MultiIndex.from_frame(summary[RUN_KEYS])
    margin = summary["pruned_top1_mean"].to_numpy() - random.reindex(keys).to_numpy()
    summary[MARGIN] = [m if c == "" else math.nan for m, c in zip(margin, controls, strict=True)]
    return summary


def control_label(method: str, control: object) -> str:
    """Display name of a row: the method, or e.g. ``snacs [random control]``."""
    return f"{method} [{control} control]" if isinstance(control, str) and control else method


def _mean_std(row: pd.Series) -> str:
    text = f"{row['pruned_top1_mean']:.2f}"
    return f"{text} ± {row['pruned_top1_std']:.2f} (n={row['seeds']})" if row["seeds"] > 1 else text


def control_cells(summary: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Per pruner run with controls: its top-1, each control's, the margin and the seed noise.

    Seed noise is the pruner's own top-1 std over seeds (empty with one seed).
    """
    controls = summary["control"].astype("string").fillna("")
    kinds = [k for k in ("random", "magnitude", "inverted") if (controls == k).any()]
    headers = ["Benchmark", "Method", "Target", "Pruner top-1 (%)"]
    headers += [f"{k.capitalize()} control top-1 (%)" for k in kinds]
    headers += ["Margin over random (pp)", "Seed noise: pruner top-1 std (pp)"]
    by_run = summary.set_index([*RUN_KEYS, "control"])
    rows = []
    for _, own in summary[controls == ""].iterrows():
        key = (own["benchmark"], own["method"], own["target"])
        present = [k for k in kinds if (*key, k) in by_run.index]
        if not present:
            continue
        cells = [own["benchmark"], own["method"], own["target"], _mean_std(own)]
        cells += [_mean_std(by_run.loc[(*key, k)]) if k in present else "–" for k in kinds]
        margin = own.get(MARGIN, math.nan)
        cells.append("–" if pd.isna(margin) else f"{margin:+.2f}")
        cells.append(f"{own['pruned_top1_std']:.2f}" if own["seeds"] > 1 else "– (1 seed)")
        rows.append(cells)
    return headers, rows
