# The paper's side studies (spec §9.2-§9.4): scoring speed of one layer pair, estimator
# accuracy on Gaussian data, compression per layer. Each measurement writes a raw CSV once;
# its tables and figures are separate rules, so they are rebuilt without measuring again.
from pathlib import Path

from snacs.config import methods_for
from snacs.studies.speed import speed_benchmark, weights_source

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

    SPEED_WHOLE = STUDIES["speed"]["whole"]["enabled"]

    rule speed:
        input:
            unpack(speed_inputs),
        output:
            pair=f"{S}/speed.csv",
            whole=[f"{S}/speed_whole.csv"] if SPEED_WHOLE else [],
        params:
            spec=json.dumps({"study": STUDIES["speed"], "benchmark": SPEED_SPEC}, sort_keys=True),
            dense=optional_flag("--dense", "dense"),
            activations=optional_flag("--activations", "activations"),
            whole=f"--whole-out {S}/speed_whole.csv" if SPEED_WHOLE else "",
        # Every core, so no other job disturbs the measured times.
        threads: workflow.cores
        log:
            f"{R}/logs/studies/speed.log",
        shell:
            "snacs speed --spec {params.spec:q} {params.dense} {params.activations} "
            "--out {output.pair} {params.whole} --threads {threads} --no-progress > {log} 2>&1"

    rule speed_report:
        input:
            raw=f"{S}/speed.csv",
            paper=PAPER / "speed_paper.csv",
            whole=[f"{S}/speed_whole.csv"] if SPEED_WHOLE else [],
        output:
            tables=multiext(f"{S}/speed", "_summary.csv", ".md", ".tex"),
            whole=multiext(f"{S}/speed_whole", "_summary.csv", ".md") if SPEED_WHOLE else [],
            figures=study_figures("speed"),
        params:
            out_dir=S,
            whole=f"--whole-raw {S}/speed_whole.csv" if SPEED_WHOLE else "",
        log:
            f"{R}/logs/studies/speed_report.log",
        shell:
            "snacs speed-report --raw {input.raw} --paper {input.paper} {params.whole} "
            "--out-dir {params.out_dir} --figure {output.figures} > {log} 2>&1"


if STUDIES["estimator"]["enabled"]:

    rule estimator_accuracy:
        output:
            f"{S}/estimator_accuracy.csv",
        params:
            spec=json.dumps({"study": STUDIES["estimator"]}, sort_keys=True),
        threads: TRAIN_THREADS
        log:
            f"{R}/logs/studies/estimator_accuracy.log",
        shell:
            "snacs estimator-accuracy --spec {params.spec:q} --out {output} "
            "--threads {threads} --no-progress > {log} 2>&1"

    rule estimator_report:
        input:
            raw=f"{S}/estimator_accuracy.csv",
            paper=PAPER / "estimator_accuracy_paper.csv",
        output:
            tables=multiext(f"{S}/estimator", "_summary.csv", ".md", ".tex"),
            figures=study_figures("estimator_accuracy"),
        params:
            out_dir=S,
        log:
            f"{R}/logs/studies/estimator_report.log",
        shell:
            "snacs estimator-report --raw {input.raw} --paper {input.paper} "
            "--out-dir {params.out_dir} --figure {output.figures} > {log} 2>&1"


LAYER_METHODS = [m for m in STUDIES["layer_compression"]["methods"] if m in CFG["methods"]]
LAYER_BENCHMARKS = (
    [b for b in BENCHMARKS if set(methods_for(CFG, b)) & set(LAYER_METHODS)]
    if STUDIES["layer_compression"]["enabled"]
    else []
)


def layer_runs(wildcards, name):
    """``name`` (prune.json or plan.pt) of every run of the compared methods on a benchmark."""
    return [
        f"{R}/pruned/{RUN_DIR.format(benchmark=b, method=m, target=t, seed=s)}/{name}"
        for b, m, t, s in RUNS
        if b == wildcards.benchmark and m in LAYER_METHODS
    ]


rule layer_compression:
    input:
        prune=lambda w: layer_runs(w, "prune.json"),
        plans=lambda w: layer_runs(w, "plan.pt"),
        selected=f"{R}/tables/selected.csv",
        dense=f"{R}/{{benchmark}}/dense/dense.json",
        paper=PAPER / "layer_compression_paper.csv",
    output:
        table=f"{S}/{{benchmark}}_layer_compression.csv",
        figures=expand(f"{R}/figures/{{{{benchmark}}}}_layer_compression.{{ext}}", ext=FORMATS),
    params:
        methods=" ".join(LAYER_METHODS),
    log:
        f"{R}/logs/studies/{{benchmark}}_layer_compression.log",
    shell:
        "snacs layer-compression --prune-json {input.prune} --selected {input.selected} "
        "--dense-json {input.dense} --methods {params.methods} --paper {input.paper} "
        "--out-csv {output.table} --figure {output.figures} > {log} 2>&1"
