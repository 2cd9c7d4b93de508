"""Step ``evaluate``: accuracy, masked and slim counts, and latency of a fine-tuned plan."""

from __future__ import annotations

from pathlib import Path

import torch

from snacs.engine import evaluate
from snacs.errors import SnacsError
from snacs.io import load_checkpoint, read_json, write_json
from snacs.pipeline.batches import eval_batches
from snacs.pipeline.common import Spec, load_bundle, load_model
from snacs.pipeline.counts import latency, model_counts
from snacs.pipeline.provenance import provenance
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.plan import PruningPlan
from snacs.pruning.slim import slim_model


def run_evaluate(
    spec: Spec,
    plan_path: str | Path,
    prune_json: str | Path,
    finetuned_checkpoint: str | Path,
    dense_json: str | Path,
    out: str | Path,
    device: torch.device,
) -> dict:
    """Write one result row (JSON) for a (benchmark, method, target, seed) run."""
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
    dense_summary = read_json(dense_json)
    prune_summary = read_json(prune_json)
    dense_counts = dense_summary["dense"]
    masked_counts = model_counts(model, shape, plan.masks)
    slim_counts = model_counts(slim, shape)

    def reduction(counts: dict, key: str) -> float:
        return 100.0 * (1 - counts[key] / dense_counts[key])

    row = {
        "benchmark": spec["name"],
        "title": spec["title"],
        "method": prune_summary["method"],
        "granularity": prune_summary["granularity"],
        "target": prune_summary["target"]["label"],
        "seed": prune_summary["seed"],
        # Controls (same per-layer counts, another choice): empty for the pruner's own run.
        "control": prune_summary.get("control") or "",
        "control_seed": prune_summary.get("control_seed"),
        "baseline_top1": dense_summary["accuracy"]["top1"],
        "baseline_top5": dense_summary["accuracy"].get("top5"),
        "pruned_top1": masked_accuracy["top1"],
        "pruned_top5": masked_accuracy.get("top5"),
        "slim_top1": slim_accuracy["top1"],
        "dense": dense_counts,
        "masked": masked_counts,
        "slim": slim_counts,
        "params_reduction_pct": reduction(masked_counts, "params"),
        "flops_reduction_pct": reduction(masked_counts, "macs"),
        "slim_params_reduction_pct": reduction(slim_counts, "params"),
        "slim_flops_reduction_pct": reduction(slim_counts, "macs"),
        "channels_removed": removed,
        "timings": prune_summary["timings"],
        "latency_ms": {
            "dense": dense_summary["latency_ms"],
            "slim": latency(slim, shape, spec, device),
        },
        "finetune_epoch": load_checkpoint(finetuned_checkpoint).get("epoch"),
        "provenance": provenance(device),
    }
    write_json(out, row)
    return row
