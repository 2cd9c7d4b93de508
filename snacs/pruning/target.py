"""Compression targets and the choice of filters that meets one.

Every filter-granularity pruner differs only in how it scores filters; how many filters
to remove, and where, to reach "50 % of FLOPs" is the same search for all of them. Doing
it here once keeps the comparison fair: all methods hit the same budget the same way.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from snacs.errors import ConfigError, SnacsError
from snacs.pruning.counting import count_params, credited_masks, layer_counts
from snacs.pruning.graph import LayerGraph, trace_layer_graph
from snacs.pruning.masking import Masks, dead_channels, filter_masks

Resource = Literal["params", "flops", "share"]
RESOURCES = ("params", "flops", "share")
Scope = Literal["layerwise", "global"]
Count = Literal["masked", "slim"]
COUNTS = ("masked", "slim")
TARGET_TOLERANCE = 0.01
"""A budget is met when the achieved reduction lies within this distance (1 pp) of it."""


@dataclass(frozen=True)
class Target:
    """Remove ``fraction`` of the model's parameters or FLOPs (conv+linear MACs).

    ``share`` targets are the paper's grid variable for connection pruners: the global
    threshold sits at that share of all connection scores (docs/method.md), and the compression
    follows from it and the per-layer caps. ``count`` says which cost the fraction is
    measured on: ``masked`` (pruned weights and the weights they leave dead) or ``slim``
    (only what physically removing dead channels saves, the deployable cost).
    """

    fraction: float
    resource: Resource = "flops"
    scope: Scope = "layerwise"
    count: Count = "masked"

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction < 1.0:
            raise ConfigError(f"target fraction must be in [0, 1), got {self.fraction}")
        if self.resource not in RESOURCES:
            raise ConfigError(f"target resource must be one of {RESOURCES}, not {self.resource!r}")
        if self.scope not in ("layerwise", "global"):
            raise ConfigError(f"target scope must be 'layerwise' or 'global', not {self.scope!r}")
        if self.count not in COUNTS:
            raise ConfigError(f"target count must be one of {COUNTS}, not {self.count!r}")

    @property
    def label(self) -> str:
        """Stable short name used in result paths, e.g. ``flops50-layerwise``."""
        return f"{self.resource}{round(self.fraction * 100):02d}-{self.scope}"

    @classmethod
    def parse(cls, label: str) -> Target:
        """Inverse of ``label``."""
        head, _, scope = label.partition("-")
        resource = head.rstrip("0123456789")
        digits = head[len(resource) :]
        if not digits or not scope:
            raise ConfigError(
                f"cannot parse target label {label!r}; expected e.g. flops50-layerwise"
            )
        return cls(int(digits) / 100, resource, scope)  # type: ignore[arg-type]


class CostModel:
    """Parameters and MACs of a model under masks, without re-running the model.

    One dense forward pass records how many times each weight element is used (the
    output's spatial size); a masked cost is then a sum over masks, cheap enough to call
    inside the target search. Masks are first extended by the weights they leave dead
    (``credited_masks``), so targets are met on the cost a slimmed model really has.
    """

    def __init__(
        self, model: nn.Module, input_shape: tuple[int, ...], graph: LayerGraph | None = None
    ):
        self.model = model
        self.graph = graph or trace_layer_graph(model)
        self.total_params = count_params(model)
        counts = layer_counts(model, input_shape)
        self.total_macs = sum(c.macs for c in counts)
        self.uses_per_weight = {
            f"{c.name}.weight": c.macs // math.prod(c.weight_shape) for c in counts
        }

    def credited(self, masks: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``masks`` with the weights they leave dead masked too."""
        return credited_masks(self.model, masks, self.graph)

    def params(self, masks: Mapping[str, torch.Tensor]) -> int:
        masks = self.credited(masks)
        return self.total_params - int(sum((~m).sum().item() for m in masks.values()))

    def macs(self, masks: Mapping[str, torch.Tensor]) -> int:
        masks = self.credited(masks)
        removed = sum(
            int((~m).sum().item()) * self.uses_per_weight[name]
            for name, m in masks.items()
            if name in self.uses_per_weight
        )
        return self.total_macs - removed

    def reduction(
        self, masks: Mapping[str, torch.Tensor], resource: Resource, count: Count = "masked"
    ) -> float:
        """Fraction of the resource removed by ``masks``, on the masked or the slim count.

        The slim count keeps only what removing whole dead channels saves: the filters of
        layers that can lose channels independently, with their norms and consumer slices.
        """
        if count == "slim":
            masks = filter_masks(
                self.model, self.graph, dead_channels(self.graph, self.credited(masks))
            )
        if resource == "params":
            return 1.0 - self.params(masks) / self.total_params
        return 1.0 - self.macs(masks) / self.total_macs

    def achieved(self, masks: Mapping[str, torch.Tensor], target: Target) -> float:
        """The reduction ``masks`` reach in ``target``'s resource and count."""
        return self.reduction(masks, target.resource, target.count)


def target_miss_reason(target: Target, achieved: float, granularity: str) -> str:
    """Why ``achieved`` is not within ``TARGET_TOLERANCE`` of ``target``; empty when it is.

    Searches stop at the first step that meets a budget, so falling short means the
    per-layer caps and protected filters or connections left nothing more to remove, and
    overshooting means the last step removed more than the tolerance at once.
    """
    if target.resource == "share":
        return ""
    gap = achieved - target.fraction
    if abs(gap) <= TARGET_TOLERANCE:
        return ""
    what = f"{target.count} {target.resource}"
    if gap < 0:
        return (
            f"out of reach: the per-layer caps and protected {granularity}s allow removing "
            f"only {achieved:.1%} of {what}"
        )
    unit = "filter" if granularity == "filter" else "block of tied connection scores"
    return (
        f"overshoot: the smallest step of the search (one {unit}, with the units it leaves "
        f"dead) removes {gap:.1%} of {what} more than the target"
    )


def first_step_meeting(achieved: Callable[[int], float], fraction: float, steps: int) -> int:
    """Smallest step in [0, steps] whose ``achieved`` reduction reaches ``fraction``.

    ``achieved`` must grow with the step (more removed, more saved), so bisection needs
    only log2(steps) evaluations of the masks.
    """
    low, high = 0, steps
    while low < high:
        mid = (low + high) // 2
        if achieved(mid) >= fraction:
            high = mid
        else:
            low = mid + 1
    return low


def step_within_tolerance(achieved: Callable[[int], float], fraction: float, steps: int) -> int:
    """``first_step_meeting``, or the step before it when only that one lands within 1 pp.

    When the first step that meets ``fraction`` overshoots it by more than
    ``TARGET_TOLERANCE`` while the step before stops short by no more than that, the
    budget is met (within the tolerance) by the smaller removal.
    """
    step = first_step_meeting(achieved, fraction, steps)
    if (
        step > 0
        and achieved(step) - fraction > TARGET_TOLERANCE
        and fraction - achieved(step - 1) <= TARGET_TOLERANCE
    ):
        return step - 1
    return step


def select_filters(
    scores: Mapping[str, torch.Tensor],
    target: Target,
    model: nn.Module,
    graph: LayerGraph,
    cost: CostModel,
    layer_cap: float | Mapping[str, float] = 0.9,
    protected: Mapping[str, torch.Tensor] | None = None,
) -> tuple[dict[str, list[int]], Masks]:
    """Remove the lowest-scoring filters until ``target`` is met.

    Returns the removed filters per layer and their masks: when the caps make the target
    unreachable, the most the caps allow is removed and a warning says so (whether the
    plan met its target is judged once, on its counts: ``snacs.pruning.accounting``).

    ``layerwise`` removes the same share of filters from every scored layer (Li et al.'s
    uniform setting); ``global`` ranks all filters together after dividing each layer's
    scores by that layer's mean score, so layers with larger weights are not spared just
    for their scale. No layer loses more than ``layer_cap`` of its filters (one
    share for all, or one per layer), and filters flagged in ``protected`` are never removed.
    """
    if target.resource == "share":
        raise ConfigError(
            f"target {target.label}: share targets set a connection pruner's global "
            "threshold; filter pruners need a params or flops target"
        )
    layers = [name for name in scores if graph[name].filter_prunable]
    if not layers:
        raise SnacsError("no scored layer can lose filters independently in this model")
    protected = protected or {}
    order = {}
    for name in layers:
        ranking = torch.argsort(scores[name].float().cpu(), stable=True)
        if name in protected:
            ranking = ranking[~protected[name].cpu()[ranking]]
        order[name] = ranking
    shares = layer_cap if isinstance(layer_cap, Mapping) else dict.fromkeys(layers, layer_cap)
    caps = {
        name: min(len(order[name]), int(shares.get(name, 0.9) * graph[name].out_channels))
        for name in layers
    }

    if target.scope == "layerwise":

        def removal(step: int) -> dict[str, list[int]]:
            share = step / 1000
            return {
                n: order[n][: min(caps[n], int(share * graph[n].out_channels))].tolist()
                for n in layers
            }

        steps = 1000
    else:
        ranked = _global_ranking(scores, order)

        def removal(step: int) -> dict[str, list[int]]:
            chosen: dict[str, list[int]] = {n: [] for n in layers}
            for name, channel in ranked[:step]:
                if len(chosen[name]) < caps[name]:
                    chosen[name].append(channel)
            return chosen

        steps = len(ranked)

    def achieved(removed: Mapping[str, list[int]]) -> float:
        return cost.achieved(filter_masks(model, graph, removed), target)

    if achieved(removal(steps)) < target.fraction:
        warnings.warn(
            f"target {target.label} is out of reach: removing the most filters each layer "
            f"allows saves only {achieved(removal(steps)):.1%} of {target.resource}; using that",
            stacklevel=2,
        )
        chosen = {name: channels for name, channels in removal(steps).items() if channels}
        return chosen, filter_masks(model, graph, chosen)
    step = first_step_meeting(lambda s: achieved(removal(s)), target.fraction, steps)
    chosen = _finest_removal(
        removal(max(step - 1, 0)), removal(step), scores, achieved, target.fraction
    )
    chosen = {name: channels for name, channels in chosen.items() if channels}
    return chosen, filter_masks(model, graph, chosen)


def _finest_removal(
    before: Mapping[str, list[int]],
    after: Mapping[str, list[int]],
    scores: Mapping[str, torch.Tensor],
    achieved: Callable[[Mapping[str, list[int]]], float],
    fraction: float,
) -> dict[str, list[int]]:
    """Add the filters of the search's last step one at a time, lowest score first.

    A layerwise step raises every layer's share at once, which on narrow layers removes
    several filters together and can overshoot a budget by several points; adding the
    step's filters singly lands within one filter of it. When even one filter overshoots
    by more than ``TARGET_TOLERANCE`` while stopping short of it stays within, the
    smaller removal is kept (``step_within_tolerance``).
    """
    added = [(name, c) for name in after for c in after[name] if c not in set(before[name])]
    added.sort(key=lambda entry: _normalised_score(scores, *entry))

    def with_first(count: int) -> dict[str, list[int]]:
        chosen = {name: list(channels) for name, channels in before.items()}
        for name, channel in added[:count]:
            chosen[name].append(channel)
        return chosen

    return with_first(
        step_within_tolerance(lambda k: achieved(with_first(k)), fraction, len(added))
    )


def _normalised_score(scores: Mapping[str, torch.Tensor], name: str, channel: int) -> float:
    values = scores[name].double()
    return values[channel].item() / (values.abs().mean().item() or 1.0)


def _global_ranking(
    scores: Mapping[str, torch.Tensor], order: Mapping[str, torch.Tensor]
) -> list[tuple[str, int]]:
    """All removable filters, lowest layer-normalised score first."""
    entries: list[tuple[float, str, int]] = []
    for name, candidates in order.items():
        values = scores[name].double().cpu()
        scale = values.abs().mean().item() or 1.0
        entries += [(values[i].item() / scale, name, i) for i in candidates.tolist()]
    entries.sort(key=lambda e: (e[0], e[1], e[2]))
    return [(name, i) for _, name, i in entries]
