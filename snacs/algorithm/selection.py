"""From ACMI scores to connection masks: global threshold, per-layer caps, protection (spec §7.1).

One threshold on the raw scores of all layers decides which (child group, parent group)
connections go; a layer whose share would exceed its operating-constraint limit keeps
only its lowest-scoring entries up to the limit, and protected child groups are never
touched. The global share is either fixed or searched so the plan meets the harness's
compression target, like every other pruner.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from snacs.algorithm.acmi import PairScores
from snacs.algorithm.constraints import connection_mask


def pruned_groups(
    scores: Mapping[str, PairScores],
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
    scores: Mapping[str, PairScores],
    decisions: Mapping[str, torch.Tensor],
    weight_shapes: Mapping[str, torch.Size],
) -> dict[str, torch.Tensor]:
    """Keep-masks over the child layers' weights for the pruned group connections."""
    return {
        f"{name}.weight": connection_mask(scores[name], decisions[name], weight_shapes[name])
        for name in scores
    }
