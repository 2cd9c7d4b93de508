"""Small hand-made typed records (dense, prune, run) for the report's tests."""

from pathlib import Path

from snacs.pruning.records import (
    DenseRecord,
    PruneRecord,
    Reductions,
    ReferenceRecord,
    RunRecord,
    TargetRecord,
)
from snacs.pruning.target import Target

COUNTS = {"params": 1000, "macs": 10000}
SLIM_LATENCY = {"median_ms": 0.5, "mean_ms": 0.52, "std_ms": 0.05}


def dense_record(path: Path, benchmark="b1", layers=("fc1", "fc2", "fc3"), top1=90.0) -> Path:
    DenseRecord(
        benchmark=benchmark,
        title="Bench One",
        source="train",
        accuracy={"top1": top1},
        dense=COUNTS,
        latency_ms={"mean": 1.0, "std": 0.1},
        input_shape=[8],
        num_classes=4,
        layers=list(layers),
        provenance={"hardware": {"device": "cpu"}},
        spec={"name": benchmark},
    ).save(path)
    return path


def prune_record(
    path: Path,
    method: str,
    target: str,
    seed: int,
    *,
    benchmark="b1",
    score=1.0,
    parts=None,
    reduction=0.5,
    shares=None,
    target_met=None,
    achieved=None,
    control="",
    control_seed=None,
    plan=0.1,
    scored_with=(),
) -> Path:
    PruneRecord(
        benchmark=benchmark,
        method=method,
        pruner=method,
        granularity="connection",
        citation="",
        target=TargetRecord.of(Target.parse(target)),
        seed=seed,
        timings={"score_seconds": score, "activation_seconds": 2.0, "plan_seconds": plan},
        activations_cached=True,
        dense=COUNTS,
        masked=COUNTS,
        slim=COUNTS,
        achieved=achieved or Reductions(reduction, reduction, reduction, reduction),
        layer_pruned_pct=shares or {},
        plan_info={},
        provenance={"hardware": {"device": "cpu", "torch_threads": 2}},
        score_timings=parts or {},
        target_met=target_met,
        control=control,
        control_seed=control_seed,
        scored_with=list(scored_with),
    ).save(path)
    return path


def run_record(
    path: Path,
    method: str,
    target: str,
    seed: int,
    top1: float,
    flops: float,
    *,
    params=None,
    slim_flops=None,
    benchmark="b1",
    baseline=90.0,
    granularity="filter",
    target_met=None,
    latency=None,
    one_shot=10.0,
    one_shot_baseline=50.0,
    control="",
    control_seed=None,
) -> Path:
    RunRecord(
        benchmark=benchmark,
        title="Bench One" if benchmark == "b1" else benchmark,
        method=method,
        granularity=granularity,
        target=target,
        seed=seed,
        baseline_top1=baseline,
        baseline_top5=None,
        pruned_top1=top1,
        pruned_top5=None,
        slim_top1=top1,
        dense=COUNTS,
        masked=COUNTS,
        slim=COUNTS,
        params_reduction_pct=params if params is not None else flops,
        flops_reduction_pct=flops,
        slim_params_reduction_pct=flops,
        slim_flops_reduction_pct=slim_flops if slim_flops is not None else flops,
        channels_removed={},
        timings={"score_seconds": 0.5, "activation_seconds": 0.1},
        one_shot_top1=one_shot,
        one_shot_top5=None,
        one_shot_baseline_top1=one_shot_baseline,
        bn_recalibration_batches=0,
        latency_ms={"dense": {"median_ms": 1.0}, "slim": latency or SLIM_LATENCY},
        slim_export={},
        finetune_epoch=1,
        provenance={},
        target_met=target_met,
        control=control,
        control_seed=control_seed,
    ).save(path)
    return path


def reference_record(path: Path, seed: int, top1: float, benchmark="b1") -> Path:
    ReferenceRecord(
        benchmark=benchmark,
        title="Bench One",
        method="dense (fine-tuned)",
        seed=seed,
        baseline_top1=90.0,
        baseline_top5=None,
        pruned_top1=top1,
        pruned_top5=None,
        finetune_epochs=2,
        finetune_epoch=2,
        dense=COUNTS,
        latency_ms=SLIM_LATENCY,
        provenance={},
    ).save(path)
    return path
