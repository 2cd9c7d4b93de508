"""Steps that turn finished records into figures, the claims table and the HTML report.

The report's inputs come from :func:`snacs.report.manifest.report_manifest`, the same
list the workflow's rules use, so these steps take only the config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from snacs.layout import Written


def run_figures(
    summary_csv: str | Path, benchmark: str, out: Written[Sequence[str | Path]]
) -> None:
    import pandas as pd

    from snacs.report.figures import accuracy_vs_flops

    accuracy_vs_flops(pd.read_csv(summary_csv), benchmark, out)


def run_report(config: Mapping[str, Any], out: Written[str | Path]) -> None:
    """Write the self-contained HTML report from the files the config's manifest lists."""
    from snacs.pipeline.provenance import provenance
    from snacs.report.html import write_report
    from snacs.report.manifest import report_manifest

    write_report(out, report_manifest(config), config, provenance())


def run_claims(
    config: Mapping[str, Any], published: str | Path | None, paper_speed: str | Path | None
) -> str:
    """Write tables/claims.{csv,md}; return one line per claim (verdict first)."""
    import pandas as pd

    from snacs.report.claims import build_claims, write_claims
    from snacs.report.manifest import report_manifest
    from snacs.report.tables import read_published

    manifest = report_manifest(config)
    speed = pd.read_csv(paper_speed) if paper_speed else None
    frame = build_claims(config, manifest, read_published(published), speed)
    write_claims(frame, config, manifest)
    return "\n".join(
        f"{row.verdict:>13}  {row.claim} [{row.benchmark}]" for row in frame.itertuples()
    )
