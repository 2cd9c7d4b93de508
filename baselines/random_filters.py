"""Random filter pruning: the control every pruning comparison needs.

Blalock et al. (MLSys 2020, "What is the State of Neural Network Pruning?") ask that
random pruning under the same fine-tuning budget be reported beside any method; a
criterion that cannot beat it is not informative. Scores are seeded by the run's seed.
"""

from __future__ import annotations

import torch

from snacs.pruning.context import PruneContext
from snacs.pruning.pruner import FilterPruner, Scores, register_pruner


@register_pruner
class RandomFilterPruner(FilterPruner):
    name = "random"
    color = "#7f7f7f"
    marker = "x"
    citation = "Blalock et al., What is the State of Neural Network Pruning?, MLSys 2020"
    summary = "uniformly random filter ranking (seeded control)"

    def score(self, ctx: PruneContext) -> Scores:
        generator = torch.Generator().manual_seed(ctx.seed)
        return Scores(
            {
                layer: torch.rand(ctx.graph[layer].out_channels, generator=generator)
                for layer in ctx.graph.filter_prunable()
            }
        )
