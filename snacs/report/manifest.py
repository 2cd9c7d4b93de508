"""The one list of what the report reads, used by the Snakefile rules and by ``snacs report``.

The workflow's rules take their inputs from :func:`report_manifest` and the CLI finds
the same files through it, so adding a report input is one edit here: the rule and the
command cannot disagree about which files a report is built from. Paths follow the
results layout the workflow writes (``RUN_DIR`` and the patterns below).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from snacs.config import control_runs, methods_for, runs

#: one run's folder below ``pruned/`` (and its record's name below ``metrics/``)
RUN_DIR = "{benchmark}/{method}/{target}/seed{seed}"
RUN_RECORD = "{results}/metrics/" + RUN_DIR + ".json"
#: a control of a run (same per-layer counts, another choice) lives inside the run's folder
CONTROL_RECORD = "{results}/metrics/" + RUN_DIR + "/control-{control}.json"
PRUNE_RECORD = "{results}/pruned/" + RUN_DIR + "/prune.json"
DENSE_RECORD = "{results}/{benchmark}/dense/dense.json"
REFERENCE_RECORD = "{results}/reference/{benchmark}/seed{seed}/dense_finetuned.json"
TABLES = ("main", "selected", "reported", "timings", "claims")


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

    def table(self, name: str, ext: str = "csv") -> str:
        if name not in TABLES:
            raise KeyError(f"the report has no table {name!r}; known: {', '.join(TABLES)}")
        return f"{self.results_dir}/tables/{name}.{ext}"

    def figure(self, stem: str, ext: str = "png") -> str:
        return f"{self.results_dir}/figures/{stem}.{ext}"

    def figures(self, stem: str) -> list[str]:
        """``stem`` in every configured figure format."""
        return [self.figure(stem, ext) for ext in self.formats]

    @property
    def studies_dir(self) -> str:
        return f"{self.results_dir}/studies"

    @property
    def accuracy_figures(self) -> list[str]:
        return [f for b in self.benchmarks for f in self.figures(f"{b}_acc_vs_flops")]

    @property
    def layer_figures(self) -> list[str]:
        return [f for b in self.layer_benchmarks for f in self.figures(f"{b}_layer_compression")]

    @property
    def speed_summary(self) -> str | None:
        return f"{self.studies_dir}/speed_summary.csv" if self.speed else None

    @property
    def speed_raw(self) -> str | None:
        return f"{self.studies_dir}/speed.csv" if self.speed else None

    @property
    def whole_speed_summary(self) -> str | None:
        return f"{self.studies_dir}/speed_whole_summary.csv" if self.whole_speed else None

    @property
    def whole_speed_raw(self) -> str | None:
        return f"{self.studies_dir}/speed_whole.csv" if self.whole_speed else None

    @property
    def estimator_summary(self) -> str | None:
        return f"{self.studies_dir}/estimator_summary.csv" if self.estimator else None

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
            inputs["speed_figures"] = self.figures("speed")
        if self.whole_speed:
            inputs["whole_speed_summary"] = self.whole_speed_summary  # type: ignore[assignment]
            inputs["whole_speed_raw"] = self.whole_speed_raw  # type: ignore[assignment]
        if self.estimator:
            inputs["estimator_summary"] = self.estimator_summary  # type: ignore[assignment]
            inputs["estimator_figures"] = self.figures("estimator_accuracy")
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

    def fill(pattern: str, run: tuple[str, str, str, int]) -> str:
        bench, method, target, seed = run
        return pattern.format(
            results=results, benchmark=bench, method=method, target=target, seed=seed
        )

    by_benchmark = {
        b: [fill(PRUNE_RECORD, r) for r in planned if r[0] == b and r[1] in layer_methods]
        for b in layer_benchmarks
    }
    return ReportManifest(
        results_dir=results,
        formats=tuple(config["figures"]["formats"]),
        run_records=[fill(RUN_RECORD, r) for r in planned]
        + [
            CONTROL_RECORD.format(
                results=results, benchmark=b, method=m, target=t, seed=seed, control=c
            )
            for b, m, t, seed, c in control_runs(config)
        ],
        prune_records=[fill(PRUNE_RECORD, r) for r in planned],
        dense_records=[DENSE_RECORD.format(results=results, benchmark=b) for b in benchmarks],
        reference_records=[
            REFERENCE_RECORD.format(results=results, benchmark=b, seed=seed)
            for b in benchmarks
            for seed in config["seeds"]
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
