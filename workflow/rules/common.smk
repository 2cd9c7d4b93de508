# Shared helpers: the validated config, result paths, the JSON spec each step reads, and
# every input/params function of the rules (rules live in the other .smk files).
import json
from pathlib import Path

from snacs.config import (
    MATCH_PREFIX,
    control_runs,
    parse_matched_label,
    pruner_name,
    runs,
    step_spec,
    validate_config,
)
from snacs.errors import SnacsError
from snacs.pipeline.prune import needs_activations
from snacs.pipeline.resources import speed_study_minutes, training_minutes
from snacs.report.manifest import RUN_DIR, report_manifest
from snacs.studies.speed import speed_benchmark, weights_source
from snakemake.exceptions import WorkflowError
from snakemake.io import report as mark_for_report

# Every name and option is checked here, before any job runs; a mistake is one message.
try:
    CFG = validate_config(config)
except SnacsError as error:
    raise WorkflowError(str(error)) from None
R = CFG["results_dir"]
RUNS = runs(CFG)
CONTROL_RUNS = control_runs(CFG)
BENCHMARKS = list(CFG["benchmarks"])
# Software of every rule, relative to the rule files (used with --sdm conda).
CONDA_ENV = "../envs/snacs.yaml"
# Half the cores per training job, so two jobs overlap their single-threaded start-up.
try:
    CORES = workflow.cores
except WorkflowError:  # `snakemake --report` without --cores runs no job: any count will do
    CORES = 1
TRAIN_THREADS = max(1, min(4, CORES // 2))


wildcard_constraints:
    benchmark=r"[A-Za-z0-9_]+",
    method=r"[A-Za-z0-9_]+",
    target=r"((match-(params|flops)-(layerwise|global)-of-)?(params|flops|share)\d+-(layerwise|global))",
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


# What the report reads (tables, figures, records): the same list ``snacs report`` uses.
MANIFEST = report_manifest(CFG)
# A control of a run lives inside the run's folder: same per-layer counts, another choice.
CONTROL_DIR = f"{RUN_DIR}/control-{{control}}"


def control_files(pattern):
    """``pattern`` expanded over every control of every configured run."""
    return [
        pattern.format(benchmark=b, method=m, target=t, seed=s, control=c)
        for b, m, t, s, c in CONTROL_RUNS
    ]


def prune_inputs(wildcards):
    inputs = {"dense": f"{R}/{wildcards.benchmark}/dense/best.pt"}
    if needs_activations(pruner_name(CFG, wildcards.method), CFG["pruner_modules"]):
        inputs["activations"] = f"{R}/{wildcards.benchmark}/activations.pt"
    if wildcards.target.startswith(MATCH_PREFIX):
        reference = RUN_DIR.format(
            benchmark=wildcards.benchmark,
            method=CFG["matched_budget"]["reference"],
            target=parse_matched_label(wildcards.target)[2],
            seed=wildcards.seed,
        )
        inputs["reference"] = f"{R}/pruned/{reference}/prune.json"
    return inputs


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
    inputs = {"data": f"{R}/{wildcards.benchmark}/data.json"}
    if CFG["benchmarks"][wildcards.benchmark]["dense"]["source"] == "pretrained":
        inputs["weights"] = f"{R}/{wildcards.benchmark}/weights.json"
    return inputs


def dense_minutes(wildcards):
    """Resources function: wall time of the dense job, from its recipe's epochs."""
    bench = CFG["benchmarks"][wildcards.benchmark]
    return training_minutes(bench, bench["dense"].get("recipe"))


def finetune_minutes(wildcards):
    bench = CFG["benchmarks"][wildcards.benchmark]
    return training_minutes(bench, bench["finetune"]["recipe"])


def output_folder(wildcards, output):
    """Params function: the folder of the rule's first output, where ``--out-dir`` writes."""
    return str(Path(output[0]).parent)


def optional_flag(flag, key):
    """Params function: ``flag path`` when the rule has input ``key``, else nothing."""
    return lambda wildcards, input: f"{flag} {input[key]}" if key in input.keys() else ""


# Side studies: switches, paths and inputs.
STUDIES = CFG["studies"]
S = f"{R}/studies"
PAPER = Path(workflow.basedir) / "paper_figures"
FORMATS = CFG["figures"]["formats"]


def study_figures(name):
    return [f"{R}/figures/{name}.{ext}" for ext in FORMATS]


if STUDIES["speed"]["enabled"]:
    SPEED_BENCHMARK = speed_benchmark(CFG)
    SPEED_SPEC = step_spec(CFG, SPEED_BENCHMARK, "activations")
    SPEED_WEIGHTS = weights_source(STUDIES["speed"]["weights"], SPEED_SPEC)


def speed_inputs(wildcards):
    if SPEED_WEIGHTS == "trained":
        return {
            "dense": f"{R}/{SPEED_BENCHMARK}/dense/best.pt",
            "activations": f"{R}/{SPEED_BENCHMARK}/activations.pt",
        }
    return {"data": f"{R}/{SPEED_BENCHMARK}/data.json"}
