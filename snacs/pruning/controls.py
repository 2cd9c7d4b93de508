"""Controls: the same per-layer pruned counts as a run, chosen another way.

A pruner's accuracy after fine-tuning mixes two things: how much it prunes where (the
per-layer counts) and which units it picks within each layer (its ranking). A control
keeps the first and replaces the second, so the gap between a run and its controls is
what the ranking is worth:

* ``random``: a seeded random choice within each layer (several seeds);
* ``magnitude``: the smallest weights at the pruner's granularity (filter L1 norm for
  filter pruners, the mean |w| of a (child group, parent group) block for connection
  pruners);
* ``inverted``: the pruner's own ranking reversed (its most important units first).

Controls follow the run's structural rules, not its ranking: a connection control of a run
planned with the never-disconnect guard keeps every child row connected too. Protected
units are part of the pruner's choice and are not carried over.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import nn

from snacs.errors import ConfigError, SnacsError
from snacs.pruning.connections import best_connections, connection_masks, lowest_within
from snacs.pruning.graph import LayerGraph
from snacs.pruning.groups import membership
from snacs.pruning.masking import filter_masks
from snacs.pruning.plan import PruningPlan
from snacs.pruning.scores import ConnectionScores, GroupScores, PrunerScores, Scores

CONTROLS = ("random", "magnitude", "inverted")
_LABEL = re.compile(r"^(random)(\d+)$|^(magnitude|inverted)$")


def control_labels(kinds: list[str], seeds: int) -> list[str]:
    """Run labels of a list of control kinds: ``random`` expands to random0 ... random{n-1}."""
    labels = []
    for kind in kinds:
        if kind not in CONTROLS:
            raise ConfigError(f"unknown control {kind!r}; valid controls: {list(CONTROLS)}")
        labels += [f"random{i}" for i in range(seeds)] if kind == "random" else [kind]
    return labels


def parse_control(label: str) -> tuple[str, int | None]:
    """(kind, random seed index or None) of a control label such as ``random2``."""
    match = _LABEL.match(label)
    if not match:
        raise ConfigError(f"{label!r} is not a control label (random<k>, magnitude, inverted)")
    if match.group(1):
        return "random", int(match.group(2))
    return match.group(3), None


def _generator(run_seed: int, index: int) -> torch.Generator:
    return torch.Generator().manual_seed(1_000_003 * (run_seed + 1) + index)


def filter_control_scores(
    kind: str, layer: str, scores: Scores, model: nn.Module, generator: torch.Generator | None
) -> torch.Tensor:
    """One score per filter of ``layer`` under the control (lowest removed first)."""
    weight = model.get_submodule(layer).weight.detach().cpu()
    if kind == "random":
        return torch.rand(weight.shape[0], generator=generator, dtype=torch.float64)
    if kind == "magnitude":
        return weight.abs().flatten(1).sum(dim=1).double()
    return -scores.per_layer[layer].double().cpu()


def block_magnitudes(pair: GroupScores, weight: torch.Tensor) -> torch.Tensor:
    """[G_c, G_p] mean |w| of each (child group, parent group) block of ``weight``."""
    per_channel = (
        weight.detach().cpu().abs().double().reshape(weight.shape[0], pair.parent_ids.numel(), -1)
    )
    per_channel = per_channel.mean(dim=2)  # [C_out, parent channels]
    return membership(pair.child_ids) @ per_channel @ membership(pair.parent_ids).T


def connection_control_scores(
    kind: str, pair: GroupScores, model: nn.Module, generator: torch.Generator | None
) -> torch.Tensor:
    """[G_c, G_p] scores of one child layer's group connections under the control."""
    if kind == "random":
        return torch.rand(pair.rho.shape, generator=generator, dtype=torch.float64)
    if kind == "magnitude":
        return block_magnitudes(pair, model.get_submodule(pair.child).weight)
    return -pair.rho.double()


def control_plan(
    plan: PruningPlan,
    scores: PrunerScores,
    label: str,
    run_seed: int,
    model: nn.Module,
    graph: LayerGraph,
) -> PruningPlan:
    """The control ``label`` of ``plan``: the same per-layer counts, chosen by the control."""
    kind, index = parse_control(label)
    generator = _generator(run_seed, index) if index is not None else None
    info = {"control": kind, "control_seed": index, "of_method": plan.method}
    if plan.granularity == "filter":
        if not isinstance(scores, Scores):
            raise SnacsError(f"the filter plan of {plan.method} comes with connection scores")
        counts: Mapping[str, int] = plan.info["removed_filters"]
        removed = {}
        for layer in sorted(counts, key=graph.names.index):
            ranking = filter_control_scores(kind, layer, scores, model, generator)
            removed[layer] = torch.argsort(ranking, stable=True)[: counts[layer]].tolist()
        masks = filter_masks(model, graph, removed)
        info["removed_filters"] = {k: len(v) for k, v in removed.items()}
    else:
        if not isinstance(scores, ConnectionScores):
            raise SnacsError(f"the connection plan of {plan.method} comes with filter scores")
        counts = plan.info["layer_pruned_groups"]
        guard = bool(plan.info.get("keep_connected", False))
        decisions = {}
        for layer, pair in scores.groups.items():
            ranking = connection_control_scores(kind, pair, model, generator)
            candidates = torch.ones_like(ranking, dtype=torch.bool)
            if guard:
                candidates &= ~best_connections(ranking)
            decisions[layer] = lowest_within(ranking, candidates, counts.get(layer, 0))
        shapes = {name: model.get_submodule(name).weight.shape for name in scores.groups}
        masks = connection_masks(scores.groups, decisions, shapes)
        info["layer_pruned_groups"] = {k: int(v.sum()) for k, v in decisions.items()}
        info["keep_connected"] = guard
    return PruningPlan(method=plan.method, granularity=plan.granularity, masks=masks, info=info)
