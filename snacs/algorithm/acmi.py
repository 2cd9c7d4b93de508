"""ACMI connectivity scores of every (child group, parent group) pair (docs/method.md).

rho[c, g] = phi(w[c, g]) * I(child group c; parent group g | the other parent groups),
with the conditional mutual information estimated by the hashed EDGE estimator on the
pooled activations of the statistics subset. Pairs come from the traced layer graph, so a
convolution after a residual addition is scored against the tensor it really reads.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats
from torch import nn

from snacs.algorithm.weights import connection_strength, group_means, phi
from snacs.estimators.edge import edge_cmi_matrix
from snacs.estimators.edge.options import EdgeOptions
from snacs.pruning.activations import Activations
from snacs.pruning.graph import LayerNode
from snacs.pruning.groups import group_ids
from snacs.pruning.pairing import parent_activations
from snacs.pruning.scores import GroupScores


@dataclass
class PairScores(GroupScores):
    """ACMI of one child layer's connections, with its two factors kept for inspection.

    retest: Spearman correlation between the CMI matrices of the estimator's first two
        seeds (None when one seed is used); ``cmi`` is the mean over all seeds.
    """

    cmi: torch.Tensor  # [G_c, G_p] bits
    weight_means: torch.Tensor  # [G_c, G_p]
    retest: float | None = None


@dataclass(frozen=True)
class ScoreStability:
    """Test-retest stability of ACMI: Spearman between two estimator seeds' scores.

    per_layer: child layer -> Spearman over its connections (layers whose scores are all
    equal are left out); overall: their mean weighted by each layer's connection count.
    """

    per_layer: dict[str, float]
    overall: float

    @classmethod
    def of(cls, pairs: Mapping[str, PairScores]) -> ScoreStability | None:
        """Stability of scored pairs (None unless they were scored with two or more seeds)."""
        rated = {  # a layer whose scores are all equal has no ranking to compare
            name: pair
            for name, pair in pairs.items()
            if pair.retest is not None and not math.isnan(pair.retest)
        }
        if not rated:
            return None
        sizes = {name: pair.cmi.numel() for name, pair in rated.items()}
        overall = sum(rated[n].retest * sizes[n] for n in rated) / sum(sizes.values())
        return cls({name: pair.retest for name, pair in rated.items()}, float(overall))


def spearman(first: torch.Tensor, second: torch.Tensor) -> float:
    """Spearman rank correlation of two equally shaped score sets (average ranks for ties)."""
    a, b = first.flatten().double().cpu().numpy(), second.flatten().double().cpu().numpy()
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


def seed_averaged_cmi(
    child_acts: torch.Tensor,
    child_ids: torch.Tensor,
    parent_acts: torch.Tensor,
    parent_ids: torch.Tensor,
    estimator: EdgeOptions,
    device: torch.device,
    workers: int = 1,
) -> tuple[torch.Tensor, float | None]:
    """CMI matrix averaged over ``estimator.seeds`` seeds, and the first two seeds' Spearman."""
    matrices = [
        torch.as_tensor(
            edge_cmi_matrix(
                child_acts,
                child_ids,
                parent_acts,
                parent_ids,
                dataclasses.replace(estimator, seed=estimator.seed + offset),
                device=device,
                workers=workers,
            )
        )
        for offset in range(estimator.seeds)
    ]
    retest = spearman(matrices[0], matrices[1]) if len(matrices) > 1 else None
    return torch.stack(matrices).mean(dim=0), retest


def group_count(name: str, groups: int, layer_groups: Mapping[str, int]) -> int:
    return int(layer_groups.get(name, groups))


def score_pair(
    node: LayerNode,
    module: nn.Module,
    activations: Activations,
    *,
    child_groups: int,
    parent_groups: int,
    phi_name: str,
    weight_range: tuple[float, float],
    parent_signal: str,
    estimator: EdgeOptions,
    device: torch.device,
    workers: int = 1,
) -> PairScores:
    child_acts = activations.layers[node.name]
    parent_acts = parent_activations(activations, node, parent_signal)
    child_ids = group_ids(node.out_channels, child_groups)
    parent_ids = group_ids(parent_acts.shape[1], parent_groups)
    cmi, retest = seed_averaged_cmi(
        child_acts, child_ids, parent_acts, parent_ids, estimator, device, workers
    )
    strength = connection_strength(module.weight, *weight_range, node.features_per_channel)
    means = group_means(strength, child_ids, parent_ids)
    return PairScores(
        child=node.name,
        rho=phi(phi_name, means) * cmi,
        cmi=cmi,
        weight_means=means,
        child_ids=child_ids,
        parent_ids=parent_ids,
        retest=retest,
    )
