"""A plan's counts, the reductions they achieve, and the verdict on its target, made once.

The target search ranks candidate masks with the fast ``CostModel``; the plan it settles
on is then counted here, once, by running the models: the dense, the masked (pruned
weights and the weights they leave dead) and the physically slimmed one. The verdict on
the target is made from these same counts, so a record reports exactly the numbers its
``target_met`` was judged on, and no later step counts or judges again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from snacs.pruning.counting import count_macs, count_params, credited_masks
from snacs.pruning.graph import LayerGraph
from snacs.pruning.records import Reductions
from snacs.pruning.slim import slim_model
from snacs.pruning.target import Target, target_miss_reason


def model_counts(
    model: nn.Module,
    input_shape: tuple[int, ...],
    masks: Mapping[str, torch.Tensor] | None = None,
) -> dict[str, int]:
    """Parameters and conv+linear MACs at batch 1 (bias excluded, the literature's convention).

    Under ``masks`` the weights they leave dead are credited too (``credited_masks``).
    """
    masks = credited_masks(model, masks) if masks else None
    return {
        "params": count_params(model, masks),
        "macs": count_macs(model, input_shape, masks),
    }


@dataclass(frozen=True)
class PlanCounts:
    """Parameters and MACs of the dense, masked and slim models, and the reductions."""

    dense: dict[str, int]
    masked: dict[str, int]
    slim: dict[str, int]
    reductions: Reductions


def plan_counts(
    model: nn.Module,
    graph: LayerGraph,
    masks: Mapping[str, torch.Tensor],
    input_shape: tuple[int, ...],
) -> PlanCounts:
    """Dense, masked and slim counts of a plan, and the reductions they achieve.

    Every pruning record (a pruner's run or one of its controls) reports these alike.
    """
    dense = model_counts(model, input_shape)
    masked = model_counts(model, input_shape, masks)
    slim, _ = slim_model(model, graph, masks, input_shape)
    slimmed = model_counts(slim, input_shape)
    return PlanCounts(dense, masked, slimmed, Reductions.between(dense, masked, slimmed))


@dataclass(frozen=True)
class TargetVerdict:
    """Whether a plan met its target, judged on its counted reductions.

    ``achieved`` is the reduction in the target's own resource and count;
    ``miss_reason`` says why it is not within the tolerance ("" when it is).
    """

    achieved: float
    miss_reason: str

    @property
    def met(self) -> bool:
        return not self.miss_reason


def judge_target(target: Target, reductions: Reductions, granularity: str) -> TargetVerdict:
    """The one verdict on ``target``, from the reductions the record reports."""
    achieved = reductions.of(target.resource, target.count)
    return TargetVerdict(achieved, target_miss_reason(target, achieved, granularity))
