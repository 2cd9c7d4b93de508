"""Running one pruner with honest, separate timings, and judging each plan once.

Activation collection, one-time code loading (``Pruner.prepare``), scoring and planning
are timed apart (the paper's speed claim concerns scoring alone), with CUDA synchronised
around each so asynchronous kernels are not billed to the wrong step. A pruner's scores
do not depend on the target, so one scoring (:func:`score_pruner`) can be planned for
several targets (:func:`plan_target`); each plan is then counted and its target judged on
those counts (``snacs.pruning.accounting``), untimed.
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


@dataclass(frozen=True)
class Scored:
    """A pruner's scores and the seconds they took (activations, loading, scoring)."""

    scores: PrunerScores
    timings: dict[str, float]


@dataclass
class PruneOutcome:
    plan: PruningPlan
    scores: PrunerScores
    #: the scoring's seconds (shared by every target planned from it) and this plan's
    timings: dict[str, float]
    #: the plan's counts and the verdict on its target made from them
    counts: PlanCounts
    verdict: TargetVerdict


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def score_pruner(pruner: Pruner, ctx: PruneContext) -> Scored:
    """Score with ``pruner``; record activation, loading and scoring seconds."""
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
    timings = {
        "activation_seconds": activation_seconds,
        "prepare_seconds": start - loading,
        "score_seconds": scored - start,
    }
    return Scored(scores, timings)


def plan_target(pruner: Pruner, scored: Scored, target: Target, ctx: PruneContext) -> PruneOutcome:
    """Plan ``target`` from ``scored`` (timed); count the plan and judge its target."""
    start = time.perf_counter()
    plan = pruner.plan(scored.scores, target, ctx)
    planned = time.perf_counter()
    plan.check_against(ctx.model)
    timings = {**scored.timings, "plan_seconds": planned - start}
    counts = plan_counts(ctx.model, ctx.graph, plan.masks, ctx.input_shape)
    verdict = judge_target(target, counts.reductions, pruner.granularity)
    plan.info.setdefault("target", target.label)
    plan.info.update(target_met=verdict.met, target_miss_reason=verdict.miss_reason)
    plan.info["timings"] = timings
    if scored.scores.timings:
        plan.info["score_timings"] = dict(scored.scores.timings)
    return PruneOutcome(plan, scored.scores, timings, counts, verdict)


def run_pruner(pruner: Pruner, ctx: PruneContext, target: Target) -> PruneOutcome:
    """Score and plan one target with ``pruner`` (:func:`score_pruner`, :func:`plan_target`)."""
    return plan_target(pruner, score_pruner(pruner, ctx), target, ctx)
