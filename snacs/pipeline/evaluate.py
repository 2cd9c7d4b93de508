"""Step ``evaluate``: accuracy, masked and slim counts, latency and export of a fine-tuned plan.

The plan's accuracy without fine-tuning (one-shot) is not measured here: the ``oneshot``
step measures every plan of a benchmark in one process, and its record is an input.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from snacs.engine import evaluate
from snacs.errors import SnacsError
from snacs.io import load_checkpoint
from snacs.layout import Written
from snacs.pipeline.batches import eval_batches
from snacs.pipeline.counts import latency
from snacs.pipeline.provenance import provenance
from snacs.pruning.accounting import model_counts
from snacs.pruning.benchmark import Spec, load_bundle, load_model
from snacs.pruning.export import export_model
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.plan import PruningPlan
from snacs.pruning.records import (
    DenseRecord,
    OneShotAccuracy,
    OneShotRecords,
    PruneRecord,
    Reductions,
    RunRecord,
)
from snacs.pruning.slim import slim_model


def run_evaluate(
    spec: Spec,
    plan_path: str | Path,
    prune_json: str | Path,
    finetuned_checkpoint: str | Path,
    dense_json: str | Path,
    out: Written[str | Path],
    device: torch.device,
    one_shot: str | Path,
    slim_out: Written[str | Path | None],
    plan_one_shot: OneShotAccuracy | None = None,
) -> RunRecord:
    """Write one result record (JSON) for a (benchmark, method, target, seed) run.

    ``one_shot`` is the benchmark's one-shot records (:func:`snacs.pipeline.oneshot.run_one_shot`):
    the run's accuracy right after pruning is copied from them, and the dense model's under
    the same re-estimation. A control, whose plan is chosen in its own job, measures its
    one-shot accuracy there on the same batches and passes it as ``plan_one_shot``.

    The physically slimmed fine-tuned model is exported to ``slim_out`` (``torch.export``,
    loadable with plain PyTorch), and the export is checked against the slim model; None
    (the controls) skips the export, which costs seconds per run.
    """
    bundle = load_bundle(spec)
    plan = PruningPlan.load(plan_path)
    model = load_model(spec, bundle.num_classes, finetuned_checkpoint)
    plan.check_against(model)
    params = dict(model.named_parameters())
    revived = [n for n, m in plan.masks.items() if params[n].detach()[~m].abs().sum() > 0]
    if revived:
        raise SnacsError(f"fine-tuned weights of {revived[:3]} are non-zero where the plan prunes")
    shape = bundle.input_shape
    graph = trace_layer_graph(model)
    slim, removed = slim_model(model, graph, plan.masks, shape)
    test = eval_batches(spec, bundle, spec["evaluation"]["batch_size"], device)
    topk = spec["evaluation"]["topk"]
    masked_accuracy = evaluate(model.to(device), test, device, ks=topk)
    slim_accuracy = evaluate(slim.to(device), test, device, ks=topk)
    dense_record = DenseRecord.load(dense_json)
    prune_record = PruneRecord.load(prune_json)
    one_shot_records = OneShotRecords.load(one_shot)
    one_shot_run = plan_one_shot or one_shot_records.of(prune_record, str(one_shot))
    exported = None
    if slim_out is not None:
        exported = export_model(slim, shape, slim_out)
        exported["max_abs_logit_diff"] = _export_difference(slim, slim_out, test)
    dense_counts = dense_record.dense
    masked_counts = model_counts(model, shape, plan.masks)
    slim_counts = model_counts(slim, shape)
    reductions = Reductions.between(dense_counts, masked_counts, slim_counts)

    record = RunRecord(
        benchmark=dense_record.benchmark,
        title=dense_record.title,
        method=prune_record.method,
        granularity=prune_record.granularity,
        target=prune_record.target.label,
        seed=prune_record.seed,
        control=prune_record.control,
        control_seed=prune_record.control_seed,
        baseline_top1=dense_record.accuracy["top1"],
        baseline_top5=dense_record.accuracy.get("top5"),
        pruned_top1=masked_accuracy["top1"],
        pruned_top5=masked_accuracy.get("top5"),
        slim_top1=slim_accuracy["top1"],
        one_shot_top1=one_shot_run.top1,
        one_shot_top5=one_shot_run.top5,
        one_shot_baseline_top1=one_shot_records.dense.top1,
        bn_recalibration_batches=one_shot_records.bn_recalibration_batches,
        target_count=prune_record.target.count,
        target_met=prune_record.target_met,
        target_miss_reason=prune_record.target_miss_reason,
        target_tolerance=prune_record.target_tolerance,
        dense=dense_counts,
        masked=masked_counts,
        slim=slim_counts,
        params_reduction_pct=100.0 * reductions.params,
        flops_reduction_pct=100.0 * reductions.flops,
        slim_params_reduction_pct=100.0 * reductions.slim_params,
        slim_flops_reduction_pct=100.0 * reductions.slim_flops,
        channels_removed=removed,
        timings=prune_record.timings,
        latency_ms={
            "dense": dense_record.latency_ms,
            "slim": latency(slim, shape, spec, device),
        },
        slim_export=exported,
        finetune_epoch=load_checkpoint(finetuned_checkpoint).get("epoch"),
        provenance=provenance(device),
    )
    record.save(out)
    return record


def _export_difference(slim: nn.Module, path: str | Path, loader) -> float:
    """Largest |logit| difference between the exported program and the slim model (CPU)."""
    inputs, _ = next(iter(loader))
    inputs = inputs[:16].cpu()
    loaded = torch.export.load(str(path)).module()
    slim = slim.cpu().eval()
    with torch.no_grad():
        return (loaded(inputs) - slim(inputs)).abs().max().item()
