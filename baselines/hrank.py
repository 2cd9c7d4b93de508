"""HRank: filter pruning by the rank of feature maps (Lin et al., CVPR 2020).

HRank observes that the average rank of the feature maps a filter produces is nearly the
same whatever the batch of images, and that low-rank maps carry little information; it
removes the filters whose maps have the lowest average rank.

Settings used here:

* Feature maps are taken after BatchNorm and ReLU, where the paper hooks them (what the
  next layer actually receives).
* Each map's rank is ``torch.linalg.matrix_rank`` with its default tolerance, computed in
  float32 over a batch of [images, filters] matrices at once, then averaged over the first
  ``max_images`` images of the statistics subset. The paper used a few hundred images;
  500 is our default.
* A linear layer's "map" is one number per image, a 1 x 1 matrix: its rank says whether
  the neuron fired, so the score is the share of images that activate it.

The paper's per-layer compression rates chosen by hand are replaced by the harness target.
"""

from __future__ import annotations

import torch

from snacs.pruning.context import PruneContext
from snacs.pruning.probes import ImageBudget, mean_activated_statistic
from snacs.pruning.pruner import FilterPruner, Scores, register_pruner


@register_pruner
class HRankPruner(FilterPruner):
    name = "hrank"
    color = "#393b79"
    marker = ">"
    citation = (
        "Lin, Ji, Wang, Zhang, Zhang, Tian, Shao, HRank: Filter Pruning using High-Rank "
        "Feature Map, CVPR 2020"
    )
    summary = "lowest average rank of the post-BN-ReLU feature maps first"
    Options = ImageBudget

    def score(self, ctx: PruneContext) -> Scores:
        layers = ctx.graph.filter_prunable()
        return Scores(
            mean_activated_statistic(ctx, layers, self.options.max_images, feature_map_ranks)
        )


def feature_map_ranks(maps: torch.Tensor) -> torch.Tensor:
    """[B, C] float ranks of the [B, C, H, W] maps ([B, C] outputs count as 1 x 1 maps)."""
    if maps.dim() == 2:
        maps = maps[:, :, None, None]
    return torch.linalg.matrix_rank(maps.float()).float()
