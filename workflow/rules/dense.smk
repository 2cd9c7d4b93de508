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
        L.data_marker("{benchmark}"),
    params:
        spec=spec("data"),
    log:
        L.log("data", "{benchmark}"),
    shell:
        "snacs --log {log} data --spec {params.spec:q} --out {output}"


rule weights:
    conda:
        CONDA_ENV
    output:
        L.weights_marker("{benchmark}"),
    params:
        spec=spec("weights"),
    log:
        L.log("weights", "{benchmark}"),
    shell:
        "snacs --log {log} weights --spec {params.spec:q} --out {output}"


rule dense:
    conda:
        CONDA_ENV
    input:
        unpack(dense_inputs),
    output:
        checkpoint=L.dense("{benchmark}").best,
        summary=L.dense_record("{benchmark}"),
    params:
        spec=spec("dense"),
        train_dir=training_folder(lambda w: L.dense(w.benchmark)),
        launch=launcher,
    threads: TRAIN_THREADS
    resources:
        runtime=dense_minutes,
    log:
        L.log("dense", "{benchmark}"),
    shell:
        "{params.launch} --log {log} dense --spec {params.spec:q} "
        "--train-dir {params.train_dir} --record-out {output.summary} --threads {threads} "
        "--no-progress"


rule activations:
    conda:
        CONDA_ENV
    input:
        L.dense("{benchmark}").best,
    output:
        L.activations("{benchmark}"),
    params:
        spec=spec("activations"),
    threads: TRAIN_THREADS
    log:
        L.log("activations", "{benchmark}"),
    shell:
        "snacs --log {log} activations --spec {params.spec:q} --dense-checkpoint {input} "
        "--out {output} --threads {threads} --no-progress"
