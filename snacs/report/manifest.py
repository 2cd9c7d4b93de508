"""The one list of what the report reads, used by the Snakefile rules and by ``snacs report``.

The workflow's rules take their inputs from :func:`report_manifest` and the CLI finds
the same files through it, so adding a report input is one edit here: the rule and the
command cannot disagree about which files a report is built from. The manifest lists
paths; it never spells them: each comes from the results layout (:mod:`snacs.layout`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from snacs.config import control_runs, methods_for, runs
from snacs.layout import TABLES, ResultsLayout, RunKey


@dataclass(frozen=True)
class ReportManifest:
    """Every file the report is built from, by role; optional studies are ``None``/empty."""

    results_dir: str
    formats: tuple[str, ...]
    #: every run record the tables read: the pruners' runs, then their controls
    run_records: list[str]
    prune_records: list[str]
    dense_records: list[str]
    #: the "dense (fine-tuned)" reference record of every benchmark and seed
    reference_records: list[str]
    #: benchmarks whose per-layer compression the report shows
    layer_benchmarks: list[str]
    #: methods compared in the per-layer figures
    layer_methods: list[str]
    benchmarks: list[str]
    speed: bool = False
    #: the whole-network speed study (``studies.speed.whole``), when the config has one
    whole_speed: bool = False
    estimator: bool = False
    prune_records_by_benchmark: dict[str, list[str]] = field(default_factory=dict)

    @property
    def layout(self) -> ResultsLayout:
        return ResultsLayout(self.results_dir)

    def table(self, name: str, ext: str = "csv") -> str:
        return self.layout.table(name, ext)

    def formats_of(self, figure: Callable[[str], str]) -> list[str]:
        """A figure (a function of the file extension) in every configured format."""
        return [figure(ext) for ext in self.formats]

    @property
    def accuracy_figures(self) -> list[str]:
        return [
            f
            for b in self.benchmarks
            for f in self.formats_of(partial(self.layout.accuracy_figure, b))
        ]

    @property
    def layer_figures(self) -> list[str]:
        return [
            f
            for b in self.layer_benchmarks
            for f in self.formats_of(partial(self.layout.layer_figure, b))
        ]

    @property
    def speed_figures(self) -> list[str]:
        return self.formats_of(self.layout.speed_figure)

    @property
    def estimator_figures(self) -> list[str]:
        return self.formats_of(self.layout.estimator_figure)

    @property
    def speed_summary(self) -> str | None:
        return self.layout.speed.tables.summary if self.speed else None

    @property
    def speed_raw(self) -> str | None:
        return self.layout.speed.raw if self.speed else None

    @property
    def whole_speed_summary(self) -> str | None:
        return self.layout.speed.whole_tables.summary if self.whole_speed else None

    @property
    def whole_speed_raw(self) -> str | None:
        return self.layout.speed.whole_raw if self.whole_speed else None

    @property
    def estimator_summary(self) -> str | None:
        return self.layout.estimator.tables.summary if self.estimator else None

    def inputs(self) -> dict[str, str | list[str]]:
        """The report rule's inputs by name (Snakemake ``unpack``)."""
        inputs: dict[str, str | list[str]] = {name: self.table(name) for name in TABLES}
        inputs["figures"] = self.accuracy_figures
        inputs["dense"] = self.dense_records
        inputs["references"] = self.reference_records
        inputs["layer_figures"] = self.layer_figures
        if self.speed:
            inputs["speed_summary"] = self.speed_summary  # type: ignore[assignment]
            inputs["speed_raw"] = self.speed_raw  # type: ignore[assignment]
            inputs["speed_figures"] = self.speed_figures
        if self.whole_speed:
            inputs["whole_speed_summary"] = self.whole_speed_summary  # type: ignore[assignment]
            inputs["whole_speed_raw"] = self.whole_speed_raw  # type: ignore[assignment]
        if self.estimator:
            inputs["estimator_summary"] = self.estimator_summary  # type: ignore[assignment]
            inputs["estimator_figures"] = self.estimator_figures
        return inputs


def report_manifest(config: Mapping[str, Any]) -> ReportManifest:
    """The manifest of a validated config."""
    results = config["results_dir"]
    planned = runs(config)
    benchmarks = list(config["benchmarks"])
    studies = config["studies"]
    layer_methods = [m for m in studies["layer_compression"]["methods"] if m in config["methods"]]
    layer_benchmarks = (
        [b for b in benchmarks if set(methods_for(config, b)) & set(layer_methods)]
        if studies["layer_compression"]["enabled"]
        else []
    )

    layout = ResultsLayout(results)
    keys = [RunKey(*run) for run in planned]
    by_benchmark = {
        b: [layout.prune(k).record for k in keys if k.benchmark == b and k.method in layer_methods]
        for b in layer_benchmarks
    }
    controls = [RunKey(b, m, t, seed, c) for b, m, t, seed, c in control_runs(config)]
    return ReportManifest(
        results_dir=results,
        formats=tuple(config["figures"]["formats"]),
        run_records=[layout.run_record(k) for k in keys + controls],
        prune_records=[layout.prune(k).record for k in keys],
        dense_records=[layout.dense_record(b) for b in benchmarks],
        reference_records=[
            layout.reference_record(b, seed) for b in benchmarks for seed in config["seeds"]
        ],
        layer_benchmarks=layer_benchmarks,
        layer_methods=layer_methods,
        benchmarks=benchmarks,
        speed=bool(studies["speed"]["enabled"]),
        whole_speed=bool(
            studies["speed"]["enabled"] and studies["speed"].get("whole", {}).get("enabled")
        ),
        estimator=bool(studies["estimator"]["enabled"]),
        prune_records_by_benchmark=by_benchmark,
    )
