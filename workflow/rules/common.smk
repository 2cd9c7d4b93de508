# Shared helpers: the validated config, result paths, the JSON spec each step reads, and
# every input/params function of the rules (rules live in the other .smk files).
import json
from functools import partial
from pathlib import Path

from snacs.config import (
    MATCH_PREFIX,
    control_runs,
    parse_matched_label,
    pruner_name,
    runs,
    step_spec,
    targets_for,
)
from snacs.config_file import validate_config
from snacs.errors import SnacsError
from snacs.layout import CONTROL_PATTERN, RUN_PATTERN, ResultsLayout, RunKey
from snacs.pipeline.finetune import stack_chunks
from snacs.pipeline.prune import needs_activations
from snacs.pipeline.resources import speed_study_minutes, training_minutes
from snacs.report.manifest import report_manifest
from snacs.studies.speed import speed_benchmark, weights_source
from snakemake.exceptions import WorkflowError
from snakemake.io import report as mark_for_report

# Fine-tunes of one benchmark and seed trained together as one stacked model (a run-time
# setting like --cores, not part of the experiment: each run's files and numbers are those
# of a run alone, to float tolerance): `--config stack_k=8`, or `config:` in a profile.
STACK_K = int(config.pop("stack_k", 1))
# Every name and option is checked here, before any job runs; a mistake is one message.
try:
    CFG = validate_config(config)
except SnacsError as error:
    raise WorkflowError(str(error)) from None
R = CFG["results_dir"]
# Every result path comes from the layout: each rule declares its files with it once and
# passes them to its step.
L = ResultsLayout(R)
RUN = RUN_PATTERN
CONTROL = CONTROL_PATTERN
BENCHMARKS = list(CFG["benchmarks"])
# Software of every rule, relative to the rule files (used with --sdm conda).
CONDA_ENV = "../envs/snacs.yaml"
# Half the cores per training job, so two jobs overlap their single-threaded start-up.
try:
    CORES = workflow.cores
except WorkflowError:  # `snakemake --report` without --cores runs no job: any count will do
    CORES = 1
TRAIN_THREADS = max(1, min(4, CORES // 2))


# Target labels: a budget the config names, or a matched budget (what a reference run
# reached at one of those).
PLAIN_TARGET = r"(params|flops|share)\d+-(layerwise|global)"
MATCHED_TARGET = rf"{MATCH_PREFIX}(params|flops)-(layerwise|global)-of-{PLAIN_TARGET}"


wildcard_constraints:
    benchmark=r"[A-Za-z0-9_]+",
    method=r"[A-Za-z0-9_]+",
    target=rf"({MATCHED_TARGET}|{PLAIN_TARGET})",
    seed=r"\d+",
    control=r"random\d+|magnitude|inverted",


def spec(step):
    """Params function: the JSON of the config part that ``step`` reads."""

    def make(wildcards):
        method = getattr(wildcards, "method", None)
        return json.dumps(step_spec(CFG, wildcards.benchmark, step, method), sort_keys=True)

    return make


def launcher(wildcards, resources):
    """Params function: ``snacs``, or ``torchrun`` over the job's GPUs when it has several.

    A training rule's ``gpu`` resource (1 unless a profile sets more) is the number of
    GPUs of one job; with more than one the step runs data-parallel, one process per GPU.
    """
    gpus = int(getattr(resources, "gpu", 1) or 1)
    if gpus <= 1:
        return "snacs"
    return f"torchrun --standalone --nproc-per-node={gpus} -m snacs"


def run_key(wildcards):
    """The run (or control) a job's wildcards name."""
    return RunKey(
        wildcards.benchmark,
        wildcards.method,
        wildcards.target,
        wildcards.seed,
        getattr(wildcards, "control", None),
    )


def training_folder(folder_of):
    """Params function: the training folder ``folder_of(wildcards)`` of the layout (params,
    unlike outputs, are not filled with the job's wildcards)."""
    return lambda wildcards: str(folder_of(wildcards).folder)


# What the report reads (tables, figures, records): the same list ``snacs report`` uses.
MANIFEST = report_manifest(CFG)

# Every step output of every run and control, and each benchmark's one-shot records.
# Snakemake remakes a missing file only when a job that reads it must run anyway, so after a killed prune (whose outputs Snakemake
# deletes) the finished finetune, evaluate and report jobs would stand on a plan that is
# gone; as inputs of the report's target they are rebuilt by the next run.
RUN_KEYS = [RunKey(*run) for run in runs(CFG)]
CONTROL_KEYS = [RunKey(*run) for run in control_runs(CFG)]
STEP_OUTPUTS = [
    path
    for run in RUN_KEYS + CONTROL_KEYS
    for path in (
        L.prune(run).plan,
        L.prune(run).record,
        L.finetune(run).best,
        *([L.prune(run).scores] if run.control is None else []),
    )
] + [L.one_shot(benchmark) for benchmark in BENCHMARKS]

# The stacked fine-tune jobs: (rule name, benchmark, seed, runs), for every benchmark
# whose model stacks; the others (and every run when stack_k is 1) fine-tune one by one.
STACKS = [
    (f"finetune_stack_{bench}_seed{chunk[0].seed}_{index}", bench, chunk[0].seed, chunk)
    for bench in BENCHMARKS
    for index, chunk in enumerate(
        stack_chunks(
            step_spec(CFG, bench, "finetune"),
            [run for run in RUN_KEYS if run.benchmark == bench],
            STACK_K,
        )
    )
]
STACKED_BENCHMARKS = sorted({bench for _, bench, _, _ in STACKS})


def stack_minutes(bench, members):
    """Wall time of a stacked fine-tune job: at most its members' one after the other."""
    spec = CFG["benchmarks"][bench]
    return len(members) * training_minutes(spec, spec["finetune"]["recipe"])


def unstacked_benchmark():
    """Wildcard pattern of the benchmarks whose runs fine-tune one by one."""
    if not STACKED_BENCHMARKS:
        return r"[A-Za-z0-9_]+"
    return rf"(?!(?:{'|'.join(STACKED_BENCHMARKS)})$)[A-Za-z0-9_]+"


onerror:
    # A failed run leaves no report behind that claims to stand on every result.
    Path(L.report_page).unlink(missing_ok=True)


# A pruner's scores do not depend on the target: one prune job per benchmark, method and
# seed scores once and plans every target the config names for the method. Methods with
# the top-level targets share rule `prune`; a method with targets of its own gets a rule
# `prune_<method>` (a rule's outputs are one list for every method it serves). Matched
# budgets wait for their reference run's record: one job each (rule prune_matched).
def _prune_rules():
    """(rule name, methods, plain target labels) of every prune rule."""
    own = [m for m, entry in CFG["methods"].items() if "targets" in entry]
    shared = [m for m in CFG["methods"] if m not in own]
    groups = [("prune", shared)] if shared else []
    groups += [(f"prune_{m}", [m]) for m in own]
    return [
        (name, methods, list(dict.fromkeys(t.label for t in targets_for(CFG, methods[0]))))
        for name, methods in groups
    ]


PRUNE_RULES = _prune_rules()


def prune_outputs(labels):
    """The plan, scores and record of every target in ``labels`` (wildcard patterns)."""
    return [
        path
        for label in labels
        for path in L.prune(RunKey("{benchmark}", "{method}", label, "{seed}")).files
    ]


def prune_target_flags(labels):
    """Params function: ``--targets`` with ``labels``, and each one's files in that order."""

    def flags(wildcards):
        w = wildcards
        files = [L.prune(RunKey(w.benchmark, w.method, label, w.seed)) for label in labels]
        return " ".join(
            [f"--targets {' '.join(labels)}"]
            + [
                f"--targets-{field} {' '.join(getattr(each, field) for each in files)}"
                for field in ("plan", "scores", "record")
            ]
        )

    return flags


def prune_inputs(wildcards):
    inputs = {"dense": L.dense(wildcards.benchmark).best}
    if needs_activations(pruner_name(CFG, wildcards.method), CFG["pruner_modules"]):
        inputs["activations"] = L.activations(wildcards.benchmark)
    return inputs


def matched_prune_inputs(wildcards):
    """A plain prune's inputs and the record of the reference run the budget matches."""
    reference = RunKey(
        wildcards.benchmark,
        CFG["matched_budget"]["reference"],
        parse_matched_label(wildcards.target)[2],
        wildcards.seed,
    )
    return {**prune_inputs(wildcards), "reference": L.prune(reference).record}


def one_shot_inputs(wildcards):
    """The dense model, and the plan and record of every run of the benchmark (a control's
    plan is chosen in the job that evaluates it, which measures its one-shot there)."""
    keys = [key for key in RUN_KEYS if key.benchmark == wildcards.benchmark]
    return {
        "dense": L.dense(wildcards.benchmark).best,
        "plans": [L.prune(key).plan for key in keys],
        "records": [L.prune(key).record for key in keys],
    }


def for_report(paths, caption, category, subcategory=None):
    """``paths`` with the figures (PNG), tables (CSV) and pages (HTML) among them marked
    for ``snakemake --report``; PDF and LaTeX copies stay unmarked."""
    return [
        mark_for_report(
            path, caption=f"../report/{caption}", category=category, subcategory=subcategory
        )
        if str(path).endswith((".png", ".csv", ".html"))
        else path
        for path in paths
    ]


def dense_inputs(wildcards):
    """The dataset, and for a pretrained model its weights (fetched on the login node)."""
    inputs = {"data": L.data_marker(wildcards.benchmark)}
    if CFG["benchmarks"][wildcards.benchmark]["dense"]["source"] == "pretrained":
        inputs["weights"] = L.weights_marker(wildcards.benchmark)
    return inputs


def dense_minutes(wildcards):
    """Resources function: wall time of the dense job, from its recipe's epochs."""
    bench = CFG["benchmarks"][wildcards.benchmark]
    return training_minutes(bench, bench["dense"].get("recipe"))


def finetune_minutes(wildcards):
    bench = CFG["benchmarks"][wildcards.benchmark]
    return training_minutes(bench, bench["finetune"]["recipe"])


def optional_flag(flag, key):
    """Params function: ``flag path`` when the rule has input ``key``, else nothing."""
    return lambda wildcards, input: f"{flag} {input[key]}" if key in input.keys() else ""


# Side studies: switches, paths and inputs.
STUDIES = CFG["studies"]
PAPER = Path(workflow.basedir) / "paper_figures"
FORMATS = CFG["figures"]["formats"]


def in_formats(figure):
    """A figure of the layout (a function of the file extension) in every configured format."""
    return [figure(ext) for ext in FORMATS]


if STUDIES["speed"]["enabled"]:
    SPEED_BENCHMARK = speed_benchmark(CFG)
    SPEED_SPEC = step_spec(CFG, SPEED_BENCHMARK, "activations")
    SPEED_WEIGHTS = weights_source(STUDIES["speed"]["weights"], SPEED_SPEC)


def speed_inputs(wildcards):
    if SPEED_WEIGHTS == "trained":
        return {
            "dense": L.dense(SPEED_BENCHMARK).best,
            "activations": L.activations(SPEED_BENCHMARK),
        }
    return {"data": L.data_marker(SPEED_BENCHMARK)}
