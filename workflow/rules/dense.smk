# Data preparation and the dense (unpruned) model of each benchmark.


rule data:
    output:
        f"{R}/{{benchmark}}/data.json",
    params:
        spec=spec("data"),
    log:
        f"{R}/logs/data/{{benchmark}}.log",
    shell:
        "snacs data --spec {params.spec:q} --out {output} > {log} 2>&1"


rule dense:
    input:
        f"{R}/{{benchmark}}/data.json",
    output:
        checkpoint=f"{R}/{{benchmark}}/dense/best.pt",
        summary=f"{R}/{{benchmark}}/dense/dense.json",
    params:
        spec=spec("dense"),
        out=lambda w: f"{R}/{w.benchmark}/dense",
        launch=launcher,
    threads: TRAIN_THREADS
    log:
        f"{R}/logs/dense/{{benchmark}}.log",
    shell:
        "{params.launch} dense --spec {params.spec:q} --out {params.out} --threads {threads} "
        "--no-progress > {log} 2>&1"


rule activations:
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
