"""Sensitivity: child groups the next layer leans on most are protected (docs/method.md).

For a child layer, its consumers' normalised connection strengths are row-normalised so
each consumer filter's incoming mass sums to one; a child group's sensitivity is the
average share of that mass it supplies. The official final script protected the *lowest*
scores, against the paper's wording ("critical filters ... protected"); both directions
are offered, the paper's wording is the default.
"""

from __future__ import annotations

import torch
from torch import nn

from snacs.algorithm.weights import connection_strength
from snacs.errors import ConfigError
from snacs.pruning.graph import LayerGraph
from snacs.pruning.groups import membership

RULES = ("mean_std", "fraction", "none")
DIRECTIONS = ("high", "low")


def group_sensitivity(
    model: nn.Module,
    graph: LayerGraph,
    child: str,
    child_ids: torch.Tensor,
    weight_range: tuple[float, float],
) -> torch.Tensor:
    """[G_c] sensitivity of each child group; all ones for the network's output layer."""
    groups = int(child_ids.max()) + 1
    shares = []
    for name in graph[child].children:
        node = graph[name]
        strength = connection_strength(
            model.get_submodule(name).weight, *weight_range, node.features_per_channel
        )
        if strength.shape[1] != child_ids.numel():  # a concatenation: channels not aligned
            continue
        shares.append(strength / strength.sum(dim=1, keepdim=True).clamp_min(1e-12))
    if not shares:
        return torch.ones(groups, dtype=torch.float64)
    per_filter = torch.cat(shares).mean(dim=0)  # [C_child]
    counts = torch.bincount(child_ids, minlength=groups).double()
    return (membership(child_ids) @ per_filter) * counts


def protected_groups(
    sensitivity: torch.Tensor,
    rule: str,
    direction: str,
    k: float = 2.0,
    fraction: float = 0.0,
) -> torch.Tensor:
    """Boolean [G_c]: groups never pruned.

    ``mean_std`` (default, our rule since the paper's per-layer fractions are not
    recorded) protects groups beyond mean + k * std of the layer (below mean - k * std for
    direction ``low``); ``fraction`` protects a fixed share; ``none`` is the kappa = 0
    ablation.
    """
    if rule not in RULES:
        raise ConfigError(f"sensitivity rule must be one of {RULES}, not {rule!r}")
    if direction not in DIRECTIONS:
        raise ConfigError(f"sensitivity direction must be one of {DIRECTIONS}, not {direction!r}")
    protected = torch.zeros_like(sensitivity, dtype=torch.bool)
    if rule == "none" or sensitivity.numel() < 2 or torch.all(sensitivity == sensitivity[0]):
        return protected
    signed = sensitivity if direction == "high" else -sensitivity
    if rule == "mean_std":
        return signed > signed.mean() + k * signed.std()
    count = round(fraction * sensitivity.numel())
    protected[torch.argsort(signed, descending=True, stable=True)[:count]] = True
    return protected
