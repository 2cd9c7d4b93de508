"""Step ``control``: a run's control plan (same per-layer counts, another choice).

Reads the run's plan, scores and record and writes the control's plan and record, so
the control is fine-tuned and evaluated by the same steps as the run itself.
Its result row carries ``control``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from snacs.layout import PruneFiles
from snacs.pipeline.counts import plan_counts
from snacs.pipeline.provenance import provenance
from snacs.pipeline.prune import layer_pruned_pct
from snacs.pruning.benchmark import Spec, load_bundle, load_model
from snacs.pruning.controls import control_plan
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.plan import PruningPlan
from snacs.pruning.records import PruneRecord
from snacs.pruning.scores import load_scores


def run_control(
    spec: Spec,
    run_files: PruneFiles,
    label: str,
    dense_checkpoint: str | Path,
    plan_out: str | Path,
    record_out: str | Path,
    device: torch.device,
) -> PruneRecord:
    """Write control ``label`` of the run in ``run_files``; return its record."""
    run = PruneRecord.load(run_files.record)
    plan = PruningPlan.load(run_files.plan)
    scores = load_scores(run_files.scores)
    bundle = load_bundle(spec)
    model = load_model(spec, bundle.num_classes, dense_checkpoint)
    plan.check_against(model)
    graph = trace_layer_graph(model)
    control = control_plan(plan, scores, label, run.seed, model, graph)
    control.save(plan_out)
    counts = plan_counts(model, graph, control.masks, bundle.input_shape)
    record = PruneRecord(
        benchmark=run.benchmark,
        method=run.method,
        pruner=run.pruner,
        granularity=run.granularity,
        citation=run.citation,
        target=run.target,
        seed=run.seed,
        control=control.info["control"],
        control_seed=control.info["control_seed"],
        # The run's budget verdict, which the control shares (its counts are the run's).
        target_met=run.target_met,
        target_miss_reason=run.target_miss_reason,
        target_tolerance=run.target_tolerance,
        # The control's choice is not a pruner's scoring: nothing of it is timed.
        timings=dict.fromkeys(run.timings, 0.0),
        activations_cached=False,
        dense=counts["dense"],
        masked=counts["masked"],
        slim=counts["slim"],
        achieved=counts["achieved"],
        layer_pruned_pct=layer_pruned_pct(control, graph.names),
        plan_info=control.info,
        provenance=provenance(device),
    )
    record.save(record_out)
    return record
