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

from dataclasses import dataclass

import torch

from snacs.errors import ConfigError
from snacs.pruning.context import PruneContext
from snacs.pruning.probes import probe_batches
from snacs.pruning.pruner import FilterPruner, Scores, register_pruner


@dataclass(frozen=True)
class HRankOptions:
    """max_images: how many subset images the average rank is taken over."""

    max_images: int = 500

    def __post_init__(self) -> None:
        if self.max_images < 1:
            raise ConfigError(f"hrank option max_images must be >= 1, got {self.max_images}")


@register_pruner
class HRankPruner(FilterPruner):
    name = "hrank"
    citation = (
        "Lin, Ji, Wang, Zhang, Zhang, Tian, Shao, HRank: Filter Pruning using High-Rank "
        "Feature Map, CVPR 2020"
    )
    summary = "lowest average rank of the post-BN-ReLU feature maps first"
    Options = HRankOptions

    def score(self, ctx: PruneContext) -> Scores:
        layers = ctx.graph.filter_prunable()
        rank_sums = {name: torch.zeros(ctx.graph[name].out_channels) for name in layers}
        images = 0
        for batch in probe_batches(
            ctx.model,
            ctx.graph,
            ctx.subset_loader(),
            ctx.device,
            activated=layers,
            max_images=self.options.max_images,
        ):
            images += len(batch.targets)
            for name, maps in batch.activated.items():
                rank_sums[name] += feature_map_ranks(maps).sum(dim=0).cpu()
        return Scores({name: total / images for name, total in rank_sums.items()})


def feature_map_ranks(maps: torch.Tensor) -> torch.Tensor:
    """[B, C] float ranks of the [B, C, H, W] maps ([B, C] outputs count as 1 x 1 maps)."""
    if maps.dim() == 2:
        maps = maps[:, :, None, None]
    return torch.linalg.matrix_rank(maps.float()).float()
