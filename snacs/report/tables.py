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
    if summary.empty:
        return "No run meets the selection rule.\n"
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


def select_operating_points(
    summary: pd.DataFrame, tolerance_pp: float, compression: str
) -> pd.DataFrame:
    """Per benchmark and method, the most compressed target within tolerance of the baseline.

    This is the paper code's pick among its grid of global thresholds (spec §7.4), applied
    to every method alike. Methods with no run within tolerance are left out.
    """
    column = f"{compression}_reduction_pct_mean"
    within = summary[summary["pruned_top1_mean"] >= summary["baseline_top1_mean"] - tolerance_pp]
    best = within.sort_values(column, ascending=False, kind="stable")
    return best.groupby(["benchmark", "method"], sort=False).head(1).sort_index()


def write_tables(
    paths: Iterable[str | Path],
    out_dir: str | Path,
    tolerance_pp: float = 0.5,
    compression: str = "params",
) -> pd.DataFrame:
    """Write main.{csv,md} (every run) and selected.{csv,md} (the §7.4 pick) to ``out_dir``."""
    out_dir = Path(out_dir)
    summary = summarise(load_rows(paths))
    selected = select_operating_points(summary, tolerance_pp, compression)
    for name, frame in (("main", summary), ("selected", selected)):
        write_text(out_dir / f"{name}.csv", frame.to_csv(index=False))
        write_text(out_dir / f"{name}.md", to_markdown(frame))
    return summary
