"""Steps of the side studies: measure once into a raw CSV, then tables and figures from it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from snacs.errors import ConfigError
from snacs.io import write_text
from snacs.layout import StudyTables, Written
from snacs.pruning.records import DenseRecord
from snacs.tabular import markdown_table


def run_speed(
    section: Mapping[str, Any],
    spec: Mapping[str, Any] | None,
    out: Written[str | Path],
    device: torch.device,
    dense: str | Path | None = None,
    activations: str | Path | None = None,
    progress: bool = True,
    whole_out: Written[str | Path | None] = None,
) -> str:
    """Time SNACS and MINT scoring one layer pair, and with ``whole_out`` their whole
    scoring steps on full networks; write the raw CSVs, return a printout."""
    from snacs.report.speed import setup_summary, whole_cells, whole_setup_summary
    from snacs.studies import speed, whole_speed

    settings = speed.SpeedSettings.from_config(section)
    if speed.weights_source(settings.weights, spec) == "trained":
        if not (dense and activations):
            raise ConfigError(
                f"the speed study reads the trained {spec['name']} model: give --dense (its "
                "dense checkpoint) and --activations (its activation cache), or set weights: "
                "random"
            )
        pair = speed.pair_from_trained(spec, dense, activations, settings)
    else:
        pair = speed.pair_from_random_init(spec, settings, device, progress)
    raw = speed.run_speed_study(pair, settings, device, progress)
    write_text(out, raw.to_csv(index=False))
    summary = speed.summarise_speed(raw)
    printout = f"{setup_summary(raw)}\n{summary.to_string(index=False)}"
    if whole_out is None:
        return printout
    whole = whole_speed.WholeSettings.from_config(section.get("whole", {}))
    if not whole.enabled:
        raise ConfigError("--whole-out was given but studies.speed.whole.enabled is false")
    contexts = whole_speed.contexts_from_benchmark(spec, whole, device, progress)
    raw = whole_speed.run_whole_study(contexts, whole, progress)
    write_text(whole_out, raw.to_csv(index=False))
    headers, rows = whole_cells(raw, whole_speed.summarise_whole(raw))
    return f"{printout}\n{whole_setup_summary(raw)}\n{markdown_table(headers, rows)}"


def run_speed_report(
    raw: str | Path,
    paper: str | Path,
    tables: Written[StudyTables],
    figure: Written[Sequence[str | Path]],
    whole_raw: str | Path | None = None,
    whole_tables: Written[StudyTables | None] = None,
) -> str:
    """Speed tables and figure from the raw CSV (and the whole-network tables from
    ``whole_raw``); return the claim's one-line summary."""
    from snacs.report.speed import write_speed_tables, write_whole_tables
    from snacs.report.study_figures import speed_figure

    table, summary = write_speed_tables(raw, paper, tables)
    speed_figure(table, figure)
    if whole_raw is not None:
        if whole_tables is None:
            raise ConfigError("the whole-network timings need their output tables")
        ratios = write_whole_tables(whole_raw, whole_tables)
        summary += "\n" + "; ".join(
            f"{r.network} {r.scope} ratio {r.ratio:.1f}x [{r.ratio_low:.1f}, {r.ratio_high:.1f}]"
            for r in ratios
        )
    return summary


def run_estimator(
    section: Mapping[str, Any], out: Written[str | Path], progress: bool = True
) -> None:
    from snacs.studies.estimator_accuracy import EstimatorSettings, run_estimator_study

    raw = run_estimator_study(EstimatorSettings.from_config(section), progress)
    write_text(out, raw.to_csv(index=False))


def run_estimator_report(
    raw: str | Path,
    paper: str | Path,
    tables: Written[StudyTables],
    figure: Written[Sequence[str | Path]],
) -> None:
    from snacs.report.study_figures import estimator_figure
    from snacs.studies.estimator_accuracy import write_estimator_tables

    estimator_figure(write_estimator_tables(raw, paper, tables), figure)


def run_layer_compression(
    prune_json: Sequence[str | Path],
    selected: str | Path,
    dense_json: str | Path,
    methods: Sequence[str],
    paper: str | Path | None,
    out_csv: Written[str | Path],
    figure: Written[Sequence[str | Path]],
) -> None:
    """Per-layer pruned share of the selected runs, as a CSV and a figure."""
    import pandas as pd

    from snacs.report.study_figures import layer_compression_figure
    from snacs.studies.layer_compression import layer_compression

    dense = DenseRecord.load(dense_json)
    table = layer_compression(prune_json, pd.read_csv(selected), dense, methods)
    write_text(out_csv, table.to_csv(index=False))
    reference = pd.read_csv(paper) if paper else None
    if reference is not None:
        reference = reference[reference["benchmark"] == dense.benchmark]
    layer_compression_figure(table, reference, dense.title, figure)
