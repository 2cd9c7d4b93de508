"""Full feature maps and layer inputs over the statistics subset, batch by batch.

The shared activation cache keeps one pooled number per filter and image, which is all
SNACS and MINT need. Several baselines look at more: HRank and CHIP at each filter's whole
spatial map after BatchNorm and ReLU, ThiNet at the exact input of the next layer. Those
tensors are too large to cache for a whole subset, so this module streams them: one
forward pass per batch, hooks that hand back what was asked for, and nothing kept after
the consumer has reduced the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.utils.data import DataLoader

from snacs.errors import ConfigError
from snacs.pruning.graph import LayerGraph

if TYPE_CHECKING:
    from snacs.pruning.context import PruneContext


@dataclass
class ProbeBatch:
    """What the hooks recorded for one batch of the subset."""

    activated: dict[str, torch.Tensor]  # layer -> ReLU(BN(output)) [B, C, ...]
    inputs: dict[str, torch.Tensor]  # layer -> its input [B, C_in, ...] (or [B, F])
    targets: torch.Tensor


@torch.no_grad()
def probe_batches(
    model: nn.Module,
    graph: LayerGraph,
    loader: DataLoader,
    device: torch.device,
    *,
    activated: Iterable[str] = (),
    inputs: Iterable[str] = (),
    max_images: int | None = None,
) -> Iterator[ProbeBatch]:
    """Yield, for each batch, the activated outputs and the inputs of the named layers.

    A layer's activated output is its BatchNorm's output (or its own output when it has
    none) passed through ReLU, the nonlinearity of every model in this harness; feature-map
    criteria are defined on what the next layer sees, not on raw convolution outputs.
    ``max_images`` stops after that many images (the last batch is cut to fit). Consume the
    iterator to the end so the hooks are removed at once.
    """
    modules = dict(model.named_modules())
    recorded: dict[str, torch.Tensor] = {}
    recorded_inputs: dict[str, torch.Tensor] = {}

    def output_recorder(layer: str):
        def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
            recorded[layer] = output

        return hook

    def input_recorder(layer: str):
        def hook(_module: nn.Module, args: tuple) -> None:
            recorded_inputs[layer] = args[0]

        return hook

    handles = [
        modules[graph[layer].norm or layer].register_forward_hook(output_recorder(layer))
        for layer in activated
    ]
    handles += [modules[layer].register_forward_pre_hook(input_recorder(layer)) for layer in inputs]
    was_training = model.training
    model.eval()
    seen = 0
    try:
        for images, targets in loader:
            if max_images is not None:
                images, targets = images[: max_images - seen], targets[: max_images - seen]
            if len(images) == 0:
                break
            recorded.clear()
            recorded_inputs.clear()
            model(images.to(device))
            seen += len(images)
            yield ProbeBatch(
                activated={name: torch.relu(out) for name, out in recorded.items()},
                inputs=dict(recorded_inputs),
                targets=targets.to(device),
            )
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)


@dataclass(frozen=True)
class ImageBudget:
    """Options of a pruner that averages a feature-map statistic over the subset.

    max_images: how many subset images the statistic is averaged over.
    """

    max_images: int = 500

    def __post_init__(self) -> None:
        if self.max_images < 1:
            raise ConfigError(f"option max_images must be >= 1, got {self.max_images}")


def mean_activated_statistic(
    ctx: PruneContext,
    layers: list[str],
    max_images: int,
    statistic: Callable[[torch.Tensor], torch.Tensor],
) -> dict[str, torch.Tensor]:
    """Per layer, the mean over images of ``statistic`` ([B, C, ...] maps -> [B, C] values)
    of each filter's activated (BN + ReLU) feature maps, streamed batch by batch."""
    totals = {
        name: torch.zeros(ctx.graph[name].out_channels, dtype=torch.float64) for name in layers
    }
    images = 0
    for batch in probe_batches(
        ctx.model,
        ctx.graph,
        ctx.subset_loader(),
        ctx.device,
        activated=layers,
        max_images=max_images,
    ):
        images += len(batch.targets)
        for name, maps in batch.activated.items():
            totals[name] += statistic(maps).sum(dim=0).double().cpu()
    return {name: total / images for name, total in totals.items()}
