# Data preparation and the dense (unpruned) model of each benchmark.


# Downloads run where the workflow is started (a cluster's login node has internet access,
# its compute nodes often do not); every other rule runs as a job.
localrules:
    data,
    weights,


rule data:
    conda:
        CONDA_ENV
    output:
        f"{R}/{{benchmark}}/data.json",
    params:
        spec=spec("data"),
    log:
        f"{R}/logs/data/{{benchmark}}.log",
    shell:
        "snacs data --spec {params.spec:q} --out {output} > {log} 2>&1"


rule weights:
    conda:
        CONDA_ENV
    output:
        f"{R}/{{benchmark}}/weights.json",
    params:
        spec=spec("weights"),
    log:
        f"{R}/logs/weights/{{benchmark}}.log",
    shell:
        "snacs weights --spec {params.spec:q} --out {output} > {log} 2>&1"


rule dense:
    conda:
        CONDA_ENV
    input:
        unpack(dense_inputs),
    output:
        checkpoint=f"{R}/{{benchmark}}/dense/best.pt",
        summary=f"{R}/{{benchmark}}/dense/dense.json",
    params:
        spec=spec("dense"),
        out=lambda w: f"{R}/{w.benchmark}/dense",
        launch=launcher,
    threads: TRAIN_THREADS
    resources:
        runtime=dense_minutes,
    log:
        f"{R}/logs/dense/{{benchmark}}.log",
    shell:
        "{params.launch} dense --spec {params.spec:q} --out {params.out} --threads {threads} "
        "--no-progress > {log} 2>&1"


rule activations:
    conda:
        CONDA_ENV
    input:
        f"{R}/{{benchmark}}/dense/best.pt",
    output:
        f"{R}/{{benchmark}}/activations.pt",
    params:
        spec=spec("activations"),
    threads: TRAIN_THREADS
    log:
        f"{R}/logs/activations/{{benchmark}}.log",
    shell:
        "snacs activations --spec {params.spec:q} --dense {input} --out {output} "
        "--threads {threads} --no-progress > {log} 2>&1"
