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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from snacs.io import write_text
from snacs.report.controls import control_cells
from snacs.report.tables import (
    REPORTED,
    TIMING_NOTE,
    reported_cells,
    summary_cells,
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
summary { cursor: pointer; color: #345; }
"""


@dataclass
class StudyOutputs:
    """Optional inputs of the report beyond the main tables (each shown when given)."""

    reported_csv: str | Path | None = None
    timings_csv: str | Path | None = None
    layer_figures: Sequence[str | Path] = ()
    speed_summary_csv: str | Path | None = None
    speed_raw_csv: str | Path | None = None
    speed_figure: str | Path | None = None
    estimator_summary_csv: str | Path | None = None
    estimator_figure: str | Path | None = None
    run_provenance: Mapping[str, Any] = field(default_factory=dict)


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


def _image(path: str | Path) -> str:
    path = Path(path)
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


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


def _tables_by_benchmark(frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return [_note("No run meets the selection rule.")]
    return [
        f"<h3>{html.escape(str(title))}</h3>{_cells_html(*summary_cells(block))}"
        for title, block in frame.groupby("title", sort=False)
    ]


def _controls_section(summary: pd.DataFrame) -> list[str]:
    """Each pruner beside its controls, with its margin over random and its seed noise."""
    if "control" not in summary or not summary["control"].fillna("").ne("").any():
        return []
    return [
        "<h3 id='controls'>Pruners against their controls</h3>",
        _note(
            "Each control prunes the same number of units per layer as the pruner's run, "
            "chosen at random, by weight magnitude, or by the pruner's ranking inverted, and "
            "is fine-tuned the same way. A margin over random smaller than the seed noise "
            "says the ranking is not shown to matter at these counts."
        ),
        _cells_html(*control_cells(summary)),
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


def _speed_section(outputs: StudyOutputs) -> list[str]:
    from snacs.studies.speed import claim_summary, setup_summary, speed_cells

    table = pd.read_csv(outputs.speed_summary_csv)
    parts = ["<h2 id='speed'>Speed study: scoring one layer pair</h2>"]
    parts.append(f'<p class="claim">{html.escape(claim_summary(table))}</p>')
    if outputs.speed_raw_csv is not None:
        parts.append(_note(setup_summary(pd.read_csv(outputs.speed_raw_csv))))
    parts.append(_cells_html(*speed_cells(table)))
    if outputs.speed_figure is not None:
        parts.append(_image(outputs.speed_figure))
    return parts


def _estimator_section(outputs: StudyOutputs) -> list[str]:
    from snacs.studies.estimator_accuracy import estimator_cells, estimator_note

    table = pd.read_csv(outputs.estimator_summary_csv)
    parts = ["<h2 id='estimator'>Estimator accuracy on Gaussian data</h2>"]
    parts += [_note(estimator_note(table)), _cells_html(*estimator_cells(table))]
    if outputs.estimator_figure is not None:
        parts.append(_image(outputs.estimator_figure))
    return parts


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
        *(_image(Path(f)) for f in figures),
    ]


def write_report(
    out: str | Path,
    summary_csv: str | Path,
    selected_csv: str | Path,
    figures: Iterable[str | Path],
    config: Mapping[str, Any],
    provenance: Mapping[str, Any],
    notes: Iterable[str] = (),
    studies: StudyOutputs | None = None,
) -> None:
    """Write the report; ``studies`` adds the published rows, timings and side studies."""
    studies = studies or StudyOutputs()
    toc = [("selected", "Selected"), ("runs", "All runs"), ("figures", "Figures")]
    toc += [
        (anchor, label)
        for anchor, label, present in (
            ("reported", "Published", studies.reported_csv),
            ("timings", "Timings", studies.timings_csv),
            ("layers", "Per layer", studies.layer_figures),
            ("speed", "Speed", studies.speed_summary_csv),
            ("estimator", "Estimator", studies.estimator_summary_csv),
        )
        if present
    ]
    toc += [("config", "Configuration"), ("machine", "Software and hardware")]
    sections = ["<h1>snacs results</h1>"]
    sections.append("<nav>" + "".join(f'<a href="#{a}">{t}</a>' for a, t in toc) + "</nav>")
    sections += [_note(n) for n in notes]
    sections.append("<h2 id='selected'>Selected operating points</h2>")
    sections.append(
        _note(
            "Per benchmark and method, the most compressed run whose mean top-1 is within "
            "the configured tolerance of the dense baseline."
        )
    )
    sections += _tables_by_benchmark(pd.read_csv(selected_csv))
    sections.append("<h2 id='runs'>All runs</h2>")
    summary = pd.read_csv(summary_csv)
    sections += _tables_by_benchmark(summary)
    sections += _controls_section(summary)
    if studies.reported_csv is not None:
        sections += _reported_section(Path(studies.reported_csv))
    if studies.timings_csv is not None:
        sections += _timings_section(Path(studies.timings_csv))
    sections.append("<h2 id='figures'>Figures</h2>")
    sections += [_image(Path(f)) for f in figures if Path(f).suffix == ".png"]
    if studies.layer_figures:
        sections += _layer_section([Path(f) for f in studies.layer_figures])
    if studies.speed_summary_csv is not None:
        sections += _speed_section(studies)
    if studies.estimator_summary_csv is not None:
        sections += _estimator_section(studies)
    sections.append("<h2 id='config'>Configuration</h2>")
    sections.append(_collapsed("resolved configuration, every default filled in (JSON)", config))
    sections.append("<h2 id='machine'>Software and hardware</h2>")
    machine: dict[str, Any] = {"dense models, per benchmark": dict(provenance)}
    if studies.run_provenance:
        machine["this report"] = dict(studies.run_provenance)
        sections.append(_note(_machine_line(studies.run_provenance)))
    sections.append(_collapsed("package versions, hardware, git revision (JSON)", machine))
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>snacs results</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>\n"
    )
    write_text(out, page)
