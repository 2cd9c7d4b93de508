# Tables, figures and the HTML report: cheap, rebuilt from result files only.


rule tables:
    input:
        results=MANIFEST.run_records,
        published=PAPER / "published_results.csv",
    output:
        multiext(f"{R}/tables/main", ".csv", ".md", ".tex"),
        multiext(f"{R}/tables/selected", ".csv", ".md", ".tex"),
        multiext(f"{R}/tables/reported", ".csv", ".md", ".tex"),
    params:
        out_dir=f"{R}/tables",
        tolerance=CFG["selection"]["tolerance_pp"],
        compression=CFG["selection"]["compression"],
    log:
        f"{R}/logs/tables.log",
    shell:
        "snacs tables --results {input.results} --published {input.published} "
        "--out-dir {params.out_dir} --tolerance-pp {params.tolerance} "
        "--compression {params.compression} > {log} 2>&1"


rule timings:
    input:
        MANIFEST.prune_records,
    output:
        multiext(f"{R}/tables/timings", ".csv", ".md", ".tex"),
    params:
        out_dir=f"{R}/tables",
    log:
        f"{R}/logs/timings.log",
    shell:
        "snacs timings --prune-json {input} --out-dir {params.out_dir} > {log} 2>&1"


rule figure:
    input:
        f"{R}/tables/main.csv",
    output:
        expand(f"{R}/figures/{{{{benchmark}}}}_acc_vs_flops.{{ext}}", ext=CFG["figures"]["formats"]),
    log:
        f"{R}/logs/figures/{{benchmark}}.log",
    shell:
        "snacs figures --summary {input} --benchmark {wildcards.benchmark} --out {output} "
        "> {log} 2>&1"


rule claims:
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
        multiext(f"{R}/tables/claims", ".csv", ".md"),
    params:
        config=json.dumps(CFG, sort_keys=True),
    log:
        f"{R}/logs/claims.log",
    shell:
        "snacs claims --config-json {params.config:q} --published {input.published} "
        "--paper-speed {input.paper_speed} > {log} 2>&1"


rule all:
    default_target: True
    input:
        unpack(lambda wildcards: MANIFEST.inputs()),
    output:
        report=f"{R}/all",
        # The same page under a name browsers open as HTML from the file system.
        html=f"{R}/report.html",
    params:
        config=json.dumps(CFG, sort_keys=True),
    log:
        f"{R}/logs/all.log",
    shell:
        "snacs report --config-json {params.config:q} --out {output.report} > {log} 2>&1 "
        "&& cp {output.report} {output.html}"
