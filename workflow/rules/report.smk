# Tables, figures and the HTML report: cheap, rebuilt from result files only.


rule tables:
    conda:
        CONDA_ENV
    input:
        results=run_files(f"{R}/metrics/{RUN_DIR}.json")
        + control_files(f"{R}/metrics/{CONTROL_DIR}.json"),
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
        run_files(f"{R}/pruned/{RUN_DIR}/prune.json"),
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


rule all:
    conda:
        CONDA_ENV
    input:
        unpack(report_inputs),
    output:
        report=f"{R}/all",
        # The same page under a name browsers open as HTML from the file system.
        html=report(f"{R}/report.html", caption="../report/report_html.rst", category="Report"),
    params:
        config=json.dumps(CFG, sort_keys=True),
        studies=report_flags,
    log:
        f"{R}/logs/all.log",
    shell:
        "snacs report --config-json {params.config:q} --summary {input.summary} "
        "--selected {input.selected} --reported {input.reported} --timings {input.timings} "
        "--figures {input.figures} --layer-figures {input.layer_figures} "
        "--dense-json {input.dense} {params.studies} --out {output.report} > {log} 2>&1 "
        "&& cp {output.report} {output.html}"
