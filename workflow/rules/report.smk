# Tables, figures and the HTML report: cheap, rebuilt from result files only.


rule tables:
    input:
        results=run_files(f"{R}/metrics/{RUN_DIR}.json")
        + control_files(f"{R}/metrics/{CONTROL_DIR}.json"),
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
        run_files(f"{R}/pruned/{RUN_DIR}/prune.json"),
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


def report_inputs(wildcards):
    """Everything the report shows; the side studies only when the config enables them."""
    inputs = {
        "summary": f"{R}/tables/main.csv",
        "markdown": f"{R}/tables/main.md",
        "selected": f"{R}/tables/selected.csv",
        "reported": f"{R}/tables/reported.csv",
        "timings": f"{R}/tables/timings.csv",
        "figures": expand(
            f"{R}/figures/{{benchmark}}_acc_vs_flops.{{ext}}", benchmark=BENCHMARKS, ext=FORMATS
        ),
        "dense": expand(f"{R}/{{benchmark}}/dense/dense.json", benchmark=BENCHMARKS),
        "references": REFERENCE_RECORDS,
        "layer_figures": expand(
            f"{R}/figures/{{benchmark}}_layer_compression.{{ext}}",
            benchmark=LAYER_BENCHMARKS,
            ext=FORMATS,
        ),
    }
    if STUDIES["speed"]["enabled"]:
        inputs["speed_summary"] = f"{S}/speed_summary.csv"
        inputs["speed_raw"] = f"{S}/speed.csv"
        inputs["speed_figures"] = study_figures("speed")
    if STUDIES["estimator"]["enabled"]:
        inputs["estimator_summary"] = f"{S}/estimator_summary.csv"
        inputs["estimator_figures"] = study_figures("estimator_accuracy")
    return inputs


def report_flags(wildcards, input):
    """Command-line flags of the optional report inputs that this config has."""
    flags = []
    for key, flag in (
        ("speed_summary", "--speed-summary"),
        ("speed_raw", "--speed-raw"),
        ("estimator_summary", "--estimator-summary"),
    ):
        if key in input.keys():
            flags.append(f"{flag} {input[key]}")
    for key, flag in (
        ("speed_figures", "--speed-figure"),
        ("estimator_figures", "--estimator-figure"),
    ):
        pngs = [f for f in input[key] if f.endswith(".png")] if key in input.keys() else []
        flags += [f"{flag} {png}" for png in pngs]
    return " ".join(flags)


rule all:
    default_target: True
    input:
        unpack(report_inputs),
    output:
        report=f"{R}/all",
        # The same page under a name browsers open as HTML from the file system.
        html=f"{R}/report.html",
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
