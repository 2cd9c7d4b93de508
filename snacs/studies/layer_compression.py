"""Per-layer compression: how much of every layer each method pruned at its chosen run.

A study of the pruning runs' records (the paper's per-layer figure): it writes the data,
:func:`snacs.report.study_figures.layer_compression_figure` draws it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from snacs.pruning.records import DenseRecord, PruneRecord


def _chosen_targets(runs: pd.DataFrame, selected: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Per method: (target, why) — the selected operating point, else the most compressed."""
    picked = dict(zip(selected["method"], selected["target"], strict=False))
    chosen = {}
    for method, block in runs.groupby("method", sort=False):
        if method in picked and picked[method] in set(block["target"]):
            chosen[method] = (picked[method], "selected operating point")
        else:
            by_target = block.groupby("target", sort=False)["params_reduction"].mean()
            chosen[method] = (str(by_target.idxmax()), "most compressed (none within tolerance)")
    return chosen


def layer_compression(
    prune_records: Iterable[str | Path],
    selected: pd.DataFrame,
    dense: DenseRecord,
    methods: Sequence[str],
) -> pd.DataFrame:
    """Per-layer pruned % of ``methods`` on one benchmark, averaged over the chosen run's seeds.

    The run of a method is its selected operating point on masked counts (looked up in
    ``selected`` under the benchmark's name), like the paper's figure, or its most
    compressed target when no target kept the accuracy. Layer order and shares come from
    the records.
    """
    selected = selected[
        (selected["benchmark"] == dense.benchmark) & (selected["count"] == "masked")
    ]
    records = []
    for path in prune_records:
        run = PruneRecord.load(path)
        if run.method in methods:
            records.append(
                {
                    "method": run.method,
                    "target": run.target.label,
                    "seed": run.seed,
                    "params_reduction": run.achieved.params,
                    "shares": run.layer_pruned_pct,
                }
            )
    columns = ["method", "target", "selection", "seeds", "layer_index", "layer", "pruned_pct"]
    if not records:
        return pd.DataFrame(columns=columns)
    runs = pd.DataFrame.from_records(records)
    rows = []
    for method, (target, why) in _chosen_targets(runs, selected).items():
        chosen = runs[(runs["method"] == method) & (runs["target"] == target)]["shares"]
        for index, name in enumerate(dense.layers, start=1):
            pct = sum(shares.get(name, 0.0) for shares in chosen) / len(chosen)
            rows.append([method, target, why, len(chosen), index, name, float(pct)])
    return pd.DataFrame(rows, columns=columns)
