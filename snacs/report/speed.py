"""The speed studies' tables and notes: what the study measured, as the report shows it.

The studies (:mod:`snacs.studies.speed`, :mod:`snacs.studies.whole_speed`) write raw
timings and their summaries; this module turns them into Markdown, LaTeX and HTML cells
and judges the claim with the claims panel's own rule
(:func:`snacs.report.claims.speed_verdict`), so a table's note and the panel agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from snacs.io import write_text
from snacs.layout import StudyTables
from snacs.report.claims import CLAIMED_SPEEDUP, speed_verdict, step_speed_rows
from snacs.studies.speed import (
    MINT,
    SNACS_PREFIX,
    read_paper_speed,
    snacs_method,
    speedup_table,
    summarise_speed,
)
from snacs.studies.whole_speed import SUMMARY_COLUMNS, SpeedRatio, summarise_whole
from snacs.tabular import latex, markdown_table

PHI_SYMBOLS = {"one": "1", "weight": "w̄", "weight_sq": "w̄²", "exp_weight": "exp(-w̄²/2)"}


def method_label(method: str) -> str:
    """Display name: ``MINT`` or ``SNACS φ = w̄``."""
    if method == MINT:
        return "MINT"
    phi = method.removeprefix(SNACS_PREFIX)
    return f"SNACS φ = {PHI_SYMBOLS.get(phi, phi)}"


def _seconds(mean: float, std: float, runs: int) -> str:
    if pd.isna(mean):
        return "–"
    digits = 3 if mean < 10 else 1
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if runs > 1 else f"{mean:.{digits}f}"


def _ratio(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.1f}×"


def speed_cells(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Headers and display rows shared by the Markdown, LaTeX and HTML versions."""
    phis = [c.removeprefix("speedup_") for c in table.columns if c.startswith("speedup_")]
    methods = [MINT, *(snacs_method(p) for p in phis)]
    headers = ["Groups", *(f"{method_label(m)} (s)" for m in methods)]
    headers += [f"Speed-up φ = {PHI_SYMBOLS.get(p, p)}" for p in phis]
    headers += [f"Paper {method_label(m)} (s)" for m in methods]
    headers += [f"Paper speed-up φ = {PHI_SYMBOLS.get(p, p)}" for p in phis]
    rows = []
    for _, r in table.iterrows():
        cells = [f"{int(r['groups'])}×{int(r['groups'])}"]
        cells += [_seconds(r[f"{m}_mean"], r[f"{m}_std"], r[f"{m}_runs"]) for m in methods]
        cells += [_ratio(r[f"speedup_{p}"]) for p in phis]
        cells += [_seconds(r[f"paper_{m}_mean"], 0.0, 1) for m in methods]
        cells += [_ratio(r[f"paper_speedup_{p}"]) for p in phis]
        rows.append(cells)
    return headers, rows


def claim_note(raw: pd.DataFrame, table: pd.DataFrame) -> str:
    """The smallest measured speed-up and the claims panel's verdict on the step claim."""
    verdict, why = speed_verdict(step_speed_rows(raw))
    measured = table.dropna(subset=["min_speedup"])
    if measured.empty:
        return f"No group count was timed for both MINT and SNACS; the claim is {verdict}."
    worst = measured.loc[measured["min_speedup"].idxmin()]
    return (
        f"Smallest measured speed-up of SNACS over MINT: {worst['min_speedup']:.1f}× at "
        f"{int(worst['groups'])}×{int(worst['groups'])} groups (largest "
        f"{measured['min_speedup'].max():.1f}×). The paper claims over "
        f"{CLAIMED_SPEEDUP:.0f}×; on this machine the claim {verdict}: {why}."
    )


def setup_summary(raw: pd.DataFrame) -> str:
    """Where and on what the times were measured, from the raw CSV's constant columns."""
    first = raw.iloc[0]
    return (
        f"Layer pair {first['parent_layer']} -> {first['child_layer']} "
        f"({first['parent_width']} -> {first['child_width']} filters), N = {first['samples']} "
        f"samples; activations: {first['activations']}; device {first['device']}, "
        f"{first['threads']} torch threads, SNACS workers {first['snacs_workers']}, MINT MST "
        f"backend {first['mint_mst']}. Activation collection is not timed; speed-ups are "
        "ratios of mean seconds measured in the same run."
    )


def write_speed_tables(
    raw_csv: str | Path, paper_csv: str | Path, out: StudyTables
) -> tuple[pd.DataFrame, str]:
    """The summary (every number), Markdown and LaTeX tables of the raw timings.

    Returns the speed-up table and the claim's note.
    """
    raw = pd.read_csv(raw_csv)
    table = speedup_table(summarise_speed(raw), read_paper_speed(paper_csv))
    headers, rows = speed_cells(table)
    claim = claim_note(raw, table)
    notes = f"{setup_summary(raw)}\n\n{claim}"
    write_text(out.summary, table.to_csv(index=False))
    write_text(out.markdown, f"{notes}\n\n{markdown_table(headers, rows)}\n")
    tex = latex.table(
        headers,
        rows,
        caption="Seconds to score one layer pair (mean ± std over reruns) and speed-up of "
        "SNACS over MINT, beside the paper's numbers.",
        label="tab:speed",
    )
    write_text(out.latex, latex.document([tex], notes))
    return table, claim


# ---------------------------------------------------------------- whole network


def whole_cells(
    raw: pd.DataFrame, ratios: Sequence[SpeedRatio]
) -> tuple[list[str], list[list[str]]]:
    """Per network: SNACS seconds with its parts, MINT seconds, step, whole and CPU ratio."""
    headers = [
        "Network",
        "SNACS scoring (s)",
        "ACMI + constraints + sensitivity (s)",
        "MINT scoring (s)",
        "Step ratio (ACMI)",
        "Whole ratio",
        "Whole ratio, CPU seconds",
        "Reruns",
    ]
    by_key = {(r.network, r.scope): r for r in ratios}
    rows = []
    for network, group in raw.groupby("network", sort=False):
        snacs = group[group["method"] == "snacs"]
        step, whole = by_key[(network, "step")], by_key[(network, "whole")]
        parts = " + ".join(
            f"{snacs[c].mean():.1f}"
            for c in ("acmi_seconds", "constraint_seconds", "sensitivity_seconds")
        )
        rows.append(
            [
                f"{network} ({group['description'].iloc[0]})",
                f"{whole.snacs_s:.1f}",
                parts,
                f"{whole.mint_s:.1f}",
                _ratio_cell(step),
                _ratio_cell(whole),
                _ratio_cell(by_key[(network, "whole_cpu")])
                if (network, "whole_cpu") in by_key
                else "n/a",
                str(whole.reruns),
            ]
        )
    return headers, rows


def _ratio_cell(ratio: SpeedRatio) -> str:
    return f"{ratio.ratio:.1f}× [{ratio.ratio_low:.1f}, {ratio.ratio_high:.1f}]"


def whole_setup_summary(raw: pd.DataFrame) -> str:
    first = raw.iloc[0]
    return (
        f"Whole-network scoring on N = {first['samples']} samples (freshly initialised "
        f"networks, width x{first['width_mult']}), device {first['device']}, "
        f"{first['threads']} torch threads for both methods, reruns interleaved. Ratios are "
        "MINT seconds over SNACS seconds (mean over reruns) with 95 % bootstrap intervals; "
        "the step ratio compares MINT's estimator with SNACS's ACMI, the whole ratio the "
        "pruners' whole scoring steps in wall-clock seconds, the CPU ratio the same in CPU "
        "seconds summed over threads (the ratio had both used every core: SNACS's workers "
        "do, MINT's tree loop holds Python's lock and uses one core)."
    )


def write_whole_tables(raw_csv: str | Path, out: StudyTables) -> list[SpeedRatio]:
    """The summary (one SpeedRatio per row) and the Markdown table of the raw timings."""
    raw = pd.read_csv(raw_csv)
    ratios = summarise_whole(raw)
    summary = pd.DataFrame([dataclasses.asdict(r) for r in ratios], columns=SUMMARY_COLUMNS)
    write_text(out.summary, summary.to_csv(index=False))
    headers, rows = whole_cells(raw, ratios)
    write_text(
        out.markdown,
        f"{whole_setup_summary(raw)}\n\n{markdown_table(headers, rows)}\n",
    )
    return ratios
