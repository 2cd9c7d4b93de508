# Pruning (timed, alone on the machine), fine-tuning under fixed masks, evaluation.


# One job per benchmark, method and seed scores once and plans each of the method's
# targets (common.smk, PRUNE_RULES): every target's plan, scores and record are outputs of
# that job, so a lost one reruns it. Every core, so no other job disturbs the measured
# scoring time.
for prune_rule, prune_methods, prune_labels in PRUNE_RULES:

    rule:
        name:
            prune_rule
        conda:
            CONDA_ENV
        wildcard_constraints:
            method="|".join(prune_methods),
        input:
            unpack(prune_inputs),
        output:
            prune_outputs(prune_labels),
        params:
            spec=spec("prune"),
            activations=optional_flag("--activations-path", "activations"),
            targets=prune_target_flags(prune_labels),
        threads: CORES
        log:
            L.prune_log("{benchmark}", "{method}", "{seed}"),
        shell:
            "snacs --log {log} prune --spec {params.spec:q} --method {wildcards.method} "
            "--seed {wildcards.seed} --dense-checkpoint {input.dense} {params.activations} "
            "{params.targets} --threads {threads} --no-progress"


rule prune_matched:
    """A matched-budget run: pruned to what its reference run reached, so it waits for
    that run's record and scores on its own."""
    conda:
        CONDA_ENV
    wildcard_constraints:
        target=MATCHED_TARGET,
    input:
        unpack(matched_prune_inputs),
    output:
        plan=L.prune(RUN).plan,
        scores=L.prune(RUN).scores,
        summary=L.prune(RUN).record,
    params:
        spec=spec("prune"),
        activations=optional_flag("--activations-path", "activations"),
    threads: CORES
    log:
        L.log("prune", RUN.folder),
    shell:
        "snacs --log {log} prune --spec {params.spec:q} --method {wildcards.method} "
        "--targets {wildcards.target} --seed {wildcards.seed} --dense-checkpoint {input.dense} "
        "{params.activations} --reference {input.reference} --targets-plan {output.plan} "
        "--targets-scores {output.scores} --targets-record {output.summary} "
        "--threads {threads} --no-progress"


rule finetune:
    conda:
        CONDA_ENV
    wildcard_constraints:
        benchmark=unstacked_benchmark(),
    input:
        plan=L.prune(RUN).plan,
        dense=L.dense("{benchmark}").best,
    output:
        L.finetune(RUN).best,
    params:
        spec=spec("finetune"),
        train_dir=training_folder(lambda w: L.finetune(run_key(w))),
        launch=launcher,
    threads: TRAIN_THREADS
    resources:
        runtime=finetune_minutes,
    log:
        L.log("finetune", RUN.folder),
    shell:
        "{params.launch} --log {log} finetune --spec {params.spec:q} --plan-path {input.plan} "
        "--dense-checkpoint {input.dense} --seed {wildcards.seed} --out-dir {params.train_dir} "
        "--threads {threads} --no-progress"


# With stack_k > 1, each benchmark's runs of one seed fine-tune K at a time as one stacked
# model: one job per chunk writes every member's own training folder. A member reruns on
# its own: delete its folder and rerun the target; the others are read back, not retrained.
for stack_name, stack_benchmark, stack_seed, stack_runs in STACKS:

    rule:
        name:
            stack_name
        conda:
            CONDA_ENV
        input:
            plans=[L.prune(run).plan for run in stack_runs],
            dense=L.dense(stack_benchmark).best,
        output:
            [L.finetune(run).best for run in stack_runs],
        params:
            spec=json.dumps(step_spec(CFG, stack_benchmark, "finetune"), sort_keys=True),
            seed=stack_seed,
            plans=" ".join(L.prune(run).plan for run in stack_runs),
            folders=" ".join(str(L.finetune(run).folder) for run in stack_runs),
        threads: TRAIN_THREADS
        resources:
            runtime=stack_minutes(stack_benchmark, stack_runs),
        log:
            L.log("finetune", f"{stack_benchmark}/{stack_name}"),
        shell:
            "snacs --log {log} finetune-stack --spec {params.spec:q} "
            "--members-dense-checkpoint {input.dense} --members-seed {params.seed} "
            "--members-plan {params.plans} --members-out-dir {params.folders} "
            "--threads {threads} --no-progress"


rule dense_reference:
    """The dense model fine-tuned with the pruners' recipe: the "dense (fine-tuned)" row."""
    conda:
        CONDA_ENV
    input:
        dense=L.dense("{benchmark}").best,
        summary=L.dense_record("{benchmark}"),
    output:
        checkpoint=L.reference("{benchmark}", "{seed}").best,
        record=L.reference_record("{benchmark}", "{seed}"),
    params:
        spec=spec("finetune"),
        train_dir=training_folder(lambda w: L.reference(w.benchmark, w.seed)),
    threads: TRAIN_THREADS
    resources:
        runtime=finetune_minutes,
    log:
        L.log("reference", "{benchmark}/seed{seed}"),
    shell:
        "snacs --log {log} reference --spec {params.spec:q} --dense-checkpoint {input.dense} "
        "--dense-json {input.summary} --seed {wildcards.seed} --out-dir {params.train_dir} "
        "--out {output.record} --threads {threads} --no-progress"


rule oneshot:
    """Every run of a benchmark right after pruning, and the dense model, in one process."""
    conda:
        CONDA_ENV
    input:
        unpack(one_shot_inputs),
    output:
        L.one_shot("{benchmark}"),
    params:
        spec=spec("evaluate"),
    threads: TRAIN_THREADS
    log:
        L.log("oneshot", "{benchmark}"),
    shell:
        "snacs --log {log} oneshot --spec {params.spec:q} --dense-checkpoint {input.dense} "
        "--jobs-plan {input.plans} --jobs-prune-record {input.records} --out {output} "
        "--threads {threads}"


rule evaluate:
    conda:
        CONDA_ENV
    input:
        plan=L.prune(RUN).plan,
        prune=L.prune(RUN).record,
        finetuned=L.finetune(RUN).best,
        dense=L.dense_record("{benchmark}"),
        one_shot=L.one_shot("{benchmark}"),
    output:
        metrics=L.run_record(RUN),
        slim=L.slim_model(RUN),
    params:
        spec=spec("evaluate"),
        export=lambda w, output: f"--slim-out {output.slim}",
    threads: TRAIN_THREADS
    log:
        L.log("evaluate", RUN.folder),
    shell:
        "snacs --log {log} evaluate --spec {params.spec:q} --plan-path {input.plan} "
        "--prune-json {input.prune} --finetuned-checkpoint {input.finetuned} "
        "--dense-json {input.dense} "
        "--one-shot {input.one_shot} --out {output.metrics} {params.export} "
        "--threads {threads}"


# Controls: the run's per-layer counts chosen at random, by magnitude, or by the inverted
# ranking; fine-tuned and evaluated by the same functions as the run, in one job per
# control (a control's steps are small; three processes would cost more than the work).
rule control:
    conda:
        CONDA_ENV
    input:
        plan=L.prune(RUN).plan,
        scores=L.prune(RUN).scores,
        summary=L.prune(RUN).record,
        dense=L.dense("{benchmark}").best,
        dense_summary=L.dense_record("{benchmark}"),
        one_shot=L.one_shot("{benchmark}"),
    output:
        plan=L.prune(CONTROL).plan,
        summary=L.prune(CONTROL).record,
        finetuned=L.finetune(CONTROL).best,
        metrics=L.run_record(CONTROL),
    params:
        spec=spec("control"),
        train_dir=training_folder(lambda w: L.finetune(run_key(w))),
    threads: TRAIN_THREADS
    resources:
        runtime=finetune_minutes,
    log:
        L.log("control", CONTROL.folder),
    shell:
        "snacs --log {log} control --spec {params.spec:q} --run-files-plan {input.plan} "
        "--run-files-scores {input.scores} --run-files-record {input.summary} "
        "--label {wildcards.control} --dense-checkpoint {input.dense} "
        "--dense-json {input.dense_summary} --out-plan {output.plan} "
        "--out-record {output.summary} --train-dir {params.train_dir} "
        "--metrics-out {output.metrics} --one-shot {input.one_shot} --threads {threads} "
        "--no-progress"
