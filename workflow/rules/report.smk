# Tables, figures and the HTML report: cheap, rebuilt from result files only.


rule tables:
    input:
        run_files(f"{R}/metrics/{RUN_DIR}.json"),
    output:
        multiext(f"{R}/tables/main", ".csv", ".md"),
        multiext(f"{R}/tables/selected", ".csv", ".md"),
    params:
        out_dir=f"{R}/tables",
        tolerance=CFG["selection"]["tolerance_pp"],
        compression=CFG["selection"]["compression"],
    log:
        f"{R}/logs/tables.log",
    shell:
        "snacs tables --results {input} --out-dir {params.out_dir} "
        "--tolerance-pp {params.tolerance} --compression {params.compression} > {log} 2>&1"


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


rule all:
    default_target: True
    input:
        summary=f"{R}/tables/main.csv",
        markdown=f"{R}/tables/main.md",
        selected=f"{R}/tables/selected.csv",
        figures=expand(
            f"{R}/figures/{{benchmark}}_acc_vs_flops.{{ext}}",
            benchmark=BENCHMARKS,
            ext=CFG["figures"]["formats"],
        ),
        dense=expand(f"{R}/{{benchmark}}/dense/dense.json", benchmark=BENCHMARKS),
    output:
        f"{R}/all",
    params:
        config=json.dumps(CFG, sort_keys=True),
    log:
        f"{R}/logs/all.log",
    shell:
        "snacs report --config-json {params.config:q} --summary {input.summary} "
        "--selected {input.selected} "
        "--figures {input.figures} --dense-json {input.dense} --out {output} > {log} 2>&1"
