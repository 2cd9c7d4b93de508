# Tables, figures and the HTML report: cheap, rebuilt from result files only.


rule tables:
    conda:
        CONDA_ENV
    input:
        results=MANIFEST.run_records,
        published=PAPER / "published_results.csv",
    output:
        for_report(multiext(f"{R}/tables/main", ".csv", ".md", ".tex"), "main_table.rst", "Tables"),
        for_report(
            multiext(f"{R}/tables/selected", ".csv", ".md", ".tex"), "selected_table.rst", "Tables"
        ),
        multiext(f"{R}/tables/reported", ".csv", ".md", ".tex"),
    params:
        out_dir=output_folder,
        tolerance=CFG["selection"]["tolerance_pp"],
        compression=CFG["selection"]["compression"],
    log:
        f"{R}/logs/tables.log",
    shell:
        "snacs tables --results {input.results} --published {input.published} "
        "--out-dir {params.out_dir} --tolerance-pp {params.tolerance} "
        "--compression {params.compression} > {log} 2>&1"


rule timings:
    conda:
        CONDA_ENV
    input:
        MANIFEST.prune_records,
    output:
        for_report(
            multiext(f"{R}/tables/timings", ".csv", ".md", ".tex"), "timings_table.rst", "Tables"
        ),
    params:
        out_dir=output_folder,
    log:
        f"{R}/logs/timings.log",
    shell:
        "snacs timings --prune-json {input} --out-dir {params.out_dir} > {log} 2>&1"


rule figure:
    conda:
        CONDA_ENV
    input:
        f"{R}/tables/main.csv",
    output:
        for_report(
            expand(f"{R}/figures/{{{{benchmark}}}}_acc_vs_flops.{{ext}}", ext=FORMATS),
            "accuracy_vs_flops.rst",
            "Accuracy vs FLOPs",
            "{benchmark}",
        ),
    log:
        f"{R}/logs/figures/{{benchmark}}.log",
    shell:
        "snacs figures --summary {input} --benchmark {wildcards.benchmark} --out {output} "
        "> {log} 2>&1"


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
        for_report(multiext(f"{R}/tables/claims", ".csv", ".md"), "claims_table.rst", "Tables"),
    params:
        config=json.dumps(CFG, sort_keys=True),
    log:
        f"{R}/logs/claims.log",
    shell:
        "snacs claims --config-json {params.config:q} --published {input.published} "
        "--paper-speed {input.paper_speed} > {log} 2>&1"


rule all:
    conda:
        CONDA_ENV
    input:
        unpack(lambda wildcards: MANIFEST.inputs()),
    output:
        report=f"{R}/all",
        # The same page under a name browsers open as HTML from the file system.
        html=report(f"{R}/report.html", caption="../report/report_html.rst", category="Report"),
    params:
        config=json.dumps(CFG, sort_keys=True),
    log:
        f"{R}/logs/all.log",
    shell:
        "snacs report --config-json {params.config:q} --out {output.report} > {log} 2>&1 "
        "&& cp {output.report} {output.html}"
