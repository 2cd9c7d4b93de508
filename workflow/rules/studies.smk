# The paper's side studies: scoring speed of one layer pair, estimator accuracy on Gaussian
# data, compression per layer. Each measurement writes a raw CSV once; its tables and
# figures are separate rules, so they are rebuilt without measuring again.


if STUDIES["speed"]["enabled"]:
    SPEED_WHOLE = STUDIES["speed"]["whole"]["enabled"]

    rule speed:
        conda:
            CONDA_ENV
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
        threads: CORES
        resources:
            runtime=speed_study_minutes(STUDIES["speed"]),
        log:
            f"{R}/logs/studies/speed.log",
        shell:
            "snacs speed --spec {params.spec:q} {params.dense} {params.activations} "
            "--out {output.pair} {params.whole} --threads {threads} --no-progress > {log} 2>&1"

    rule speed_report:
        conda:
            CONDA_ENV
        input:
            raw=f"{S}/speed.csv",
            paper=PAPER / "speed_paper.csv",
            whole=[f"{S}/speed_whole.csv"] if SPEED_WHOLE else [],
        output:
            tables=for_report(
                multiext(f"{S}/speed", "_summary.csv", ".md", ".tex"), "speed.rst", "Speed study"
            ),
            figures=for_report(study_figures("speed"), "speed.rst", "Speed study"),
            whole=for_report(
                multiext(f"{S}/speed_whole", "_summary.csv", ".md") if SPEED_WHOLE else [],
                "speed.rst",
                "Speed study",
            ),
        params:
            out_dir=output_folder,
            whole=f"--whole-raw {S}/speed_whole.csv" if SPEED_WHOLE else "",
        log:
            f"{R}/logs/studies/speed_report.log",
        shell:
            "snacs speed-report --raw {input.raw} --paper {input.paper} {params.whole} "
            "--out-dir {params.out_dir} --figure {output.figures} > {log} 2>&1"


if STUDIES["estimator"]["enabled"]:

    rule estimator_accuracy:
        conda:
            CONDA_ENV
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
        conda:
            CONDA_ENV
        input:
            raw=f"{S}/estimator_accuracy.csv",
            paper=PAPER / "estimator_accuracy_paper.csv",
        output:
            tables=for_report(
                multiext(f"{S}/estimator", "_summary.csv", ".md", ".tex"),
                "estimator.rst",
                "Estimator accuracy",
            ),
            figures=for_report(
                study_figures("estimator_accuracy"), "estimator.rst", "Estimator accuracy"
            ),
        params:
            out_dir=output_folder,
        log:
            f"{R}/logs/studies/estimator_report.log",
        shell:
            "snacs estimator-report --raw {input.raw} --paper {input.paper} "
            "--out-dir {params.out_dir} --figure {output.figures} > {log} 2>&1"


rule layer_compression:
    conda:
        CONDA_ENV
    input:
        prune=lambda w: MANIFEST.prune_records_by_benchmark[w.benchmark],
        selected=f"{R}/tables/selected.csv",
        dense=f"{R}/{{benchmark}}/dense/dense.json",
        paper=PAPER / "layer_compression_paper.csv",
    output:
        table=f"{S}/{{benchmark}}_layer_compression.csv",
        figures=for_report(
            expand(f"{R}/figures/{{{{benchmark}}}}_layer_compression.{{ext}}", ext=FORMATS),
            "layer_compression.rst",
            "Compression per layer",
            "{benchmark}",
        ),
    params:
        methods=" ".join(MANIFEST.layer_methods),
    log:
        f"{R}/logs/studies/{{benchmark}}_layer_compression.log",
    shell:
        "snacs layer-compression --prune-json {input.prune} --selected {input.selected} "
        "--dense-json {input.dense} --methods {params.methods} --paper {input.paper} "
        "--out-csv {output.table} --figure {output.figures} > {log} 2>&1"
