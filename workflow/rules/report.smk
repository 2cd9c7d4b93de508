# Tables, figures and the HTML report: cheap, rebuilt from result files only.


rule tables:
    conda:
        CONDA_ENV
    input:
        results=MANIFEST.run_records,
        published=PAPER / "published_results.csv",
    output:
        for_report(L.table_files("main"), "main_table.rst", "Tables"),
        for_report(L.table_files("selected"), "selected_table.rst", "Tables"),
        L.table_files("reported"),
    params:
        stems=" ".join(
            f"--tables-{name} {getattr(L.run_tables, name)}"
            for name in ("main", "selected", "reported")
        ),
        tolerance=CFG["selection"]["tolerance_pp"],
        compression=CFG["selection"]["compression"],
    log:
        L.log("tables"),
    shell:
        "snacs --log {log} tables --results {input.results} --published {input.published} "
        "{params.stems} --tolerance-pp {params.tolerance} --compression {params.compression}"


rule timings:
    conda:
        CONDA_ENV
    input:
        MANIFEST.prune_records,
    output:
        for_report(L.table_files("timings"), "timings_table.rst", "Tables"),
    params:
        # the tables' common stem: the outputs without their extension
        stem=lambda wildcards, output: Path(output[0]).with_suffix(""),
    log:
        L.log("timings"),
    shell:
        "snacs --log {log} timings --prune-json {input} --stem {params.stem}"


rule figure:
    conda:
        CONDA_ENV
    input:
        L.table("main"),
    output:
        for_report(
            in_formats(partial(L.accuracy_figure, "{benchmark}")),
            "accuracy_vs_flops.rst",
            "Accuracy vs FLOPs",
            "{benchmark}",
        ),
    log:
        L.log("figures", "{benchmark}"),
    shell:
        "snacs --log {log} figures --summary-csv {input} --benchmark {wildcards.benchmark} "
        "--out {output}"


rule claims:
    conda:
        CONDA_ENV
    input:
        tables=[MANIFEST.table(name) for name in ("main", "selected")],
        records=MANIFEST.prune_records,
        studies=[
            f
            for f in (
                MANIFEST.speed_raw,
                MANIFEST.whole_speed_summary,
                MANIFEST.estimator_summary,
            )
            if f is not None
        ],
        published=PAPER / "published_results.csv",
        paper_speed=PAPER / "speed_paper.csv",
    output:
        for_report(L.table_files("claims"), "claims_table.rst", "Tables"),
    params:
        config=json.dumps(CFG, sort_keys=True),
    log:
        L.log("claims"),
    shell:
        "snacs --log {log} claims --config-json {params.config:q} --published {input.published} "
        "--paper-speed {input.paper_speed}"


rule all:
    conda:
        CONDA_ENV
    input:
        unpack(lambda wildcards: MANIFEST.inputs()),
        steps=STEP_OUTPUTS,
    output:
        report=L.report_page,
        # The same page under a name browsers open as HTML from the file system.
        html=report(L.report_html, caption="../report/report_html.rst", category="Report"),
    params:
        config=json.dumps(CFG, sort_keys=True),
    log:
        L.log("all"),
    shell:
        "snacs --log {log} report --config-json {params.config:q} --out {output.report} "
        "&& cp {output.report} {output.html}"
