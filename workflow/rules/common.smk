# Shared helpers: the validated config, result paths, and the JSON spec each step reads.
import json

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
from snakemake.exceptions import WorkflowError

# Every name and option is checked here, before any job runs; a mistake is one message.
try:
    CFG = validate_config(config)
except SnacsError as error:
    raise WorkflowError(str(error)) from None
R = CFG["results_dir"]
RUNS = runs(CFG)
CONTROL_RUNS = control_runs(CFG)
BENCHMARKS = list(CFG["benchmarks"])
# Half the cores per training job, so two jobs overlap their single-threaded start-up.
TRAIN_THREADS = max(1, min(4, workflow.cores // 2))


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


RUN_DIR = "{benchmark}/{method}/{target}/seed{seed}"
# A control of a run lives inside the run's folder: same per-layer counts, another choice.
CONTROL_DIR = RUN_DIR + "/control-{control}"


REFERENCE_RECORDS = [
    f"{R}/reference/{benchmark}/seed{seed}/dense_finetuned.json"
    for benchmark in BENCHMARKS
    for seed in CFG["seeds"]
]
"""The "dense (fine-tuned)" reference record of every benchmark and seed."""


def run_files(pattern):
    """``pattern`` expanded over every configured run."""
    return [
        pattern.format(benchmark=b, method=m, target=t, seed=s) for b, m, t, s in RUNS
    ]


def control_files(pattern):
    """``pattern`` expanded over every control of every configured run."""
    return [
        pattern.format(benchmark=b, method=m, target=t, seed=s, control=c)
        for b, m, t, s, c in CONTROL_RUNS
    ]
