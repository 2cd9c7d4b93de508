"""ThiNet: channel selection by next-layer reconstruction (Luo, Wu, Lin, ICCV 2017).

ThiNet prunes a layer's filters by looking at the layer that consumes them: an entry of
the consumer's output is a sum of one contribution per input channel (that channel's
kernel slice applied to its input window), so removing a set T of channels changes the
entry by the sum of T's contributions. A greedy search removes, one at a time, the channel
that keeps the squared change summed over sampled entries smallest.

Settings used here:

* Sampling as in the paper: ``samples_per_image`` random (output channel, location)
  entries of the consumer's output per image (10 in the paper), over the first
  ``max_images`` images of the statistics subset. Contributions are computed from the
  consumer's real input (after BatchNorm, ReLU and pooling), bias left out since it does
  not depend on the channels kept.
* The greedy run continues until every channel is removed, and the order is the score:
  the first channel removed scores 0, the last C - 1. The harness then removes the
  lowest-ordered channels up to the target, which is exactly the paper's selection for any
  compression rate. With several consumers, their sampled entries are pooled.
* Vectorised: with X the [samples, C] contribution matrix, the error of removing T plus c
  is |s_T|^2 + 2 s_T . x_c + |x_c|^2 where s_T is the sum of T's columns, so one C x C Gram
  matrix X^T X (float64) turns each greedy step into a vector update.
* Not reproduced: the least-squares rescaling of the kept filters (the harness fine-tunes
  every method the same way instead) and the paper's layer-by-layer prune-and-fine-tune
  schedule (all layers are scored on the dense model). Grouped-convolution consumers are
  not supported.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from snacs.errors import ConfigError, SnacsError
from snacs.pruning.context import PruneContext
from snacs.pruning.graph import LayerNode
from snacs.pruning.probes import probe_batches
from snacs.pruning.pruner import FilterPruner, Scores, register_pruner


@dataclass(frozen=True)
class ThiNetOptions:
    """samples_per_image: consumer output entries sampled per image (paper: 10).
    max_images: how many subset images the entries are sampled from."""

    samples_per_image: int = 10
    max_images: int = 500

    def __post_init__(self) -> None:
        if self.samples_per_image < 1 or self.max_images < 1:
            raise ConfigError("thinet options samples_per_image and max_images must be >= 1")


@register_pruner
class ThiNetPruner(FilterPruner):
    name = "thinet"
    color = "#17becf"
    marker = "<"
    citation = (
        "Luo, Wu, Lin, ThiNet: A Filter Level Pruning Method for Deep Neural Network "
        "Compression, ICCV 2017"
    )
    summary = "greedy removal order minimising the next layer's reconstruction error"
    Options = ThiNetOptions

    def score(self, ctx: PruneContext) -> Scores:
        layers = ctx.graph.filter_prunable()
        consumers = sorted({child for name in layers for child in ctx.graph[name].children})
        for child in consumers:
            module = ctx.model.get_submodule(child)
            if isinstance(module, nn.Conv2d) and module.groups != 1:
                raise SnacsError(f"thinet does not support grouped convolution {child}")
        generator = torch.Generator().manual_seed(ctx.seed)
        samples: dict[str, list[torch.Tensor]] = {child: [] for child in consumers}
        for batch in probe_batches(
            ctx.model,
            ctx.graph,
            ctx.subset_loader(),
            ctx.device,
            inputs=consumers,
            max_images=self.options.max_images,
        ):
            for child in consumers:
                samples[child].append(
                    channel_contributions(
                        ctx.model.get_submodule(child),
                        ctx.graph[child],
                        batch.inputs[child],
                        self.options.samples_per_image,
                        generator,
                    )
                )
        scores = {}
        for name in layers:
            pooled = torch.cat([torch.cat(samples[c]) for c in ctx.graph[name].children])
            scores[name] = removal_rank(pooled)
        return Scores(scores)


@torch.no_grad()
def channel_contributions(
    module: nn.Module,
    node: LayerNode,
    inputs: torch.Tensor,
    samples_per_image: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """[B * samples, C_in channels] contribution of each input channel to sampled entries."""
    batch = inputs.shape[0]
    out_channel = torch.randint(
        module.weight.shape[0], (batch, samples_per_image), generator=generator
    ).to(inputs.device)
    weights = module.weight.detach()[out_channel]  # [B, S, C_in, ...]
    if isinstance(module, nn.Linear):
        width = node.features_per_channel
        per_channel = inputs.reshape(batch, 1, -1, width) * weights.reshape(
            batch, samples_per_image, -1, width
        )
        return per_channel.sum(dim=3).reshape(batch * samples_per_image, -1)
    patches = _sampled_patches(module, inputs, samples_per_image, generator)  # [B, S, C, kh, kw]
    return (patches * weights).sum(dim=(3, 4)).reshape(batch * samples_per_image, -1)


def _sampled_patches(
    module: nn.Conv2d, inputs: torch.Tensor, samples_per_image: int, generator: torch.Generator
) -> torch.Tensor:
    """Input windows [B, S, C_in, kh, kw] behind random output locations of a convolution."""
    if isinstance(module.padding, str):
        raise SnacsError("thinet needs numeric convolution padding")
    (kh, kw), (sh, sw), (dh, dw), (ph, pw) = (
        module.kernel_size,
        module.stride,
        module.dilation,
        module.padding,
    )
    padded = F.pad(inputs, (pw, pw, ph, ph))
    out_h = (padded.shape[2] - dh * (kh - 1) - 1) // sh + 1
    out_w = (padded.shape[3] - dw * (kw - 1) - 1) // sw + 1
    batch = inputs.shape[0]
    shape = (batch, samples_per_image)
    top = torch.randint(out_h, shape, generator=generator).to(inputs.device) * sh
    left = torch.randint(out_w, shape, generator=generator).to(inputs.device) * sw
    rows = top[:, :, None] + dh * torch.arange(kh, device=inputs.device)  # [B, S, kh]
    cols = left[:, :, None] + dw * torch.arange(kw, device=inputs.device)  # [B, S, kw]
    images = torch.arange(batch, device=inputs.device)[:, None, None, None]
    channels_last = padded.permute(0, 2, 3, 1)  # [B, H, W, C]
    windows = channels_last[images, rows[:, :, :, None], cols[:, :, None, :]]  # [B, S, kh, kw, C]
    return windows.permute(0, 1, 4, 2, 3)


def removal_rank(contributions: torch.Tensor) -> torch.Tensor:
    """Greedy removal order of the channels (columns): 0 for the first removed.

    Each step removes the channel whose contributions, added to those already removed,
    give the smallest sum of squares over the samples.
    """
    x = contributions.double()
    gram = x.T @ x  # [C, C]
    channels = gram.shape[0]
    cross = torch.zeros(channels, dtype=torch.float64, device=x.device)  # s_T . x_c
    self_terms = gram.diagonal().clone()
    removed = torch.zeros(channels, dtype=torch.bool, device=x.device)
    rank = torch.empty(channels, dtype=torch.float64)
    for step in range(channels):
        errors = (2 * cross + self_terms).masked_fill(removed, torch.inf)
        channel = int(errors.argmin())
        rank[channel] = step
        removed[channel] = True
        cross += gram[channel]
    return rank
