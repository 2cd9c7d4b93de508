"""Steps ``activations`` and ``prune``: shared statistics, then one timed scoring of a
pruner planned for each of its targets."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from snacs.config import MATCH_PREFIX, parse_matched_label
from snacs.engine import seed_everything
from snacs.errors import ConfigError
from snacs.layout import PruneFiles, Written
from snacs.pipeline.provenance import provenance
from snacs.pruning.accounting import TargetVerdict
from snacs.pruning.benchmark import Spec, load_bundle, load_model, statistics_subset
from snacs.pruning.context import PruneContext
from snacs.pruning.plan import PruningPlan
from snacs.pruning.pruner import PRUNERS, build_pruner, load_pruner_modules
from snacs.pruning.records import PruneRecord, TargetRecord
from snacs.pruning.run import plan_target, score_pruner
from snacs.pruning.scores import save_scores
from snacs.pruning.target import TARGET_TOLERANCE, Target


def _context(
    spec: Spec,
    dense_checkpoint: str | Path,
    device: torch.device,
    seed: int,
    activations_path: str | Path | None,
    progress: bool,
) -> PruneContext:
    bundle = load_bundle(spec)
    model = load_model(spec, bundle.num_classes, dense_checkpoint)
    return PruneContext(
        model=model,
        input_shape=bundle.input_shape,
        num_classes=bundle.num_classes,
        subset=statistics_subset(spec, bundle),
        device=device,
        seed=seed,
        batch_size=spec["statistics"]["batch_size"],
        activations_path=Path(activations_path) if activations_path else None,
        progress=progress,
    )


def run_activations(
    spec: Spec,
    dense_checkpoint: str | Path,
    out: Written[str | Path],
    device: torch.device,
    progress: bool = True,
) -> float:
    """Collect and cache pooled pre-BN activations of every layer; return the seconds taken."""
    activations = _context(spec, dense_checkpoint, device, 0, None, progress).activations()
    activations.save(out)
    return activations.seconds


def needs_activations(pruner: str, pruner_modules: list[str]) -> bool:
    """Whether ``pruner`` reads the shared activation cache (the workflow asks at DAG time)."""
    load_pruner_modules(pruner_modules)
    return PRUNERS.get(pruner).needs_activations


def resolve_target(
    label: str, reference_json: str | Path | None = None, count: str = "slim"
) -> Target:
    """The target a label asks for; matched-budget labels read the reference run's result.

    A matched budget is the reference's reduction on ``count`` (``slim``: what removing
    dead channels saves, comparable across connection and filter pruners; ``masked``),
    and the matched run searches its own plan on that same count.
    """
    if not label.startswith(MATCH_PREFIX):
        return Target.parse(label)
    resource, scope, _ = parse_matched_label(label)
    if reference_json is None:
        raise ConfigError(f"target {label} needs the reference run's prune record (--reference)")
    achieved = PruneRecord.load(reference_json).achieved.of(resource, count)  # type: ignore[arg-type]
    return Target(min(max(achieved, 0.0), 0.99), resource, scope, count)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PruneTarget:
    """One target of a prune step: the budget, where its run's files go, and its label.

    ``label`` is the run's target label when it differs from ``target.label`` (matched
    budgets), so results group under the label the config asked for.
    """

    target: Target
    files: Written[PruneFiles]
    label: str | None = None

    @property
    def run_label(self) -> str:
        return self.label or self.target.label


def run_prune(
    spec: Spec,
    method: str,
    seed: int,
    dense_checkpoint: str | Path,
    targets: Sequence[PruneTarget],
    device: torch.device,
    activations_path: str | Path | None = None,
    progress: bool = True,
) -> list[PruneRecord]:
    """Score once with one pruner and plan every target; write each one's plan, scores, record.

    A pruner's scores do not depend on the target, so one process loads the data and the
    model and scores once for all of a method's targets. Planning draws no global
    randomness, so each plan is the one a run of that target alone makes. Every record
    carries the shared scoring's timings and names the targets that share them
    (``scored_with``), so a reader counts that scoring once.

    The typed scores are kept beside each plan so that the inverted control can reverse
    the pruner's own ranking without scoring again.
    """
    load_pruner_modules(spec.get("pruner_modules", []))
    pruner = build_pruner(spec.get("pruner", method), spec.get("method_options", {}))
    seed_everything(seed)
    ctx = _context(spec, dense_checkpoint, device, seed, activations_path, progress)
    scored = score_pruner(pruner, ctx)
    scored_with = [each.run_label for each in targets]
    records = []
    for each in targets:
        outcome = plan_target(pruner, scored, each.target, ctx)
        plan = outcome.plan
        plan.info.update(seed=seed, pruner_options=spec.get("method_options", {}))
        save_scores(outcome.scores, each.files.scores)
        _warn_if_missed(each, outcome.verdict)
        plan.save(each.files.plan)
        record = PruneRecord(
            benchmark=spec["name"],
            method=method,
            pruner=pruner.name,
            granularity=pruner.granularity,
            citation=pruner.citation,
            target=TargetRecord.of(each.target, each.label),
            seed=seed,
            timings=outcome.timings,
            activations_cached=pruner.needs_activations and activations_path is not None,
            dense=outcome.counts.dense,
            masked=outcome.counts.masked,
            slim=outcome.counts.slim,
            achieved=outcome.counts.reductions,
            layer_pruned_pct=layer_pruned_pct(plan, ctx.graph.names),
            plan_info={k: v for k, v in plan.info.items() if k != "timings"},
            provenance=provenance(device),
            score_timings=dict(plan.info.get("score_timings", {})),
            target_met=outcome.verdict.met,
            target_miss_reason=outcome.verdict.miss_reason,
            target_tolerance=TARGET_TOLERANCE,
            scored_with=scored_with,
        )
        record.save(each.files.record)
        records.append(record)
    return records


def _warn_if_missed(each: PruneTarget, verdict: TargetVerdict) -> None:
    if verdict.met:
        return
    target = each.target
    print(
        f"WARNING target {each.run_label} missed: {target.count} {target.resource} "
        f"reduction {verdict.achieved:.1%} for a target of {target.fraction:.1%} "
        f"(± {TARGET_TOLERANCE:.0%}): {verdict.miss_reason}",
        file=sys.stderr,
    )


def layer_pruned_pct(plan: PruningPlan, layers: list[str]) -> dict[str, float]:
    """Pruned share (%) of each layer's weight in forward order; 0 where the plan keeps all.

    Read from the masks, so filter plans (whose pruned filters also remove their
    consumers' input slices) and connection plans are counted the same way.
    """
    return {
        name: 100.0 * (1.0 - plan.masks[f"{name}.weight"].float().mean().item())
        if f"{name}.weight" in plan.masks
        else 0.0
        for name in layers
    }
