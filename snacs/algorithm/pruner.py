"""The SNACS pruners: ``snacs`` (connection masks, as published) and ``snacs_filter``.

Scoring (the timed step) computes ACMI for every layer pair, the operating-constraint
limit of every layer and the sensitivity-protected groups; planning applies the global
threshold. ``snacs_filter`` turns the same connection scores into filter scores so that
the result can be physically slimmed, which connection masks mostly cannot.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from snacs.algorithm.acmi import PairScores, ScoreStability, group_count, score_pair
from snacs.algorithm.constraints import (
    NEAR_CHANCE_MARGIN,
    LayerConstraint,
    limit_grid,
    operating_constraints,
)
from snacs.algorithm.sensitivity import group_sensitivity, protected_groups
from snacs.algorithm.weights import normalisation_range
from snacs.errors import ConfigError
from snacs.estimators.edge import EdgeOptions, warm_up
from snacs.pruning.connections import ConnectionOptions
from snacs.pruning.context import PruneContext
from snacs.pruning.graph import LayerGraph, LayerNode
from snacs.pruning.pairing import scored_children
from snacs.pruning.progress import layer_progress
from snacs.pruning.pruner import ConnectionPruner, FilterPruner, register_pruner
from snacs.pruning.scores import ConnectionScores, Scores

CITATION = (
    "Ganesh, Blanchard, Corso, Sekeh, Slimming Neural Networks using Adaptive "
    "Connectivity Scores, IEEE TNNLS (arXiv 2006.12463)"
)


@dataclass(frozen=True)
class SnacsOptions(ConnectionOptions):
    """Every choice of the method; docs/pruners.md ("SNACS: options") explains each default.

    The shared connection-plan options come first (``snacs.pruning.connections``):
    layer_cap (0.96: no layer loses more than this share of its connections, whatever its
    operating constraint allows), global_share, keep_connected, normalise, cost_aware.

    groups / layer_groups: contiguous filter groups per layer (default 64, capped at the
        layer width; the output layer always uses one group per class).
    phi: weight scaling of the CMI: one, weight (default), weight_sq, exp_weight.
    weight_normalisation: min-max range for weights: conv_linear (default) or
        state_dict (the official code's range over every checkpoint tensor).
    parent_signal: producer (pre-BN output of the single producer, default) or input.
    estimator: the EDGE estimator's options (``EdgeOptions``; a config gives a mapping of
        its fields, e.g. ``{method: residual, seeds: 2}``); its defaults are the published
        reading.
    constraints: compute per-layer upper limits by SVM fidelity (docs/method.md); when off,
        every layer is capped at layer_cap.
    constraint_step_percent / constraint_alpha: grid step (1, 6, ..., 96 %) and alpha.
    near_chance_margin: a layer whose SVM accuracy on its dense outputs is below
        chance + margin * (1 - chance) is named in a warning (its limit is noise).
    sensitivity / sensitivity_direction / sensitivity_k / protect_fraction: which child
        groups are protected (rule mean_std|fraction|none, direction high|low).
    workers: parent groups (ACMI) and layers (operating constraints) handled concurrently;
        None means one per torch CPU thread (each worker then runs single-threaded, which
        uses the cores far better), 1 on a GPU.
    """

    layer_cap: float = 0.96
    groups: int = 64
    layer_groups: dict[str, int] = field(default_factory=dict)
    phi: str = "weight"
    weight_normalisation: str = "conv_linear"
    parent_signal: str = "producer"
    estimator: EdgeOptions = field(default_factory=EdgeOptions)
    constraints: bool = True
    constraint_step_percent: float = 5.0
    constraint_alpha: float = 0.7
    near_chance_margin: float = NEAR_CHANCE_MARGIN
    sensitivity: str = "mean_std"
    sensitivity_direction: str = "high"
    sensitivity_k: float = 2.0
    protect_fraction: float = 0.0
    workers: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.groups < 1:
            raise ConfigError(f"snacs option groups must be >= 1, got {self.groups}")
        if not 0 < self.constraint_alpha <= 1:
            raise ConfigError("snacs option constraint_alpha must be in (0, 1]")
        if not isinstance(self.estimator, EdgeOptions):
            raise ConfigError(
                f"snacs option estimator must be EdgeOptions, got {type(self.estimator).__name__}"
            )


@dataclass
class SnacsScores(ConnectionScores):
    """ACMI connection scores with SNACS's diagnostics.

    groups hold ``PairScores`` (ACMI with its CMI and weight factors); layer_caps are the
    operating-constraint limits; constraints: child layer -> its fidelity curve (SVM
    accuracy at each grid share), dense accuracy, chance level and limit, recorded in the
    plan's info.
    """

    constraints: dict[str, LayerConstraint] = field(default_factory=dict)
    stability: ScoreStability | None = None

    def plan_info(self) -> dict[str, Any]:
        info = {
            **super().plan_info(),
            "constraints": {name: c.to_dict() for name, c in self.constraints.items()},
        }
        if self.stability is not None:
            info["stability"] = dataclasses.asdict(self.stability)
        return info


def snacs_scores(ctx: PruneContext, options: SnacsOptions) -> SnacsScores:
    """ACMI of every pair, per-layer limits and protected groups (all of the timed work)."""
    activations = ctx.activations()
    weight_range = normalisation_range(ctx.model, options.weight_normalisation)
    estimator = options.estimator
    pairs: dict[str, PairScores] = {}
    workers = options.workers or (torch.get_num_threads() if ctx.device.type == "cpu" else 1)
    threads = torch.get_num_threads()
    if workers > 1:
        torch.set_num_threads(1)
    try:
        started = time.perf_counter()
        children = scored_children(ctx.graph)
        with layer_progress(len(children), "SNACS ACMI", ctx.progress) as bar:
            for node in children:
                parent_groups = group_count(
                    node.parents[0] if not node.merged_input else node.name,
                    options.groups,
                    options.layer_groups,
                )
                pairs[node.name] = score_pair(
                    node,
                    ctx.model.get_submodule(node.name),
                    activations,
                    child_groups=node.out_channels
                    if node.is_output
                    else group_count(node.name, options.groups, options.layer_groups),
                    parent_groups=parent_groups,
                    phi_name=options.phi,
                    weight_range=weight_range,
                    parent_signal=options.parent_signal,
                    estimator=estimator,
                    device=ctx.device,
                    workers=workers,
                )
                bar.update(1)
    finally:
        torch.set_num_threads(threads)
    acmi_seconds = time.perf_counter() - started

    started = time.perf_counter()
    caps = dict.fromkeys(pairs, options.layer_cap)
    constraints: dict[str, LayerConstraint] = {}
    if options.constraints:
        constraints = operating_constraints(
            ctx.model,
            pairs,
            activations.layers,
            activations.labels,
            ctx.subset_loader(),
            ctx.device,
            limit_grid(options.constraint_step_percent),
            options.constraint_alpha,
            options.near_chance_margin,
            ctx.progress,
            workers,
        )
        caps.update({name: result.limit for name, result in constraints.items()})
    constraint_seconds = time.perf_counter() - started

    started = time.perf_counter()
    protected = {
        name: protected_groups(
            group_sensitivity(ctx.model, ctx.graph, name, pair.child_ids, weight_range),
            options.sensitivity,
            options.sensitivity_direction,
            options.sensitivity_k,
            options.protect_fraction,
        )
        for name, pair in pairs.items()
    }
    sensitivity_seconds = time.perf_counter() - started
    return SnacsScores(
        groups=dict(pairs),
        layer_caps=caps,
        protected=protected,
        timings={
            "acmi_seconds": acmi_seconds,
            "constraint_seconds": constraint_seconds,
            "sensitivity_seconds": sensitivity_seconds,
        },
        constraints=constraints,
        stability=ScoreStability.of(pairs),
    )


class _SnacsBase:
    """What both SNACS pruners share: their options, the activation cache, and loading
    the estimator's compiled kernels before the timed scoring."""

    needs_activations = True
    Options = SnacsOptions
    options: SnacsOptions

    def prepare(self, ctx: PruneContext) -> None:
        warm_up(self.options.estimator, ctx.device)


@register_pruner
class SnacsPruner(_SnacsBase, ConnectionPruner):
    name = "snacs"
    color = "#d62728"  # red: the method under test
    marker = "o"
    citation = CITATION
    summary = "ACMI connection scores, operating-constraint caps, sensitivity protection"

    def score(self, ctx: PruneContext) -> SnacsScores:
        return snacs_scores(ctx, self.options)


@register_pruner
class SnacsFilterPruner(_SnacsBase, FilterPruner):
    name = "snacs_filter"
    color = "#e377c2"
    marker = "D"
    citation = CITATION + " (filter variant of this harness)"
    summary = "filters ranked by the ACMI connectivity they give their consumers"

    def score(self, ctx: PruneContext) -> Scores:
        """A filter's score is the ACMI of the connections it feeds, summed over consumers.

        Each consumer's group score is shared equally among the group's filters. A layer
        may lose at most the smallest operating-constraint limit of its consumers, and
        filters of protected groups (as children of their own pair) are kept.
        """
        base = snacs_scores(ctx, self.options)
        pairs = base.groups
        per_layer, caps, protected = {}, {}, {}
        for name in ctx.graph.filter_prunable():
            node = ctx.graph[name]
            total = torch.zeros(node.out_channels, dtype=torch.float64)
            consumers = _consumers_past_depthwise(ctx.graph, node)
            for child in consumers:
                pair = pairs[child]
                sizes = torch.bincount(pair.parent_ids).double()
                total += pair.rho.sum(dim=0)[pair.parent_ids] / sizes[pair.parent_ids]
            per_layer[name] = total
            caps[name] = min(min(base.layer_caps[c] for c in consumers), self.options.layer_cap)
            if name in pairs:
                protected[name] = base.protected[name][pairs[name].child_ids]
        return Scores(per_layer, caps, protected, base.timings)


def _consumers_past_depthwise(graph: LayerGraph, node: LayerNode) -> list[str]:
    """The scored consumers of ``node``'s channels, looking through depthwise convs.

    A depthwise conv passes channel k on as its channel k and is not scored itself, so the
    connections that carry a filter's signal are those of the depthwise conv's consumers.
    """
    consumers: list[str] = []
    for child in node.children:
        child_node = graph[child]
        if child_node.depthwise:
            consumers += _consumers_past_depthwise(graph, child_node)
        else:
            consumers.append(child)
    return consumers
