"""The self-contained HTML report that ``results/all`` is: tables, figures, config, provenance.

Figures are embedded as base64 PNG and tables inlined, so the one file can be mailed or
archived and still open in any browser without the results folder next to it. Tables
show the same rounded cells as the Markdown and LaTeX files; the CSVs keep every digit.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from snacs.io import write_text
from snacs.pruning.records import DenseRecord, ReferenceRecord
from snacs.report.claims import COLUMNS as CLAIM_COLUMNS
from snacs.report.claims import Scale, banner_text
from snacs.report.controls import control_cells, pruner_rows
from snacs.report.figures import accuracy_caption
from snacs.report.manifest import ReportManifest
from snacs.report.tables import (
    REPORTED,
    TIMING_NOTE,
    reported_cells,
    selection_misses,
    summary_cells,
    t_interval,
    table_blocks,
    timing_cells,
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1300px; color: #222;
       padding: 0 1em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; }
th { background: #f0f0f0; text-align: center; }
td.num { text-align: right; white-space: nowrap; }
td.text { text-align: left; white-space: nowrap; }
td.long { text-align: left; min-width: 16em; }
tr.reported td { background: #fff8e6; font-style: italic; }
.scroll { overflow-x: auto; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.8em; }
.note { color: #555; font-size: 0.9em; max-width: 60em; }
.claim { background: #eef5ff; border-left: 4px solid #4a7fd4; padding: 0.5em 1em; }
nav a { margin-right: 1em; }
.banner { background: #fff3cd; border: 1px solid #e0b84c; padding: 0.6em 1em;
          font-weight: 600; position: sticky; top: 0; z-index: 1; }
td.verdict-holds { background: #e3f4e1; }
td.verdict-does-not-hold { background: #fbe3e1; }
td.verdict-inconclusive { background: #f1f1f1; }
figure { margin: 1em 0 2em 0; }
figcaption { color: #444; font-size: 0.9em; max-width: 60em; }
summary { cursor: pointer; color: #345; }
"""


_NUMBER = re.compile(r"^[-+–]?[\d.]")


def _cell_html(value: object) -> str:
    """Numbers right-aligned on one line, words left-aligned, long text free to wrap."""
    text = str(value)
    numeric = bool(_NUMBER.match(text)) or text == "–"
    css = "num" if numeric else ("long" if len(text) > 40 else "text")
    return f'<td class="{css}">{html.escape(text)}</td>'


def _cells_html(headers: Sequence[str], rows: Sequence[Sequence[object]], classes=()) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{classes[index]}"' if index < len(classes) and classes[index] else ""
        body.append(f"<tr{css}>{''.join(_cell_html(c) for c in row)}</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _image(path: str | Path, caption: str) -> str:
    """An embedded PNG with its caption underneath (what is plotted, how it was counted)."""
    path = Path(path)
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _machine_line(provenance: Mapping[str, Any]) -> str:
    """The versions and machine of a provenance record, in one readable line."""
    packages = provenance.get("packages", {})
    hardware = provenance.get("hardware", {})
    versions = ", ".join(f"{name} {version}" for name, version in packages.items() if version)
    return (
        f"Report built with Python {provenance.get('python', '?')}, {versions}; "
        f"{hardware.get('platform', '?')}, {hardware.get('cpu_count', '?')} CPUs, "
        f"CUDA available: {hardware.get('cuda_available', '?')}; "
        f"git {provenance.get('git_revision', '?')}. Each dense model's own record is below."
    )


def _collapsed(summary: str, payload: Mapping[str, Any]) -> str:
    """Long JSON folded under a one-line summary, so the tables stay in view."""
    text = html.escape(json.dumps(payload, indent=2, sort_keys=True))
    return f"<details><summary>{html.escape(summary)}</summary><pre>{text}</pre></details>"


def _claims_section(manifest: ReportManifest) -> list[str]:
    table = pd.read_csv(manifest.table("claims")).fillna("")
    head = "".join(f"<th>{html.escape(c)}</th>" for c in CLAIM_COLUMNS)
    body = []
    for _, row in table.iterrows():
        cells = []
        for column in CLAIM_COLUMNS:
            text = html.escape(str(row[column]))
            css = f"verdict-{row[column].replace(' ', '-')}" if column == "verdict" else "long"
            cells.append(f'<td class="{css}">{text}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    return [
        "<h2 id='claims'>Claims of the paper</h2>",
        _note(
            "One row per claim and benchmark. Verdicts: holds, does not hold, or inconclusive; "
            "the reason says why, including the scale of the run. State of the art and "
            "compression are judged twice: on masked counts, as the paper reports them, and "
            "on slim counts, what removing dead channels saves (the deployable model). Rules "
            "are in docs/reference.md (Claims panel)."
        ),
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>",
    ]


def _controls_section(summary: pd.DataFrame) -> list[str]:
    """Each pruner beside its controls, with its margin over random and its seed noise."""
    if "control" not in summary or not summary["control"].astype("string").fillna("").ne("").any():
        return []
    return [
        "<h3 id='controls'>Pruners against their controls</h3>",
        _note(
            "Each control prunes the same number of units per layer as the pruner's run, "
            "chosen at random, by weight magnitude, or by the pruner's ranking inverted, and "
            "is fine-tuned the same way. A margin over random smaller than the seed noise "
            "says the ranking is not shown to matter at these counts. Equal counts are not "
            "equal cost for connection pruners: a pruner that concentrates its cuts leaves "
            "more units dead, which the cost model credits, so its control can remove fewer "
            "FLOPs; the FLOPs columns of All runs show both."
        ),
        _cells_html(*control_cells(summary)),
    ]


def _reference_section(manifest: ReportManifest) -> list[str]:
    """The dense model fine-tuned with the pruners' recipe, per benchmark, over seeds."""
    records = [ReferenceRecord.load(p) for p in manifest.reference_records]
    if not records:
        return []
    frame = pd.DataFrame(
        [(r.title, r.baseline_top1, r.pruned_top1, r.finetune_epochs) for r in records],
        columns=["title", "dense", "tuned", "epochs"],
    )
    rows = []
    for title, block in frame.groupby("title", sort=False):
        seeds = len(block)
        half = float(t_interval(block["tuned"].std(ddof=1) if seeds > 1 else 0.0, seeds))
        tuned = f"{block['tuned'].mean():.2f}" + (f" ± {half:.2f}" if seeds > 1 else "")
        rows.append([title, f"{block['dense'].iloc[0]:.2f}", tuned, str(block["epochs"].iloc[0])])
    headers = ["Benchmark", "Dense top-1 (%)", "Dense (fine-tuned) top-1 (%)", "Fine-tune epochs"]
    return [
        "<h3>Dense (fine-tuned) reference</h3>",
        _note(
            "The unpruned dense model fine-tuned with the same recipe as every pruned run "
            "(mean ± 95 % t interval over seeds): what the extra epochs alone give, apart "
            "from what pruning costs."
        ),
        _cells_html(headers, rows),
    ]


def _tables_by_benchmark(frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return [_note("No run meets the selection rule.")]
    return [
        f"<h3>{html.escape(heading)}</h3>{_cells_html(*summary_cells(block))}"
        for heading, _, block in table_blocks(frame)
    ]


def _reported_section(path: Path) -> list[str]:
    table = pd.read_csv(path, keep_default_na=True).fillna({"target": "", "source": ""})
    parts = [
        "<h2 id='reported'>Reproduced beside published results</h2>",
        _note(
            "Per benchmark, this run's selected operating points and the numbers other "
            "papers report (paper_figures/published_results.csv). Shaded italic rows are "
            "reported, not reproduced: nobody ran them here, and their recipes, baselines "
            "and compression accounting differ from ours."
        ),
    ]
    for title, block in table.groupby("title", sort=False):
        classes = ["reported" if s == REPORTED else "" for s in block["status"]]
        parts.append(f"<h3>{html.escape(str(title))}</h3>")
        parts.append(_cells_html(*reported_cells(block), classes=classes))
    return parts


def _timings_section(path: Path) -> list[str]:
    table = pd.read_csv(path)
    parts = ["<h2 id='timings'>Pruner timings</h2>", _note(TIMING_NOTE)]
    for name, block in table.groupby("benchmark", sort=False):
        parts.append(f"<h3>{html.escape(str(name))}</h3>{_cells_html(*timing_cells(block))}")
    return parts


def _speed_section(manifest: ReportManifest) -> list[str]:
    from snacs.report.speed import setup_summary, speed_cells

    table = pd.read_csv(manifest.speed_summary)
    parts = ["<h2 id='speed'>Speed study: scoring one layer pair</h2>"]
    parts.append(
        '<p class="claim">The verdict on "over 17x faster", with the interval of the ratio '
        'over reruns, is in the <a href="#claims">claims panel</a> (speed, step).</p>'
    )
    parts.append(_note(setup_summary(pd.read_csv(manifest.speed_raw))))
    parts.append(_cells_html(*speed_cells(table)))
    parts.append(_image(manifest.layout.speed_figure(), SPEED_CAPTION))
    if manifest.whole_speed:
        parts += _whole_speed_section(manifest)
    return parts


def _whole_speed_section(manifest: ReportManifest) -> list[str]:
    """The whole-network study: step, whole and CPU-seconds ratios side by side."""
    from snacs.report.speed import whole_cells, whole_setup_summary
    from snacs.studies.whole_speed import read_whole_summary

    raw = pd.read_csv(manifest.whole_speed_raw)
    ratios = read_whole_summary(manifest.whole_speed_summary)
    return [
        "<h3 id='speed-whole'>Whole-network scoring: the pruners as a user runs them</h3>",
        _note(whole_setup_summary(raw)),
        _cells_html(*whole_cells(raw, ratios)),
    ]


def _estimator_section(manifest: ReportManifest) -> list[str]:
    from snacs.studies.estimator_accuracy import estimator_cells, estimator_note

    table = pd.read_csv(manifest.estimator_summary)
    parts = ["<h2 id='estimator'>Estimator accuracy on Gaussian data</h2>"]
    parts += [_note(estimator_note(table)), _cells_html(*estimator_cells(table))]
    parts.append(_image(manifest.layout.estimator_figure(), ESTIMATOR_CAPTION))
    return parts


SPEED_CAPTION = (
    "Seconds to score one layer pair against the number of parent x child groups (log-log), "
    "mean ± std over reruns: solid lines measured here, dashed the paper's values; the "
    "numbers are MINT's seconds over SNACS's (black: here, grey: paper). Activation "
    "collection is not timed."
)
ESTIMATOR_CAPTION = (
    "Mean squared error of the ACMI estimate against the true conditional mutual "
    "information of Gaussian cases, against the number of samples (left) and the "
    "dimension (right); solid: measured here, dashed: the paper's figure values."
)
LAYER_CAPTION = (
    "Share of each conv/linear layer's weights pruned (masked count), in traced forward "
    "order, per method at its selected operating point (else its most compressed run), "
    "averaged over seeds; dashed: the paper's per-layer values where it reports them."
)


def _layer_section(figures: Sequence[Path]) -> list[str]:
    return [
        "<h2 id='layers'>Compression per layer</h2>",
        _note(
            "Share of each conv/linear layer's weights pruned by each method at its selected "
            "operating point (or its most compressed target when none kept the accuracy), "
            "averaged over seeds; dashed: the paper's per-layer values on its benchmarks. "
            "Layer order is the traced forward order, which may differ from the paper's "
            "numbering where a network has projection shortcuts (ResNet50)."
        ),
        *(_image(Path(f), LAYER_CAPTION) for f in figures),
    ]


def write_report(
    out: str | Path,
    manifest: ReportManifest,
    config: Mapping[str, Any],
    run_provenance: Mapping[str, Any],
    notes: Iterable[str] = (),
) -> None:
    """Write the report from the files ``manifest`` lists (tables, figures, records)."""
    toc = [("claims", "Claims"), ("selected", "Selected"), ("runs", "All runs")]
    toc += [("figures", "Figures")]
    toc += [
        (anchor, label)
        for anchor, label, present in (
            ("reported", "Published", True),
            ("timings", "Timings", True),
            ("layers", "Per layer", manifest.layer_benchmarks),
            ("speed", "Speed", manifest.speed),
            ("estimator", "Estimator", manifest.estimator),
        )
        if present
    ]
    toc += [("config", "Configuration"), ("machine", "Software and hardware")]
    scale = Scale.from_config(config)
    sections = (
        [] if scale.paper else [f'<div class="banner">{html.escape(banner_text(scale))}</div>']
    )
    sections.append("<h1>snacs results</h1>")
    sections.append("<nav>" + "".join(f'<a href="#{a}">{t}</a>' for a, t in toc) + "</nav>")
    sections += [_note(n) for n in notes]
    sections += _claims_section(manifest)
    sections.append("<h2 id='selected'>Selected operating points</h2>")
    sections.append(
        _note(
            "Per benchmark and method, the most compressed run whose mean top-1 is within "
            "the configured tolerance of the dense baseline, picked twice: on masked counts "
            "(as the paper reports them) and on slim counts (the deployable model, dead "
            "channels removed). A connection pruner's two picks can differ."
        )
    )
    sections += _tables_by_benchmark(pd.read_csv(manifest.table("selected")))
    summary = pd.read_csv(manifest.table("main"))
    misses = selection_misses(pruner_rows(summary), config["selection"]["tolerance_pp"])
    if not misses.empty:
        sections.append("<h3>Methods with no selected run</h3>")
        rows = misses[["title", "method", "reason"]].values.tolist()
        sections.append(_cells_html(["Benchmark", "Method", "Why no run qualified"], rows))
    sections.append("<h2 id='runs'>All runs</h2>")
    sections.append(
        _note(
            "Mean ± 95 % t interval over seeds (no interval with one seed). FLOPs and "
            "params ↓ count the masked model (pruned weights zero, kept in place); "
            "slim columns count the physically slimmed model. Target met: whether the "
            "achieved budget landed on the target (MISSED otherwise)."
        )
    )
    sections += _reference_section(manifest)
    sections += _tables_by_benchmark(summary)
    sections += _controls_section(summary)
    sections += _reported_section(Path(manifest.table("reported")))
    sections += _timings_section(Path(manifest.table("timings")))
    sections.append("<h2 id='figures'>Figures</h2>")
    for benchmark in manifest.benchmarks:
        block = pruner_rows(summary[summary["benchmark"] == benchmark])
        if not block.empty:
            png = manifest.layout.accuracy_figure(benchmark)
            sections.append(_image(png, accuracy_caption(block)))
    if manifest.layer_benchmarks:
        sections += _layer_section([Path(f) for f in manifest.layer_figures if f.endswith(".png")])
    if manifest.speed:
        sections += _speed_section(manifest)
    if manifest.estimator:
        sections += _estimator_section(manifest)
    sections.append("<h2 id='config'>Configuration</h2>")
    sections.append(_collapsed("resolved configuration, every default filled in (JSON)", config))
    sections.append("<h2 id='machine'>Software and hardware</h2>")
    dense = {r.benchmark: r.provenance for r in map(DenseRecord.load, manifest.dense_records)}
    machine: dict[str, Any] = {"dense models, per benchmark": dense}
    if run_provenance:
        machine["this report"] = dict(run_provenance)
        sections.append(_note(_machine_line(run_provenance)))
    sections.append(_collapsed("package versions, hardware, git revision (JSON)", machine))
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>snacs results</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>\n"
    )
    write_text(out, page)
