"""The self-contained HTML report that ``results/all`` is: tables, figures, config, provenance.

Figures are embedded as base64 PNG and tables inlined, so the one file can be mailed or
archived and still open in any browser without the results folder next to it.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from snacs.io import write_text

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th { background: #f0f0f0; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.8em; }
.note { color: #555; font-size: 0.9em; }
"""


def _table_html(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.2f}", border=0, escape=True)


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _tables_by_benchmark(frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return ['<p class="note">No run meets the selection rule.</p>']
    return [
        f"<h3>{html.escape(str(title))}</h3>"
        f"{_table_html(block.drop(columns=['benchmark', 'title']))}"
        for title, block in frame.groupby("title", sort=False)
    ]


def write_report(
    out: str | Path,
    summary_csv: str | Path,
    selected_csv: str | Path,
    figures: Iterable[str | Path],
    config: Mapping[str, Any],
    provenance: Mapping[str, Any],
    notes: Iterable[str] = (),
) -> None:
    sections = ["<h1>snacs results</h1>"]
    sections += [f'<p class="note">{html.escape(n)}</p>' for n in notes]
    sections.append("<h2>Selected operating points</h2>")
    sections.append(
        '<p class="note">Per benchmark and method, the most compressed run whose mean '
        "top-1 is within the configured tolerance of the dense baseline (spec §7.4).</p>"
    )
    sections += _tables_by_benchmark(pd.read_csv(selected_csv))
    sections.append("<h2>All runs</h2>")
    sections += _tables_by_benchmark(pd.read_csv(summary_csv))
    sections.append("<h2>Figures</h2>")
    sections += [_image(Path(f)) for f in figures if Path(f).suffix == ".png"]
    sections.append("<h2>Configuration</h2>")
    sections.append(f"<pre>{html.escape(json.dumps(config, indent=2, sort_keys=True))}</pre>")
    sections.append("<h2>Software and hardware</h2>")
    sections.append(f"<pre>{html.escape(json.dumps(provenance, indent=2, sort_keys=True))}</pre>")
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>snacs results</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>\n"
    )
    write_text(out, page)
