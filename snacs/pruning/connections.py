"""Connection-granularity plans, shared by every connection pruner (SNACS, MINT).

Connection pruners score (child group, parent group) connections and prune them with one
threshold over all layers: a layer whose share would exceed its cap keeps its
lowest-scoring entries up to the cap, protected child groups are never touched, and, by
default, every child row keeps its best connection so that no filter or output class is cut
off from its inputs. Options reorder the global ranking: per-layer score normalisation and
cost-aware allocation (score per unit of the target resource a connection's removal saves).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from snacs.errors import ConfigError
from snacs.pruning.plan import PruningPlan
from snacs.pruning.scores import ConnectionScores, GroupScores
from snacs.pruning.target import CostModel, Resource, Target, step_within_tolerance

NORMALISATIONS = ("none", "mean", "rank")


@dataclass(frozen=True)
class ConnectionOptions:
    """Planning options of every connection pruner (the first fields of its ``Options``).

    layer_cap: largest share of any layer's group connections that is pruned (a pruner's
        scores may lower it per layer, e.g. SNACS's operating constraints).
    global_share: fixed global threshold share; None searches the share that meets the
        run's target.
    keep_connected: never prune every incoming connection of a child filter or output unit
        (each child group keeps its best-scoring parent group).
    normalise: per-layer score normalisation before the global ranking: none (the
        published methods), mean (divide by the layer's mean score) or rank (each score
        becomes its quantile within the layer).
    cost_aware: rank by score per unit of the target's resource that removing the
        connection saves (MACs for flops and share targets, weights for params targets).
    """

    layer_cap: float = 0.9
    global_share: float | None = None
    keep_connected: bool = True
    normalise: str = "none"
    cost_aware: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.layer_cap <= 1:
            raise ConfigError(f"option layer_cap must be in (0, 1], got {self.layer_cap}")
        if self.global_share is not None and not 0 <= self.global_share <= 1:
            raise ConfigError("option global_share must be in [0, 1] or null")
        if self.normalise not in NORMALISATIONS:
            raise ConfigError(
                f"option normalise must be one of {NORMALISATIONS}, not {self.normalise!r}"
            )


def connection_mask(
    scores: GroupScores, pruned_groups: torch.Tensor, weight_shape: torch.Size
) -> torch.Tensor:
    """Weight-shaped keep-mask with (child group, parent group) blocks in ``pruned_groups`` off.

    A linear layer fed by a flattened map has several input columns per parent channel;
    they are switched off together.
    """
    expanded = pruned_groups[scores.child_ids][:, scores.parent_ids]  # [C_out, C_in channels]
    in_width = weight_shape[1] // expanded.shape[1]
    keep = ~expanded.repeat_interleave(in_width, dim=1)
    trailing = [1] * (len(weight_shape) - 2)
    return keep.reshape(*keep.shape, *trailing).expand(tuple(weight_shape)).contiguous()


def best_connections(rho: torch.Tensor) -> torch.Tensor:
    """Boolean [G_c, G_p]: each child group's highest-scoring parent group (first on ties)."""
    best = torch.zeros_like(rho, dtype=torch.bool)
    best[torch.arange(rho.shape[0]), torch.argmax(rho, dim=1)] = True
    return best


def pruned_groups(
    scores: Mapping[str, GroupScores],
    global_share: float,
    caps: Mapping[str, float],
    protected: Mapping[str, torch.Tensor],
    keep_connected: bool = True,
) -> dict[str, torch.Tensor]:
    """Boolean [G_c, G_p] per layer: which group connections to prune."""
    everything = torch.unique(torch.cat([s.rho.flatten() for s in scores.values()]))
    index = min(round(global_share * everything.numel()), everything.numel() - 1)
    threshold = everything[index] if global_share > 0 else -torch.inf
    decisions = {}
    for name, pair in scores.items():
        rho = pair.rho
        candidates = (rho <= threshold) & ~protected[name][:, None]
        if keep_connected:
            candidates &= ~best_connections(rho)
        allowed = int(caps.get(name, 1.0) * rho.numel())
        decisions[name] = lowest_within(rho, candidates, allowed)
    return decisions


def lowest_within(rho: torch.Tensor, candidates: torch.Tensor, count: int) -> torch.Tensor:
    """The ``count`` lowest-scoring ``candidates`` (all of them when there are fewer)."""
    if int(candidates.sum()) <= count:
        return candidates
    order = torch.argsort(torch.where(candidates, rho, torch.inf).flatten(), stable=True)
    chosen = torch.zeros(rho.numel(), dtype=torch.bool)
    chosen[order[:count]] = True
    return chosen.reshape(rho.shape)


def connection_masks(
    scores: Mapping[str, GroupScores],
    decisions: Mapping[str, torch.Tensor],
    weight_shapes: Mapping[str, torch.Size],
) -> dict[str, torch.Tensor]:
    """Keep-masks over the child layers' weights for the pruned group connections."""
    return {
        f"{name}.weight": connection_mask(scores[name], decisions[name], weight_shapes[name])
        for name in scores
    }


def share_for_target(
    masks_at: Callable[[float], Mapping[str, torch.Tensor]], cost: CostModel, target: Target
) -> float:
    """Smallest global share (on a 1/1000 grid) whose masks meet the target, else 1.

    When that share overshoots by more than 1 pp and the share below lands within 1 pp
    under the target, the smaller one is taken (``step_within_tolerance``).

    A ``share`` target is the share itself (the paper's grid variable).

    ``masks_at(share)`` builds the masks for a share; the reduction they achieve grows with
    the share, so a bisection finds the threshold that just meets the target.
    """

    if target.resource == "share":
        return target.fraction

    def achieved(step: int) -> float:
        return cost.achieved(masks_at(step / 1000), target)

    if achieved(1000) < target.fraction:
        return 1.0
    return step_within_tolerance(achieved, target.fraction, 1000) / 1000


def pruned_shares(masks: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Share of each masked layer's weights that is pruned, keyed by layer name."""
    return {name.removesuffix(".weight"): 1 - m.float().mean().item() for name, m in masks.items()}


def block_costs(pair: GroupScores, weight_shape: torch.Size, uses_per_weight: int) -> torch.Tensor:
    """[G_c, G_p] weights (``uses_per_weight`` = 1) or MACs each group connection holds."""
    child_sizes = torch.bincount(pair.child_ids).double()
    parent_sizes = torch.bincount(pair.parent_ids).double()
    per_channel_pair = weight_shape.numel() / (weight_shape[0] * pair.parent_ids.numel())
    return torch.outer(child_sizes, parent_sizes) * per_channel_pair * uses_per_weight


def planning_scores(
    scores: ConnectionScores,
    options: ConnectionOptions,
    shapes: Mapping[str, torch.Size],
    cost: CostModel | None,
    resource: Resource,
) -> dict[str, GroupScores]:
    """The scores the global ranking orders: normalised per layer, per cost when asked."""
    adjusted = {}
    for name, pair in scores.groups.items():
        rho = pair.rho.double()
        if options.normalise == "mean":
            rho = rho / (rho.abs().mean().item() or 1.0)
        elif options.normalise == "rank":
            ranks = torch.empty(rho.numel(), dtype=torch.float64)
            ranks[torch.argsort(rho.flatten(), stable=True)] = torch.arange(
                rho.numel(), dtype=torch.float64
            )
            rho = (ranks / max(rho.numel() - 1, 1)).reshape(rho.shape)
        if options.cost_aware:
            if cost is None:
                raise ConfigError("cost_aware planning needs the model's cost model")
            uses = 1 if resource == "params" else cost.uses_per_weight[f"{name}.weight"]
            rho = rho / block_costs(pair, shapes[name], uses)
        adjusted[name] = dataclasses.replace(pair, rho=rho)
    return adjusted


def rank_scores(groups: Mapping[str, GroupScores]) -> dict[str, GroupScores]:
    """The same connections with each score replaced by its rank in one global stable order.

    Estimators clip at zero, so many connections can tie; thresholding ranks instead of
    unique values lets the global share hit a compression target within a point instead
    of jumping over it with a whole block of tied entries. Without ties it selects
    exactly what the paper's unique-value threshold selects.
    """
    flat = torch.cat([pair.rho.flatten().double() for pair in groups.values()])
    ranks = torch.empty(len(flat), dtype=torch.float64)
    ranks[torch.argsort(flat, stable=True)] = torch.arange(len(flat), dtype=torch.float64)
    ranked, start = {}, 0
    for name, pair in groups.items():
        size = pair.rho.numel()
        ranked[name] = dataclasses.replace(
            pair, rho=ranks[start : start + size].reshape(pair.rho.shape)
        )
        start += size
    return ranked


def connection_plan(
    method: str,
    scores: ConnectionScores,
    target: Target,
    model: nn.Module,
    cost: CostModel | None,
    options: ConnectionOptions,
) -> PruningPlan:
    """The connection plan of a global share (fixed, or searched to meet ``target``)."""
    shapes = {name: model.get_submodule(name).weight.shape for name in scores.groups}
    ranked = rank_scores(planning_scores(scores, options, shapes, cost, target.resource))
    caps = {
        name: min(scores.layer_caps.get(name, options.layer_cap), options.layer_cap)
        for name in scores.groups
    }

    def decisions_at(share: float) -> dict[str, torch.Tensor]:
        return pruned_groups(ranked, share, caps, scores.protected, options.keep_connected)

    def masks_at(share: float) -> dict[str, torch.Tensor]:
        return connection_masks(ranked, decisions_at(share), shapes)

    share = options.global_share
    if share is None:
        assert cost is not None or target.resource == "share"
        share = share_for_target(masks_at, cost, target)  # type: ignore[arg-type]
    decisions = decisions_at(share)
    masks = connection_masks(ranked, decisions, shapes)
    return PruningPlan(
        method=method,
        granularity="connection",
        masks=masks,
        info={
            "global_share": share,
            "layer_caps": caps,
            "layer_pruned_share": pruned_shares(masks),
            "layer_pruned_groups": {name: int(d.sum()) for name, d in decisions.items()},
            "keep_connected": options.keep_connected,
            **scores.plan_info(),
        },
    )
