"""Connection-granularity plans: group scores, global threshold with caps, kernel-slice masks.

SNACS and MINT both score (child group, parent group) connections and prune them with one
threshold on the raw scores of all layers (spec §7.1, §11); a layer whose share would
exceed its cap keeps only its lowest-scoring entries up to the cap, and protected child
groups are never touched. Being shared by several pruners, this lives in the core.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from snacs.pruning.plan import PruningPlan
from snacs.pruning.target import CostModel, Target, first_step_meeting


@dataclass
class GroupScores:
    """Scores of one child layer's incoming connections, at group granularity."""

    child: str
    rho: torch.Tensor  # [G_c, G_p]: higher means more important
    child_ids: torch.Tensor  # [C_out] group id of each child filter
    parent_ids: torch.Tensor  # [C_in channels] group id of each parent channel


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


def pruned_groups(
    scores: Mapping[str, GroupScores],
    global_share: float,
    caps: Mapping[str, float],
    protected: Mapping[str, torch.Tensor],
) -> dict[str, torch.Tensor]:
    """Boolean [G_c, G_p] per layer: which group connections to prune."""
    everything = torch.unique(torch.cat([s.rho.flatten() for s in scores.values()]))
    index = min(round(global_share * everything.numel()), everything.numel() - 1)
    threshold = everything[index] if global_share > 0 else -torch.inf
    decisions = {}
    for name, pair in scores.items():
        rho = pair.rho
        candidates = (rho <= threshold) & ~protected[name][:, None]
        allowed = int(caps.get(name, 1.0) * rho.numel())
        if int(candidates.sum()) > allowed:
            order = torch.argsort(torch.where(candidates, rho, torch.inf).flatten(), stable=True)
            capped = torch.zeros(rho.numel(), dtype=torch.bool)
            capped[order[:allowed]] = True
            candidates = capped.reshape(rho.shape)
        decisions[name] = candidates
    return decisions


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
    return first_step_meeting(achieved, target.fraction, 1000) / 1000


def pruned_shares(masks: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Share of each masked layer's weights that is pruned, keyed by layer name."""
    return {name.removesuffix(".weight"): 1 - m.float().mean().item() for name, m in masks.items()}


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
    groups: Mapping[str, GroupScores],
    caps: Mapping[str, float],
    protected: Mapping[str, torch.Tensor],
    target: Target,
    model: nn.Module,
    cost: CostModel,
    global_share: float | None = None,
    info: Mapping[str, Any] | None = None,
) -> PruningPlan:
    """The connection plan of a global share (fixed, or searched to meet ``target``)."""
    ranked = rank_scores(groups)
    shapes = {name: model.get_submodule(name).weight.shape for name in groups}

    def masks_at(share: float) -> dict[str, torch.Tensor]:
        return connection_masks(ranked, pruned_groups(ranked, share, caps, protected), shapes)

    share = share_for_target(masks_at, cost, target) if global_share is None else global_share
    masks = masks_at(share)
    met = target.resource == "share" or cost.achieved(masks, target) >= target.fraction - 1e-9
    return PruningPlan(
        method=method,
        granularity="connection",
        masks=masks,
        info={
            "global_share": share,
            "target_met": met,
            "layer_caps": dict(caps),
            "layer_pruned_share": pruned_shares(masks),
            **(info or {}),
        },
    )
