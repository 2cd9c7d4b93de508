"""ACMI connectivity scores of every (child group, parent group) pair (spec §5).

rho[c, g] = phi(w[c, g]) * I(child group c; parent group g | the other parent groups),
with the conditional mutual information estimated by the hashed EDGE estimator on the
pooled activations of the statistics subset. Pairs come from the traced layer graph, so a
convolution after a residual addition is scored against the tensor it really reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from snacs.algorithm.weights import connection_strength, group_means, phi
from snacs.estimators.edge import edge_cmi_matrix
from snacs.estimators.edge_options import EdgeOptions
from snacs.pruning.activations import Activations
from snacs.pruning.graph import LayerNode
from snacs.pruning.groups import group_ids
from snacs.pruning.pairing import parent_activations
from snacs.pruning.scores import GroupScores


@dataclass
class PairScores(GroupScores):
    """ACMI of one child layer's connections, with its two factors kept for inspection."""

    cmi: torch.Tensor  # [G_c, G_p] bits
    weight_means: torch.Tensor  # [G_c, G_p]


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
    cmi = torch.as_tensor(
        edge_cmi_matrix(
            child_acts,
            child_ids,
            parent_acts,
            parent_ids,
            estimator,
            device=device,
            workers=workers,
        )
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
    )
