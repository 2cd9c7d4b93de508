"""CHIP: CHannel Independence-based Pruning (Sui et al., NeurIPS 2021).

CHIP measures how much of a layer's output a channel carries that the other channels do
not: the channel independence of channel c is the drop in the nuclear norm of the layer's
feature-map matrix (channels x pixels) when row c is zeroed, averaged over images.
Channels that are nearly linear combinations of the others lose little and go first.

Settings used here:

* Feature maps after BatchNorm and ReLU, one matrix per image, as in the paper; averaged
  over the first ``max_images`` images of the statistics subset (default 500, ours).
* Vectorised exactly: the nuclear norm is the sum of square roots of the eigenvalues of
  A A^T (C x C) or, equivalently, of A^T A (pixels x pixels). Zeroing row c removes row and
  column c from A A^T, or subtracts the rank-one term a_c a_c^T from A^T A; whichever side
  is smaller is used, and the C reduced matrices of an image go through one batched
  ``eigvalsh`` in float64.
* Linear layers give a C x 1 matrix per image, for which the score reduces to
  ||a|| - sqrt(||a||^2 - a_c^2).

The paper's per-layer pruning rates are replaced by the harness target.
"""

from __future__ import annotations

import torch

from snacs.pruning.context import PruneContext
from snacs.pruning.probes import ImageBudget, mean_activated_statistic
from snacs.pruning.pruner import FilterPruner, Scores, register_pruner

_CHUNK_ELEMENTS = 2**23
"""Float64 entries of reduced matrices decomposed at once (64 MB)."""


@register_pruner
class ChipPruner(FilterPruner):
    name = "chip"
    color = "#637939"
    marker = "p"
    citation = (
        "Sui, Yin, Xie, Phan, Zonouz, Yuan, CHIP: CHannel Independence-based Pruning for "
        "Compact Neural Networks, NeurIPS 2021"
    )
    summary = "smallest nuclear-norm drop when the channel's feature map is removed first"
    Options = ImageBudget

    def score(self, ctx: PruneContext) -> Scores:
        layers = ctx.graph.filter_prunable()
        return Scores(
            mean_activated_statistic(ctx, layers, self.options.max_images, channel_independence)
        )


def channel_independence(maps: torch.Tensor) -> torch.Tensor:
    """[B, C] nuclear-norm drop of each image's [C, pixels] map when channel c is zeroed."""
    matrices = maps.double().reshape(maps.shape[0], maps.shape[1], -1)  # [B, C, P]
    channels, pixels = matrices.shape[1:]
    side = min(channels, pixels)
    chunk = max(1, _CHUNK_ELEMENTS // (channels * side * side))
    return torch.cat(
        [_drops(matrices[start : start + chunk]) for start in range(0, len(matrices), chunk)]
    )


def _drops(matrices: torch.Tensor) -> torch.Tensor:
    channels, pixels = matrices.shape[1:]
    if channels <= pixels:
        gram = matrices @ matrices.transpose(1, 2)  # [B, C, C]
        keep = ~torch.eye(channels, dtype=torch.bool, device=matrices.device)  # row c: drop c
        reduced = gram[:, None] * (keep[:, :, None] & keep[:, None, :])  # [B, C, C, C]
    else:
        gram = matrices.transpose(1, 2) @ matrices  # [B, P, P]
        rank_one = matrices[:, :, :, None] * matrices[:, :, None, :]  # [B, C, P, P]
        reduced = gram[:, None] - rank_one
    full = _nuclear_norm(gram)  # [B]
    return full[:, None] - _nuclear_norm(reduced)


def _nuclear_norm(gram: torch.Tensor) -> torch.Tensor:
    """Sum of singular values of A, given the symmetric Gram matrix A A^T or A^T A."""
    return torch.linalg.eigvalsh(gram).clamp(min=0).sqrt().sum(dim=-1)
