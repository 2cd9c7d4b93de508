# Pruning (timed, alone on the machine), fine-tuning under fixed masks, evaluation.


rule prune:
    conda:
        CONDA_ENV
    input:
        unpack(prune_inputs),
    output:
        plan=f"{R}/pruned/{RUN_DIR}/plan.pt",
        scores=f"{R}/pruned/{RUN_DIR}/scores.pt",
        summary=f"{R}/pruned/{RUN_DIR}/prune.json",
    params:
        spec=spec("prune"),
        out=lambda w: f"{R}/pruned/{RUN_DIR.format(**w)}",
        activations=optional_flag("--activations", "activations"),
        reference=optional_flag("--reference", "reference"),
    # Every core, so no other job disturbs the measured scoring time.
    threads: CORES
    log:
        f"{R}/logs/prune/{RUN_DIR}.log",
    shell:
        "snacs prune --spec {params.spec:q} --method {wildcards.method} "
        "--target {wildcards.target} --seed {wildcards.seed} --dense {input.dense} "
        "{params.activations} {params.reference} --out {params.out} --threads {threads} --no-progress "
        "> {log} 2>&1"


rule finetune:
    conda:
        CONDA_ENV
    input:
        plan=f"{R}/pruned/{RUN_DIR}/plan.pt",
        dense=f"{R}/{{benchmark}}/dense/best.pt",
    output:
        f"{R}/finetuned/{RUN_DIR}/best.pt",
    params:
        spec=spec("finetune"),
        out=lambda w: f"{R}/finetuned/{RUN_DIR.format(**w)}",
        launch=launcher,
    threads: TRAIN_THREADS
    resources:
        runtime=finetune_minutes,
    log:
        f"{R}/logs/finetune/{RUN_DIR}.log",
    shell:
        "{params.launch} finetune --spec {params.spec:q} --plan {input.plan} --dense {input.dense} "
        "--seed {wildcards.seed} --out {params.out} --threads {threads} --no-progress "
        "> {log} 2>&1"


rule dense_reference:
    """The dense model fine-tuned with the pruners' recipe: the "dense (fine-tuned)" row."""
    conda:
        CONDA_ENV
    input:
        dense=f"{R}/{{benchmark}}/dense/best.pt",
        summary=f"{R}/{{benchmark}}/dense/dense.json",
    output:
        checkpoint=f"{R}/reference/{{benchmark}}/seed{{seed}}/best.pt",
        record=f"{R}/reference/{{benchmark}}/seed{{seed}}/dense_finetuned.json",
    params:
        spec=spec("finetune"),
        out=lambda w: f"{R}/reference/{w.benchmark}/seed{w.seed}",
    threads: TRAIN_THREADS
    resources:
        runtime=finetune_minutes,
    log:
        f"{R}/logs/reference/{{benchmark}}/seed{{seed}}.log",
    shell:
        "snacs reference --spec {params.spec:q} --dense {input.dense} "
        "--dense-json {input.summary} --seed {wildcards.seed} --out-dir {params.out} "
        "--out {output.record} --threads {threads} --no-progress > {log} 2>&1"


rule evaluate:
    conda:
        CONDA_ENV
    input:
        plan=f"{R}/pruned/{RUN_DIR}/plan.pt",
        prune=f"{R}/pruned/{RUN_DIR}/prune.json",
        finetuned=f"{R}/finetuned/{RUN_DIR}/best.pt",
        dense=f"{R}/{{benchmark}}/dense/dense.json",
        dense_checkpoint=f"{R}/{{benchmark}}/dense/best.pt",
    output:
        metrics=f"{R}/metrics/{RUN_DIR}.json",
        slim=f"{R}/slim/{RUN_DIR}.pt2",
    params:
        spec=spec("evaluate"),
        export=lambda w, output: f"--slim-out {output.slim}",
    threads: TRAIN_THREADS
    log:
        f"{R}/logs/evaluate/{RUN_DIR}.log",
    shell:
        "snacs evaluate --spec {params.spec:q} --plan {input.plan} --prune-json {input.prune} "
        "--finetuned {input.finetuned} --dense-json {input.dense} "
        "--dense {input.dense_checkpoint} --out {output.metrics} {params.export} "
        "--threads {threads} > {log} 2>&1"


# Controls: the run's per-layer counts chosen at random, by magnitude, or by the inverted
# ranking; fine-tuned and evaluated by the same rules as the run.
rule control:
    conda:
        CONDA_ENV
    input:
        plan=f"{R}/pruned/{RUN_DIR}/plan.pt",
        scores=f"{R}/pruned/{RUN_DIR}/scores.pt",
        summary=f"{R}/pruned/{RUN_DIR}/prune.json",
        dense=f"{R}/{{benchmark}}/dense/best.pt",
    output:
        plan=f"{R}/pruned/{CONTROL_DIR}/plan.pt",
        summary=f"{R}/pruned/{CONTROL_DIR}/prune.json",
    params:
        spec=spec("control"),
        run=lambda w: f"{R}/pruned/{RUN_DIR.format(**w)}",
        out=lambda w: f"{R}/pruned/{CONTROL_DIR.format(**w)}",
    log:
        f"{R}/logs/control/{CONTROL_DIR}.log",
    shell:
        "snacs control --spec {params.spec:q} --run {params.run} --control {wildcards.control} "
        "--dense {input.dense} --out {params.out} > {log} 2>&1"


use rule finetune as control_finetune with:
    input:
        plan=f"{R}/pruned/{CONTROL_DIR}/plan.pt",
        dense=f"{R}/{{benchmark}}/dense/best.pt",
    output:
        f"{R}/finetuned/{CONTROL_DIR}/best.pt",
    params:
        spec=spec("finetune"),
        out=lambda w: f"{R}/finetuned/{CONTROL_DIR.format(**w)}",
        launch=launcher,
    log:
        f"{R}/logs/finetune/{CONTROL_DIR}.log",


use rule evaluate as control_evaluate with:
    input:
        plan=f"{R}/pruned/{CONTROL_DIR}/plan.pt",
        prune=f"{R}/pruned/{CONTROL_DIR}/prune.json",
        finetuned=f"{R}/finetuned/{CONTROL_DIR}/best.pt",
        dense=f"{R}/{{benchmark}}/dense/dense.json",
        dense_checkpoint=f"{R}/{{benchmark}}/dense/best.pt",
    output:
        metrics=f"{R}/metrics/{CONTROL_DIR}.json",
    # A control is a yardstick, not a model to deploy: no slim export (seconds per run).
    params:
        spec=spec("evaluate"),
        export="",
    log:
        f"{R}/logs/evaluate/{CONTROL_DIR}.log",
