"""Result tables: one row per (benchmark, method, target), mean and std over seeds.

Built from the per-run JSON files alone, so regenerating tables is cheap and never
re-runs training or pruning.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from snacs.io import read_json, write_text

METRICS = {
    "baseline_top1": "Baseline top-1 (%)",
    "pruned_top1": "Pruned top-1 (%)",
    "delta_top1": "Δ top-1 (pp)",
    "params_reduction_pct": "Params ↓ (%)",
    "flops_reduction_pct": "FLOPs ↓ (%)",
    "slim_params_reduction_pct": "Slim params ↓ (%)",
    "slim_flops_reduction_pct": "Slim FLOPs ↓ (%)",
    "slim_top1": "Slim top-1 (%)",
    "score_seconds": "Scoring time (s)",
    "activation_seconds": "Activation time (s)",
}
KEYS = ["benchmark", "title", "method", "granularity", "target"]


def load_rows(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Flatten result JSONs (from ``evaluate``) into one frame, one row per seed."""
    records = []
    for path in paths:
        row = read_json(path)
        records.append(
            {
                **{k: row[k] for k in KEYS},
                "seed": row["seed"],
                **{k: row[k] for k in METRICS if k in row},
                "delta_top1": row["pruned_top1"] - row["baseline_top1"],
                "score_seconds": row["timings"]["score_seconds"],
                "activation_seconds": row["timings"]["activation_seconds"],
            }
        )
    columns = [*KEYS, "seed", *METRICS]
    return pd.DataFrame.from_records(records, columns=columns)


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std over seeds for every metric, plus the seed count."""
    grouped = rows.groupby(KEYS, sort=False)
    means = grouped[list(METRICS)].mean().add_suffix("_mean")
    stds = grouped[list(METRICS)].std(ddof=1).fillna(0.0).add_suffix("_std")
    counts = grouped["seed"].count().rename("seeds")
    table = pd.concat([means, stds, counts], axis=1).reset_index()
    ordered = [*KEYS, "seeds"] + [f"{m}_{s}" for m in METRICS for s in ("mean", "std")]
    return table[ordered]


def _cell(mean: float, std: float, seeds: int, digits: int) -> str:
    text = f"{mean:.{digits}f}"
    return f"{text} ± {std:.{digits}f}" if seeds > 1 else text


def to_markdown(summary: pd.DataFrame) -> str:
    """One Markdown table per benchmark, values as mean ± std when there are several seeds."""
    parts = []
    for title, block in summary.groupby("title", sort=False):
        headers = ["Method", "Granularity", "Target", "Seeds", *METRICS.values()]
        lines = [
            f"### {title}",
            "",
            "| " + " | ".join(headers) + " |",
            "|" + "---|" * len(headers),
        ]
        for _, r in block.iterrows():
            cells = [r["method"], r["granularity"], r["target"], str(r["seeds"])]
            for metric in METRICS:
                digits = 3 if metric.endswith("seconds") else 2
                cells.append(_cell(r[f"{metric}_mean"], r[f"{metric}_std"], r["seeds"], digits))
            lines.append("| " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def write_tables(
    paths: Iterable[str | Path], csv_out: str | Path, md_out: str | Path
) -> pd.DataFrame:
    summary = summarise(load_rows(paths))
    write_text(csv_out, summary.to_csv(index=False))
    write_text(md_out, to_markdown(summary))
    return summary
