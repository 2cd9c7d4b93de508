"""L1-norm filter pruning (Li, Kadav, Durdanovic, Samet, Graf, ICLR 2017).

"Pruning Filters for Efficient ConvNets" ranks the filters of a layer by the sum of
absolute kernel weights and removes the smallest, on the premise that filters with
small weights produce weak activations. This implementation scores every layer that can
lose filters independently; how many to remove per layer follows the harness target
(uniform per layer by default, as in the paper's uniform setting; the paper's per-layer
sensitivity analysis to pick layer ratios by hand is not reproduced).
"""

from __future__ import annotations

from snacs.pruning.context import PruneContext
from snacs.pruning.pruner import FilterPruner, Scores, register_pruner


@register_pruner
class L1NormPruner(FilterPruner):
    name = "l1"
    color = "#2ca02c"
    marker = "^"
    citation = "Li et al., Pruning Filters for Efficient ConvNets, ICLR 2017"
    summary = "smallest sum of absolute filter weights first"

    def score(self, ctx: PruneContext) -> Scores:
        return Scores(
            {
                layer: ctx.weights(layer).abs().flatten(1).sum(dim=1).cpu()
                for layer in ctx.graph.filter_prunable()
            }
        )
