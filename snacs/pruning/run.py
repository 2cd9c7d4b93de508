"""Running one pruner with honest, separate timings, and judging its plan once.

Activation collection, one-time code loading (``Pruner.prepare``), scoring and planning
are timed apart (the paper's speed claim concerns scoring alone), with CUDA synchronised
around each so asynchronous kernels are not billed to the wrong step. The plan is then
counted and its target judged on those counts (``snacs.pruning.accounting``), untimed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from snacs.pruning.accounting import PlanCounts, TargetVerdict, judge_target, plan_counts
from snacs.pruning.context import PruneContext
from snacs.pruning.plan import PruningPlan
from snacs.pruning.pruner import Pruner
from snacs.pruning.scores import PrunerScores
from snacs.pruning.target import Target


@dataclass
class PruneOutcome:
    plan: PruningPlan
    scores: PrunerScores
    timings: dict[str, float]
    #: the plan's counts and the verdict on its target made from them
    counts: PlanCounts
    verdict: TargetVerdict


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_pruner(pruner: Pruner, ctx: PruneContext, target: Target) -> PruneOutcome:
    """Score and plan with ``pruner``; record activation, loading, scoring and planning
    seconds; count the plan and judge its target."""
    activation_seconds = 0.0
    if pruner.needs_activations:
        activation_seconds = ctx.activations().seconds
    _synchronise(ctx.device)
    loading = time.perf_counter()
    pruner.prepare(ctx)
    _synchronise(ctx.device)
    start = time.perf_counter()
    scores = pruner.score(ctx)
    _synchronise(ctx.device)
    scored = time.perf_counter()
    plan = pruner.plan(scores, target, ctx)
    planned = time.perf_counter()
    plan.check_against(ctx.model)
    timings = {
        "activation_seconds": activation_seconds,
        "prepare_seconds": start - loading,
        "score_seconds": scored - start,
        "plan_seconds": planned - scored,
    }
    counts = plan_counts(ctx.model, ctx.graph, plan.masks, ctx.input_shape)
    verdict = judge_target(target, counts.reductions, pruner.granularity)
    plan.info.setdefault("target", target.label)
    plan.info.update(target_met=verdict.met, target_miss_reason=verdict.miss_reason)
    plan.info["timings"] = timings
    if scores.timings:
        plan.info["score_timings"] = dict(scores.timings)
    return PruneOutcome(plan, scores, timings, counts, verdict)
