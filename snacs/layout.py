"""The results layout: the one module that spells where a result file lives.

Every path the workflow writes or reads below ``results_dir`` comes from here. The
Snakefile rules declare their outputs with these functions and pass each path to the
step they run; the steps write exactly the paths they are given; the report's manifest
lists the same paths. So a file is named once, and a rule, a step and the report cannot
disagree about where it is. A training folder is the one unit whose files a step names
itself (``best.pt``, ``last.pt``, ``log.csv``), through :class:`TrainingFiles`, so the
trainer and the rule that declares its outputs read the same names.

Called with wildcard strings (``RunKey("{benchmark}", ...)``) the functions give the
rules' patterns; called with a run's values they give its files. This module is a leaf:
it imports nothing of snacs, so every layer may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypeVar

#: the report's tables, each written as .csv, .md and (where it has one) .tex
TABLES = ("main", "selected", "reported", "timings", "claims")
TABLE_FORMATS = {
    "main": ("csv", "md", "tex"),
    "selected": ("csv", "md", "tex"),
    "reported": ("csv", "md", "tex"),
    "timings": ("csv", "md", "tex"),
    "claims": ("csv", "md"),
}


class _Written:
    """The mark of a step parameter that names what the step writes."""

    def __repr__(self) -> str:
        return "WRITTEN"


WRITTEN = _Written()
_T = TypeVar("_T")
#: A step parameter (or record field) naming a file, folder or record of files the step
#: writes: ``out: Written[str | Path]``. The command line locks what it names (one
#: writer per output), so a step's signature alone says what it writes.
Written = Annotated[_T, WRITTEN]


@dataclass(frozen=True)
class TrainingFiles:
    """A training folder: the best epoch's weights, the state to resume, the epoch log."""

    folder: Path

    @property
    def best(self) -> Path:
        return self.folder / "best.pt"

    @property
    def last(self) -> Path:
        return self.folder / "last.pt"

    @property
    def log(self) -> Path:
        return self.folder / "log.csv"


def training_files(folder: str | Path) -> TrainingFiles:
    return TrainingFiles(Path(folder))


@dataclass(frozen=True)
class RunKey:
    """One pruning run (benchmark, method, target label, seed), or one of its controls."""

    benchmark: str
    method: str
    target: str
    seed: int | str
    control: str | None = None

    @property
    def folder(self) -> str:
        """The run's folder below ``pruned/``, ``finetuned/`` and ``metrics/``.

        A control lives inside its run's folder: same per-layer counts, another choice.
        """
        run = f"{self.benchmark}/{self.method}/{self.target}/seed{self.seed}"
        return run if self.control is None else f"{run}/control-{self.control}"

    def of_control(self, control: str) -> RunKey:
        return RunKey(self.benchmark, self.method, self.target, self.seed, control)


#: the rules' wildcard patterns of a run and of a control
RUN_PATTERN = RunKey("{benchmark}", "{method}", "{target}", "{seed}")
CONTROL_PATTERN = RUN_PATTERN.of_control("{control}")


@dataclass(frozen=True)
class PruneFiles:
    """What a prune (or control) step writes: the plan, the pruner's scores, the record."""

    plan: str
    scores: str
    record: str

    @property
    def files(self) -> list[str]:
        return [self.plan, self.scores, self.record]


@dataclass(frozen=True)
class ControlFiles:
    """What a control step writes of its own: its plan and its prune record (no scores: a
    control reuses its run's)."""

    plan: str
    record: str


@dataclass(frozen=True)
class TableStems:
    """The run tables, each a path without extension (written as .csv, .md and .tex)."""

    main: str | Path
    selected: str | Path
    reported: str | Path


@dataclass(frozen=True)
class StudyTables:
    """A study's table: every number (CSV), and the page (Markdown, LaTeX) made from it."""

    summary: str
    markdown: str
    latex: str | None = None

    @property
    def files(self) -> list[str]:
        return [f for f in (self.summary, self.markdown, self.latex) if f is not None]


@dataclass(frozen=True)
class SpeedFiles:
    """The speed study: raw timings of one layer pair and of whole networks, and their tables."""

    raw: str
    tables: StudyTables
    whole_raw: str
    whole_tables: StudyTables


@dataclass(frozen=True)
class EstimatorFiles:
    """The estimator-accuracy study: raw estimates, and the tables made from them."""

    raw: str
    tables: StudyTables


@dataclass(frozen=True)
class ResultsLayout:
    """Every result path below one results folder."""

    results: str

    # Data and dense model of a benchmark.
    def data_marker(self, benchmark: str) -> str:
        return f"{self.results}/{benchmark}/data.json"

    def weights_marker(self, benchmark: str) -> str:
        return f"{self.results}/{benchmark}/weights.json"

    def dense(self, benchmark: str) -> TrainingFiles:
        return training_files(f"{self.results}/{benchmark}/dense")

    def dense_record(self, benchmark: str) -> str:
        return f"{self.dense(benchmark).folder}/dense.json"

    def activations(self, benchmark: str) -> str:
        return f"{self.results}/{benchmark}/activations.pt"

    # One pruning run (or control) from plan to metrics.
    def prune(self, run: RunKey) -> PruneFiles:
        folder = f"{self.results}/pruned/{run.folder}"
        return PruneFiles(f"{folder}/plan.pt", f"{folder}/scores.pt", f"{folder}/prune.json")

    def one_shot(self, benchmark: str) -> str:
        """Every plan of the benchmark (runs and controls) right after pruning, and the dense
        model under the same BatchNorm re-estimation: one file, written by one process."""
        return f"{self.results}/{benchmark}/one_shot.json"

    def finetune(self, run: RunKey) -> TrainingFiles:
        return training_files(f"{self.results}/finetuned/{run.folder}")

    def run_record(self, run: RunKey) -> str:
        return f"{self.results}/metrics/{run.folder}.json"

    def slim_model(self, run: RunKey) -> str:
        return f"{self.results}/slim/{run.folder}.pt2"

    # The dense model fine-tuned with the pruners' recipe ("dense (fine-tuned)").
    def reference(self, benchmark: str, seed: int | str) -> TrainingFiles:
        return training_files(f"{self.results}/reference/{benchmark}/seed{seed}")

    def reference_record(self, benchmark: str, seed: int | str) -> str:
        return f"{self.reference(benchmark, seed).folder}/dense_finetuned.json"

    # Report outputs.
    def table_stem(self, name: str) -> str:
        if name not in TABLES:
            raise KeyError(f"the report has no table {name!r}; known: {', '.join(TABLES)}")
        return f"{self.results}/tables/{name}"

    @property
    def run_tables(self) -> TableStems:
        """The stems of the tables ``snacs tables`` writes from the run records."""
        return TableStems(*(self.table_stem(name) for name in ("main", "selected", "reported")))

    def table(self, name: str, ext: str = "csv") -> str:
        return f"{self.table_stem(name)}.{ext}"

    def table_files(self, name: str) -> list[str]:
        """``name`` in every format it is written in."""
        return [self.table(name, ext) for ext in TABLE_FORMATS[name]]

    def figure(self, stem: str, ext: str = "png") -> str:
        return f"{self.results}/figures/{stem}.{ext}"

    def accuracy_figure(self, benchmark: str, ext: str = "png") -> str:
        return self.figure(f"{benchmark}_acc_vs_flops", ext)

    def layer_figure(self, benchmark: str, ext: str = "png") -> str:
        return self.figure(f"{benchmark}_layer_compression", ext)

    def speed_figure(self, ext: str = "png") -> str:
        return self.figure("speed", ext)

    def estimator_figure(self, ext: str = "png") -> str:
        return self.figure("estimator_accuracy", ext)

    @property
    def report_page(self) -> str:
        """The report's target (``results/all``); ``report_html`` is the same page."""
        return f"{self.results}/all"

    @property
    def report_html(self) -> str:
        return f"{self.results}/report.html"

    # Side studies.
    @property
    def studies(self) -> str:
        return f"{self.results}/studies"

    @property
    def speed(self) -> SpeedFiles:
        s = self.studies
        return SpeedFiles(
            raw=f"{s}/speed.csv",
            tables=StudyTables(f"{s}/speed_summary.csv", f"{s}/speed.md", f"{s}/speed.tex"),
            whole_raw=f"{s}/speed_whole.csv",
            whole_tables=StudyTables(f"{s}/speed_whole_summary.csv", f"{s}/speed_whole.md"),
        )

    @property
    def estimator(self) -> EstimatorFiles:
        s = self.studies
        return EstimatorFiles(
            raw=f"{s}/estimator_accuracy.csv",
            tables=StudyTables(
                f"{s}/estimator_summary.csv", f"{s}/estimator.md", f"{s}/estimator.tex"
            ),
        )

    def layer_compression(self, benchmark: str) -> str:
        return f"{self.studies}/{benchmark}_layer_compression.csv"

    # Logs: one per job, named like the job's outputs.
    def log(self, step: str, name: str | None = None) -> str:
        return (
            f"{self.results}/logs/{step}.log"
            if name is None
            else (f"{self.results}/logs/{step}/{name}.log")
        )

    def prune_log(self, benchmark: str, method: str, seed: int | str) -> str:
        """The log of the one prune job that scores a method once and plans its targets."""
        return self.log("prune", f"{benchmark}/{method}/seed{seed}")
