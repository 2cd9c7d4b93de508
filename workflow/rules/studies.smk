# The paper's side studies: scoring speed of one layer pair, estimator accuracy on Gaussian
# data, compression per layer. Each measurement writes a raw CSV once; its tables and
# figures are separate rules, so they are rebuilt without measuring again.


if STUDIES["speed"]["enabled"]:
    SPEED_WHOLE = STUDIES["speed"]["whole"]["enabled"]
    SPEED = L.speed

    rule speed:
        conda:
            CONDA_ENV
        input:
            unpack(speed_inputs),
        output:
            pair=SPEED.raw,
            whole=[SPEED.whole_raw] if SPEED_WHOLE else [],
        params:
            spec=json.dumps({"study": STUDIES["speed"], "benchmark": SPEED_SPEC}, sort_keys=True),
            dense=optional_flag("--dense", "dense"),
            activations=optional_flag("--activations", "activations"),
            whole=f"--whole-out {SPEED.whole_raw}" if SPEED_WHOLE else "",
        # Every core, so no other job disturbs the measured times.
        threads: CORES
        resources:
            runtime=speed_study_minutes(STUDIES["speed"]),
        log:
            L.log("studies", "speed"),
        shell:
            "snacs --log {log} speed --spec {params.spec:q} {params.dense} {params.activations} "
            "--out {output.pair} {params.whole} --threads {threads} --no-progress"

    rule speed_report:
        conda:
            CONDA_ENV
        input:
            raw=SPEED.raw,
            paper=PAPER / "speed_paper.csv",
            whole=[SPEED.whole_raw] if SPEED_WHOLE else [],
        output:
            tables=for_report(SPEED.tables.files, "speed.rst", "Speed study"),
            figures=for_report(in_formats(L.speed_figure), "speed.rst", "Speed study"),
            whole=for_report(
                SPEED.whole_tables.files if SPEED_WHOLE else [], "speed.rst", "Speed study"
            ),
        params:
            tables=f"--tables-summary {SPEED.tables.summary} "
            f"--tables-markdown {SPEED.tables.markdown} --tables-latex {SPEED.tables.latex}",
            whole=(
                f"--whole-raw {SPEED.whole_raw} "
                f"--whole-tables-summary {SPEED.whole_tables.summary} "
                f"--whole-tables-markdown {SPEED.whole_tables.markdown}"
                if SPEED_WHOLE
                else ""
            ),
        log:
            L.log("studies", "speed_report"),
        shell:
            "snacs --log {log} speed-report --raw {input.raw} --paper {input.paper} "
            "{params.whole} {params.tables} --figure {output.figures}"


if STUDIES["estimator"]["enabled"]:
    ESTIMATOR = L.estimator

    rule estimator_accuracy:
        conda:
            CONDA_ENV
        output:
            ESTIMATOR.raw,
        params:
            spec=json.dumps({"study": STUDIES["estimator"]}, sort_keys=True),
        threads: TRAIN_THREADS
        log:
            L.log("studies", "estimator_accuracy"),
        shell:
            "snacs --log {log} estimator-accuracy --spec {params.spec:q} --out {output} "
            "--threads {threads} --no-progress"

    rule estimator_report:
        conda:
            CONDA_ENV
        input:
            raw=ESTIMATOR.raw,
            paper=PAPER / "estimator_accuracy_paper.csv",
        output:
            tables=for_report(ESTIMATOR.tables.files, "estimator.rst", "Estimator accuracy"),
            figures=for_report(
                in_formats(L.estimator_figure), "estimator.rst", "Estimator accuracy"
            ),
        params:
            tables=f"--tables-summary {ESTIMATOR.tables.summary} "
            f"--tables-markdown {ESTIMATOR.tables.markdown} "
            f"--tables-latex {ESTIMATOR.tables.latex}",
        log:
            L.log("studies", "estimator_report"),
        shell:
            "snacs --log {log} estimator-report --raw {input.raw} --paper {input.paper} "
            "{params.tables} --figure {output.figures}"


rule layer_compression:
    conda:
        CONDA_ENV
    input:
        prune=lambda w: MANIFEST.prune_records_by_benchmark[w.benchmark],
        selected=L.table("selected"),
        dense=L.dense_record("{benchmark}"),
        paper=PAPER / "layer_compression_paper.csv",
    output:
        table=L.layer_compression("{benchmark}"),
        figures=for_report(
            in_formats(partial(L.layer_figure, "{benchmark}")),
            "layer_compression.rst",
            "Compression per layer",
            "{benchmark}",
        ),
    params:
        methods=" ".join(MANIFEST.layer_methods),
    log:
        L.log("studies", "{benchmark}_layer_compression"),
    shell:
        "snacs --log {log} layer-compression --prune-json {input.prune} "
        "--selected {input.selected} --dense-json {input.dense} --methods {params.methods} "
        "--paper {input.paper} --out-csv {output.table} --figure {output.figures}"
