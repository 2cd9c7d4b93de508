"""Step ``control``: a run's control plan (same per-layer counts, another choice).

Reads the run's plan, scores and record and writes the control's plan and record; the
control is then fine-tuned and evaluated by the same functions as the run itself, in the
same process (:func:`run_control_chain`: one job per control, not three, since a
control's steps are small and a process start costs seconds). Its result row carries
``control``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from snacs.layout import ControlFiles, PruneFiles, Written, training_files
from snacs.pipeline.evaluate import run_evaluate
from snacs.pipeline.finetune import run_finetune
from snacs.pipeline.oneshot import OneShotEvaluator
from snacs.pipeline.provenance import provenance
from snacs.pipeline.prune import layer_pruned_pct
from snacs.pruning.accounting import plan_counts
from snacs.pruning.benchmark import Spec, load_bundle, load_model
from snacs.pruning.controls import control_plan
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.plan import PruningPlan
from snacs.pruning.records import PruneRecord, RunRecord
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
        dense=counts.dense,
        masked=counts.masked,
        slim=counts.slim,
        achieved=counts.reductions,
        layer_pruned_pct=layer_pruned_pct(control, graph.names),
        plan_info=control.info,
        provenance=provenance(device),
    )
    record.save(record_out)
    return record


def run_control_chain(
    spec: Spec,
    run_files: PruneFiles,
    label: str,
    dense_checkpoint: str | Path,
    dense_json: str | Path,
    out: Written[ControlFiles],
    train_dir: Written[str | Path],
    metrics_out: Written[str | Path],
    device: torch.device,
    one_shot: str | Path,
    progress: bool = True,
) -> RunRecord:
    """Control ``label`` of a run from plan to result: choose it, fine-tune it, evaluate it.

    ``one_shot`` is the benchmark's one-shot records (its runs and the dense model); the
    control's own one-shot accuracy is measured here, on the same batches.

    ``out.plan`` and ``out.record`` take the control's plan and prune record (it has no
    scores of its own), ``train_dir`` its fine-tune, ``metrics_out`` its run record. An
    interrupted chain resumes its fine-tune from the training folder's last state.
    """
    record = run_control(spec, run_files, label, dense_checkpoint, out.plan, out.record, device)
    # One-shot here, on the batches the benchmark's oneshot step re-estimates every run on.
    plan_one_shot = OneShotEvaluator(spec, dense_checkpoint, device).measure(
        record, PruningPlan.load(out.plan)
    )
    run_finetune(spec, out.plan, dense_checkpoint, train_dir, device, record.seed, progress)
    return run_evaluate(
        spec,
        out.plan,
        out.record,
        training_files(train_dir).best,
        dense_json,
        metrics_out,
        device,
        one_shot=one_shot,
        slim_out=None,  # a control is a yardstick, not a model to deploy: no export
        plan_one_shot=plan_one_shot,
    )
