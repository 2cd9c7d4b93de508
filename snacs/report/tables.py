"""Result tables: one row per (benchmark, method, target), mean ± 95 % interval over seeds.

Built from the per-run JSON files alone, so regenerating tables is cheap and never
re-runs training or pruning. Every table is written as CSV (all digits), Markdown and
LaTeX (the same rounded cells), plus the published rows of ``paper_figures/`` beside the
reproduced ones, a per-pruner timing table, and the per-layer compression of chosen runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from snacs.io import write_text
from snacs.layout import TableStems, Written
from snacs.pruning.records import PruneRecord, RunRecord
from snacs.pruning.target import COUNTS, Count
from snacs.report.controls import control_label, pruner_rows, with_control_margins
from snacs.tabular import latex, markdown_table, read_reference_csv

METRICS = {
    "baseline_top1": "Baseline top-1 (%)",
    "pruned_top1": "Pruned top-1 (%)",
    "delta_top1": "Δ top-1 (pp)",
    "params_reduction_pct": "Params ↓ (%)",
    "flops_reduction_pct": "FLOPs ↓ (%)",
    "slim_params_reduction_pct": "Slim params ↓ (%)",
    "slim_flops_reduction_pct": "Slim FLOPs ↓ (%)",
    "slim_top1": "Slim top-1 (%)",
    "one_shot_top1": "One-shot top-1 (%)",
    "one_shot_baseline_top1": "Dense one-shot top-1 (%)",
    "slim_latency_ms": "Slim latency (ms, median)",
    "slim_latency_spread_ms": "Slim latency spread (ms, std)",
    "score_seconds": "Scoring time (s)",
    "activation_seconds": "Activation time (s)",
}
KEYS = ["benchmark", "title", "method", "granularity", "target", "control"]
#: each count in words, wherever a pick or a verdict depends on which one is read
COUNT_WORDS: dict[str, str] = {
    "masked": "masked counts, as the paper reports them",
    "slim": "slim counts: what removing dead channels saves, the deployable model",
}


def reduction_column(resource: str, count: Count) -> str:
    """The summary column of a resource's mean reduction (%) on one count."""
    return f"{'slim_' if count == 'slim' else ''}{resource}_reduction_pct_mean"


def load_rows(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Flatten run records (from ``evaluate``) into one frame, one row per seed."""
    records = []
    for path in paths:
        run = RunRecord.load(path).to_dict()
        records.append(
            {
                **{k: run[k] for k in KEYS},
                "seed": run["seed"],
                **{k: run[k] for k in METRICS if k in run},
                "delta_top1": run["pruned_top1"] - run["baseline_top1"],
                "score_seconds": run["timings"]["score_seconds"],
                "activation_seconds": run["timings"]["activation_seconds"],
                "slim_latency_ms": run["latency_ms"]["slim"].get("median_ms"),
                "slim_latency_spread_ms": run["latency_ms"]["slim"].get("std_ms"),
                "target_met": run["target_met"],
            }
        )
    columns = [*KEYS, "seed", *METRICS, "target_met"]
    return pd.DataFrame.from_records(records, columns=columns)


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std over seeds for every metric, plus the seed count.

    ``target_met`` is False when any seed missed its target, True when every seed's
    record says it met it, and empty where the records do not say.
    """
    rows = rows.assign(target_met=rows["target_met"].map({True: 1.0, False: 0.0}))
    grouped = rows.groupby(KEYS, sort=False)
    means = grouped[list(METRICS)].mean().add_suffix("_mean")
    stds = grouped[list(METRICS)].std(ddof=1).fillna(0.0).add_suffix("_std")
    counts = grouped["seed"].count().rename("seeds")
    half = t_interval(stds.to_numpy(), counts.to_numpy()[:, None])
    cis = pd.DataFrame(half, index=stds.index, columns=[f"{m}_ci" for m in METRICS])
    met = grouped["target_met"].min().map({1.0: True, 0.0: False}).rename("target_met")
    table = pd.concat([means, stds, cis, counts, met], axis=1).reset_index()
    ordered = [*KEYS, "seeds", "target_met"]
    ordered += [f"{m}_{s}" for m in METRICS for s in ("mean", "std", "ci")]
    return table[ordered]


def t_interval(std, n):
    """Half-width of the 95 % Student-t interval of a mean over ``n`` seeds (0 for one seed)."""
    n = np.asarray(n, dtype=float)
    factor = np.where(n > 1, stats.t.ppf(0.975, np.maximum(n - 1, 1)) / np.sqrt(n), 0.0)
    return np.asarray(std, dtype=float) * factor


def _cell(mean: float, std: float, seeds: int, digits: int) -> str:
    if pd.isna(mean):
        return "–"
    text = f"{mean:.{digits}f}"
    return f"{text} ± {std:.{digits}f}" if seeds > 1 else text


#: a slim model saving less than this share (%) of FLOPs or parameters deploys at almost
#: the dense cost
SLIM_SAVING_PCT = 1.0


def target_met_cell(row: pd.Series) -> str:
    """``yes``, ``MISSED`` or ``–``; a met target whose slim model saves under 1 % of FLOPs
    says so beside the flag, since a target met on masked counts deploys at dense cost."""
    met = {True: "yes", False: "MISSED"}.get(row["target_met"], "–")
    slim = row.get("slim_flops_reduction_pct_mean", math.nan)
    if met != "yes" or pd.isna(slim) or slim >= SLIM_SAVING_PCT:
        return met
    masked = row["flops_reduction_pct_mean"]
    return f"yes (FLOPs ↓ masked {masked:.1f} %, slim only {slim:.1f} %)"


def summary_cells(block: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Headers and display rows of one benchmark's summary (shared by Markdown and LaTeX)."""
    headers = ["Method", "Granularity", "Target", "Target met", "Seeds", *METRICS.values()]
    rows = []
    for _, r in block.iterrows():
        met = target_met_cell(r)
        method = control_label(r["method"], r.get("control"))
        cells = [method, r["granularity"], r["target"], met, str(r["seeds"])]
        for metric in METRICS:
            digits = 3 if metric.endswith("seconds") else 2
            cells.append(_cell(r[f"{metric}_mean"], r[f"{metric}_ci"], r["seeds"], digits))
        rows.append(cells)
    return headers, rows


def table_blocks(summary: pd.DataFrame) -> Iterator[tuple[str, str, pd.DataFrame]]:
    """(heading, label key, rows) per benchmark, and per count where the table has one.

    The selected table picks once per count (:func:`select_operating_points`), so each of
    its benchmarks shows the masked pick and the slim pick under their own headings.
    """
    for title, block in summary.groupby("title", sort=False):
        key = latex.label_key(str(block["benchmark"].iloc[0]))
        if "count" not in block:
            yield str(title), key, block
            continue
        for count, rows in block.groupby("count", sort=False):
            yield f"{title}: {COUNT_WORDS[count]}", f"{key}-{count}", rows


def to_markdown(summary: pd.DataFrame) -> str:
    """One Markdown table per benchmark, values as mean ± 95 % t interval over seeds."""
    if summary.empty:
        return "No run meets the selection rule.\n"
    parts = [
        f"### {heading}\n\n" + markdown_table(*summary_cells(block))
        for heading, _, block in table_blocks(summary)
    ]
    return "\n\n".join(parts) + "\n"


def to_latex(summary: pd.DataFrame, what: str) -> str:
    """One booktabs table per benchmark with the Markdown's cells; ``what`` names the table."""
    if summary.empty:
        return latex.document([], f"{what}: no run meets the selection rule.")
    tables = [
        latex.table(
            *summary_cells(block),
            caption=f"{heading}: {what}.",
            label=f"tab:{latex.label_key(what)}-{key}",
        )
        for heading, key, block in table_blocks(summary)
    ]
    return latex.document(tables, f"snacs result tables: {what}.")


def select_operating_points(
    summary: pd.DataFrame, tolerance_pp: float, compression: str, count: Count
) -> pd.DataFrame:
    """Per benchmark and method, the most compressed target within tolerance of the baseline.

    This is the paper code's pick among its grid of global thresholds, applied to every
    method alike, with compression read on ``count``: masked (as the paper counts) or slim
    (the deployable model). A connection pruner's two picks can differ. The rows carry
    ``count``; methods with no run within tolerance are left out.
    """
    column = reduction_column(compression, count)
    within = summary[summary["pruned_top1_mean"] >= summary["baseline_top1_mean"] - tolerance_pp]
    best = within.sort_values(column, ascending=False, kind="stable")
    picked = best.groupby(["benchmark", "method"], sort=False).head(1).sort_index()
    picked.insert(picked.columns.get_loc("target") + 1, "count", count)
    return picked


def select_per_count(summary: pd.DataFrame, tolerance_pp: float, compression: str) -> pd.DataFrame:
    """The selected table: :func:`select_operating_points` on every count, per benchmark the
    masked picks then the slim ones."""
    picks = pd.concat(
        [select_operating_points(summary, tolerance_pp, compression, c) for c in COUNTS]
    )
    order = list(dict.fromkeys(summary["benchmark"]))
    rank = picks["benchmark"].map(order.index) * len(COUNTS) + picks["count"].map(COUNTS.index)
    return picks.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)


def selection_misses(summary: pd.DataFrame, tolerance_pp: float) -> pd.DataFrame:
    """Per benchmark, every method with no run within tolerance, and why in words.

    The reason names the method's most accurate run and how far below the bar it fell,
    so a reader sees whether a smaller budget or more fine-tuning would have qualified.
    """
    rows = []
    for (benchmark, title, method), block in summary.groupby(
        ["benchmark", "title", "method"], sort=False
    ):
        bar = block["baseline_top1_mean"].iloc[0] - tolerance_pp
        if (block["pruned_top1_mean"] >= bar).any():
            continue
        best = block.loc[block["pruned_top1_mean"].idxmax()]
        gap = block["baseline_top1_mean"].iloc[0] - best["pruned_top1_mean"]
        rows.append(
            [
                benchmark,
                title,
                method,
                f"no run within {tolerance_pp} pp of the dense {best['baseline_top1_mean']:.2f} "
                f"%: its most accurate, {best['target']} (FLOPs ↓ "
                f"{best['flops_reduction_pct_mean']:.1f} %), reaches "
                f"{best['pruned_top1_mean']:.2f} %, {gap:.2f} pp below the dense model",
            ]
        )
    return pd.DataFrame(rows, columns=["benchmark", "title", "method", "reason"])


def misses_markdown(misses: pd.DataFrame) -> str:
    if misses.empty:
        return ""
    rows = misses[["title", "method", "reason"]].values.tolist()
    return (
        "\n### Methods with no selected run\n\n"
        + markdown_table(["Benchmark", "Method", "Why no run qualified"], rows)
        + "\n"
    )


REPORTED_COLUMNS = [
    "benchmark",
    "title",
    "method",
    "status",
    "target",
    "params_pruned_pct",
    "flops_pruned_pct",
    "top1",
    "baseline_top1",
    "memory_mb",
    "source",
    "note",
]
REPRODUCED = "reproduced (this run)"
REPORTED = "reported, not reproduced"


def reported_beside_reproduced(selected: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Per benchmark, our selected operating points followed by the published rows.

    Published rows keep their numbers as printed; they come from other papers' recipes,
    baselines and accounting, hence the explicit ``status`` on every row.
    """
    ours = pd.DataFrame(
        {
            "benchmark": selected["benchmark"],
            "title": selected["title"],
            "method": selected["method"],
            "status": REPRODUCED,
            "target": selected["target"],
            "params_pruned_pct": selected["params_reduction_pct_mean"],
            "flops_pruned_pct": selected["flops_reduction_pct_mean"],
            "top1": selected["pruned_top1_mean"],
            "baseline_top1": selected["baseline_top1_mean"],
            "memory_mb": float("nan"),
            "source": "snacs workflow, selected operating point",
            "note": "",
        }
    )
    titles = dict(zip(selected["benchmark"], selected["title"], strict=False))
    theirs = published.assign(
        title=published["benchmark"].map(lambda b: titles.get(b, f"{b} (not run here)")),
        status=REPORTED,
        target="",
    )
    frames = [f for f in (ours[REPORTED_COLUMNS], theirs[REPORTED_COLUMNS]) if not f.empty]
    if not frames:  # nothing selected and nothing published for these benchmarks
        return pd.DataFrame(columns=REPORTED_COLUMNS)
    combined = pd.concat(frames, ignore_index=True)
    order = list(dict.fromkeys([*selected["benchmark"], *published["benchmark"]]))
    combined["_order"] = combined["benchmark"].map(order.index)
    combined["_status"] = (combined["status"] == REPORTED).astype(int)
    combined = combined.sort_values(["_order", "_status"], kind="stable")
    return combined.drop(columns=["_order", "_status"]).reset_index(drop=True)


def _number(value: object, digits: int = 2) -> str:
    return "–" if pd.isna(value) or value == "" else f"{float(value):.{digits}f}"


def reported_cells(block: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    headers = ["Method", "Status", "Target", "Params ↓ (%)", "FLOPs ↓ (%)", "Top-1 (%)"]
    headers += ["Baseline top-1 (%)", "Memory (Mb)", "Source"]
    rows = [
        [
            r["method"],
            r["status"],
            r["target"] or "–",
            _number(r["params_pruned_pct"]),
            _number(r["flops_pruned_pct"]),
            _number(r["top1"]),
            _number(r["baseline_top1"]),
            _number(r["memory_mb"], 3),
            r["source"],
        ]
        for _, r in block.fillna({"target": "", "source": ""}).iterrows()
    ]
    return headers, rows


def reported_markdown(table: pd.DataFrame) -> str:
    intro = (
        "Rows marked **reported, not reproduced** are transcribed from papers "
        "(`paper_figures/published_results.csv`): nobody ran them here, and their recipes, "
        "baselines and compression accounting differ from ours. Rows marked "
        f"*{REPRODUCED}* are this workflow's selected operating points, picked on masked "
        "counts as the published rows count.\n"
    )
    if table.empty:
        return intro + "\nNo reproduced or published rows.\n"
    parts = [
        f"### {title}\n\n" + markdown_table(*reported_cells(block))
        for title, block in table.groupby("title", sort=False)
    ]
    return intro + "\n" + "\n\n".join(parts) + "\n"


def reported_latex(table: pd.DataFrame) -> str:
    tables = [
        latex.table(
            *reported_cells(block),
            caption=f"{title}: reproduced operating points and published results "
            "(reported, not reproduced).",
            label=f"tab:reported-{latex.label_key(str(block['benchmark'].iloc[0]))}",
        )
        for title, block in table.groupby("title", sort=False)
    ]
    return latex.document(
        tables, "Reproduced rows beside published rows (reported, not reproduced)."
    )


def read_published(path: str | Path | None) -> pd.DataFrame:
    """The published-results CSV (columns of ``paper_figures/README.md``), or no rows."""
    columns = [c for c in REPORTED_COLUMNS if c not in ("title", "status", "target")]
    if path is None:
        return pd.DataFrame(columns=columns)
    return read_reference_csv(path, columns, {"note": str, "source": str})[columns]


def write_tables(
    results: Iterable[str | Path],
    tables: Written[TableStems],
    tolerance_pp: float = 0.5,
    compression: Literal["params", "flops"] = "params",
    published: str | Path | None = None,
) -> pd.DataFrame:
    """Write the tables of every run (``main``), of the selected operating points
    (``selected``) and of those beside the published numbers (``reported``) from the run
    records ``results``; each table is written as .csv, .md and .tex at its stem.
    """
    out = {name: Path(getattr(tables, name)) for name in ("main", "selected", "reported")}
    summary = with_control_margins(summarise(load_rows(results)))
    selected = select_per_count(pruner_rows(summary), tolerance_pp, compression)
    misses = selection_misses(pruner_rows(summary), tolerance_pp)
    misses = {"main": "", "selected": misses_markdown(misses)}
    for name, frame, what in (
        ("main", summary, "every run"),
        ("selected", selected, f"selected operating points (within {tolerance_pp} pp)"),
    ):
        write_text(out[name].with_suffix(".csv"), frame.to_csv(index=False))
        write_text(out[name].with_suffix(".md"), to_markdown(frame) + misses[name])
        write_text(out[name].with_suffix(".tex"), to_latex(frame, what))
    masked = selected[selected["count"] == "masked"]  # as the published rows count
    reported = reported_beside_reproduced(masked, read_published(published))
    write_text(out["reported"].with_suffix(".csv"), reported.to_csv(index=False))
    write_text(out["reported"].with_suffix(".md"), reported_markdown(reported))
    write_text(out["reported"].with_suffix(".tex"), reported_latex(reported))
    return summary


TIMINGS = {
    "score_seconds": "Scoring (s)",
    "activation_seconds": "Activations (s)",
    "prepare_seconds": "Code loading (s)",
    "plan_seconds": "Planning (s)",
}
#: the timings measured once per scoring (shared by the targets planned from it)
SCORING_TIMINGS = ("score_seconds", "activation_seconds", "prepare_seconds")
PART_PREFIX = "part_"  # columns of the parts a pruner times inside its scoring


def load_timings(paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per pruning run: its activation, scoring and planning seconds and machine.

    ``scoring`` names the run's scoring: the targets planned from it (``scored_with``), so
    runs that share one scoring can be told from reruns (:func:`one_per_scoring`). A
    pruner that times the parts of its scoring (``score_timings``, e.g. SNACS's ACMI,
    operating constraints and sensitivity) adds one ``part_<name>`` column per part, so
    a reader sees where a total goes (the speed study times only the ACMI part).
    """
    records = []
    for path in paths:
        run = PruneRecord.load(path)
        hardware = run.provenance.get("hardware", {})
        records.append(
            {
                "benchmark": run.benchmark,
                "method": run.method,
                "pruner": run.pruner,
                "granularity": run.granularity,
                "target": run.target.label,
                "seed": run.seed,
                # a record without the field (an older run) was scored for itself alone
                "scoring": " ".join(run.scored_with or [run.target.label]),
                **{k: run.timings.get(k, 0.0) for k in TIMINGS},
                "device": hardware.get("device", ""),
                "threads": hardware.get("torch_threads"),
                **{f"{PART_PREFIX}{name}": t for name, t in run.score_timings.items()},
            }
        )
    columns = ["benchmark", "method", "pruner", "granularity", "target", "seed", "scoring"]
    frame = pd.DataFrame.from_records(records)
    part_columns = sorted(c for c in frame.columns if c.startswith(PART_PREFIX))
    return frame.reindex(columns=[*columns, *TIMINGS, "device", "threads", *part_columns])


def one_per_scoring(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per scoring of :func:`load_timings`'s frame.

    The targets of a method and seed are planned from one scoring, and each of their
    records carries a copy of its activation, loading and scoring seconds: one
    measurement, not one per target. Different seeds are reruns.
    """
    return runs.drop_duplicates(["benchmark", "method", "seed", "scoring"])


def summarise_timings(runs: pd.DataFrame) -> pd.DataFrame:
    """Per benchmark and method: mean and std of each timing over its measurements.

    Scoring (with activations and code loading) is measured once per seed, whatever the
    number of targets planned from it, so its statistics are over scorings; planning is
    measured per run (targets x seeds). The spread over seeds shows the timing noise.
    """
    keys = ["benchmark", "method", "pruner", "granularity"]
    per_run = runs.groupby(keys, sort=False)
    per_scoring = one_per_scoring(runs).groupby(keys, sort=False)
    scoring, planning = list(SCORING_TIMINGS), [k for k in TIMINGS if k not in SCORING_TIMINGS]
    means = pd.concat([per_scoring[scoring].mean(), per_run[planning].mean()], axis=1)
    stds = pd.concat([per_scoring[scoring].std(ddof=1), per_run[planning].std(ddof=1)], axis=1)
    parts = per_scoring[[c for c in runs.columns if c.startswith(PART_PREFIX)]].mean()
    machine = per_run[["device", "threads"]].first()
    counts = [
        per_run["seed"].count().rename("runs"),
        per_scoring["seed"].count().rename("scorings"),
    ]
    return pd.concat(
        [
            *counts,
            means[list(TIMINGS)].add_suffix("_mean"),
            stds[list(TIMINGS)].fillna(0.0).add_suffix("_std"),
            machine,
            parts,
        ],
        axis=1,
    ).reset_index()


def _parts_cell(row: pd.Series) -> str:
    """``acmi 0.660 · constraint 7.269`` from a summary row's mean part seconds, else ``–``."""
    parts = [
        f"{column.removeprefix(PART_PREFIX).removesuffix('_seconds')} {row[column]:.3f}"
        for column in row.index
        if column.startswith(PART_PREFIX) and pd.notna(row[column])
    ]
    return " · ".join(parts) or "–"


def _measured(row: pd.Series, timing: str) -> int:
    """How many measurements a summary row's mean of ``timing`` is over."""
    return row["scorings"] if timing in SCORING_TIMINGS else row["runs"]


def timing_cells(block: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    headers = ["Method", "Pruner", "Granularity", "Runs", "Scorings", *TIMINGS.values()]
    headers += ["Scoring parts (s, mean)", "Device", "Threads"]
    rows = [
        [
            r["method"],
            r["pruner"],
            r["granularity"],
            str(r["runs"]),
            str(r["scorings"]),
            *(_cell(r[f"{k}_mean"], r[f"{k}_std"], _measured(r, k), 3) for k in TIMINGS),
            _parts_cell(r),
            str(r["device"]),
            str(r["threads"]),
        ]
        for _, r in block.iterrows()
    ]
    return headers, rows


TIMING_NOTE = (
    "Scoring and planning seconds of every pruner. A pruner's scores do not depend on the "
    "target, so each seed is scored once and every target of the method is planned from "
    "that scoring (a matched-budget run, which waits for its reference, is scored on its "
    "own): scoring, activation and code-loading seconds are mean ± std over scorings, "
    "planning seconds over runs (targets x seeds). Activation seconds are the one-off "
    "collection of the shared activation cache, "
    "reported by every pruner that reads it and 0 for pruners that do not. Scoring parts "
    "split a pruner's scoring where it times them: SNACS's ACMI scores are what the speed "
    "study compares with MINT's estimator (gmi); its operating constraints (per-layer SVM "
    "fits) and sensitivity are extra steps MINT does not take."
)


def write_timing_tables(
    prune_json: Iterable[str | Path], stem: Written[str | Path]
) -> pd.DataFrame:
    """Write ``stem``.{csv,md,tex}: per benchmark, every pruner's scoring and activation time."""
    stem = Path(stem)
    table = summarise_timings(load_timings(prune_json))
    blocks = list(table.groupby("benchmark", sort=False))
    markdown = (
        TIMING_NOTE
        + "\n\n"
        + "\n\n".join(
            f"### {name}\n\n" + markdown_table(*timing_cells(block)) for name, block in blocks
        )
    )
    tex = latex.document(
        [
            latex.table(
                *timing_cells(block),
                caption=f"{name}: pruner timings (seconds, mean ± std; scoring over seeds, "
                "planning over runs).",
                label=f"tab:timings-{latex.label_key(str(name))}",
            )
            for name, block in blocks
        ],
        TIMING_NOTE,
    )
    write_text(stem.with_suffix(".csv"), table.to_csv(index=False))
    write_text(stem.with_suffix(".md"), markdown + "\n")
    write_text(stem.with_suffix(".tex"), tex)
    return table
