"""Full feature maps and layer inputs over the statistics subset, batch by batch.

The shared activation cache keeps one pooled number per filter and image, which is all
SNACS and MINT need. Several baselines look at more: HRank and CHIP at each filter's whole
spatial map after BatchNorm and ReLU, ThiNet at the exact input of the next layer. Those
tensors are too large to cache for a whole subset, so this module streams them: one
forward pass per batch, hooks that hand back what was asked for, and nothing kept after
the consumer has reduced the batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader

from snacs.pruning.graph import LayerGraph


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
