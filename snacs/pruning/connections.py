"""Connection-granularity plans: group scores, global threshold with caps, kernel-slice masks.

SNACS and MINT both score (child group, parent group) connections and prune them with one
threshold on the raw scores of all layers (spec §7.1, §11); a layer whose share would
exceed its cap keeps only its lowest-scoring entries up to the cap, and protected child
groups are never touched. Being shared by several pruners, this lives in the core.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from snacs.pruning.target import CostModel, Target


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

    ``masks_at(share)`` builds the masks for a share; the reduction they achieve grows with
    the share, so a bisection finds the threshold that just meets the target.
    """

    def achieved(step: int) -> float:
        return cost.reduction(masks_at(step / 1000), target.resource)

    if achieved(1000) < target.fraction:
        return 1.0
    low, high = 0, 1000
    while low < high:
        mid = (low + high) // 2
        if achieved(mid) >= target.fraction:
            high = mid
        else:
            low = mid + 1
    return low / 1000


def pruned_shares(masks: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Share of each masked layer's weights that is pruned, keyed by layer name."""
    return {name.removesuffix(".weight"): 1 - m.float().mean().item() for name, m in masks.items()}
