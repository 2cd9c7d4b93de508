"""Steps that turn finished records into figures and the HTML report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from snacs.io import read_json


def run_figures(summary_csv: str | Path, benchmark: str, out: Sequence[str | Path]) -> None:
    import pandas as pd

    from snacs.report.figures import accuracy_vs_flops

    accuracy_vs_flops(pd.read_csv(summary_csv), benchmark, out)


def run_report(
    config: Mapping[str, Any],
    out: str | Path,
    summary: str | Path,
    selected: str | Path,
    figures: Sequence[str | Path],
    dense_json: Sequence[str | Path],
    *,
    reported: str | Path | None = None,
    timings: str | Path | None = None,
    layer_figures: Sequence[str | Path] = (),
    speed_summary: str | Path | None = None,
    speed_raw: str | Path | None = None,
    speed_figure: str | Path | None = None,
    estimator_summary: str | Path | None = None,
    estimator_figure: str | Path | None = None,
) -> None:
    """Write the self-contained HTML report from the tables, figures and dense records."""
    from snacs.pipeline.provenance import provenance as run_provenance
    from snacs.report.html import StudyOutputs, write_report

    provenance = {Path(p).parent.parent.name: read_json(p)["provenance"] for p in dense_json}
    studies = StudyOutputs(
        reported_csv=reported,
        timings_csv=timings,
        layer_figures=[Path(f) for f in layer_figures if Path(f).suffix == ".png"],
        speed_summary_csv=speed_summary,
        speed_raw_csv=speed_raw,
        speed_figure=speed_figure,
        estimator_summary_csv=estimator_summary,
        estimator_figure=estimator_figure,
        run_provenance=run_provenance(),
    )
    write_report(out, summary, selected, figures, config, provenance, studies=studies)
