"""Pre-BatchNorm layer outputs on the class-balanced subset, collected once and cached.

SNACS, MINT and several baselines score layers from the same statistics: the raw output of
every conv/linear (before BatchNorm and ReLU, as the official hook recorded it), global-
average-pooled over space so each filter gives one number per image (docs/method.md). One pass
over the subset records all layers; the result is cached on disk and shared by every
pruner of a benchmark, and its collection time is reported apart from scoring time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from snacs.errors import CheckpointError
from snacs.io import load_checkpoint, save_checkpoint

_FORMAT = "snacs.activations/1"


@dataclass
class Activations:
    """Per-layer activation matrices [N, channels] and the labels of the N samples.

    ``layers`` holds each layer's pooled output; ``inputs`` holds the pooled input of the
    layers that read a merged tensor (after a residual addition), whose input is not
    any single producer's output.
    """

    layers: dict[str, torch.Tensor]
    labels: torch.Tensor
    seconds: float
    inputs: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def num_samples(self) -> int:
        return int(self.labels.numel())

    def save(self, path: str | Path) -> None:
        save_checkpoint(
            path,
            {
                "format": _FORMAT,
                "layers": self.layers,
                "inputs": self.inputs,
                "labels": self.labels,
                "seconds": self.seconds,
            },
        )

    @classmethod
    def load(cls, path: str | Path) -> Activations:
        payload = load_checkpoint(path)
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise CheckpointError(f"{path} is not an activation cache written by snacs")
        return cls(
            payload["layers"], payload["labels"], float(payload["seconds"]), payload["inputs"]
        )


def pooled_output(output: torch.Tensor) -> torch.Tensor:
    """Average a [N, C, ...] map over its spatial dims; 2-D outputs pass through."""
    return output.flatten(2).mean(dim=2) if output.dim() > 2 else output


@torch.no_grad()
def collect_activations(
    model: nn.Module,
    layer_names: list[str],
    loader: DataLoader,
    device: torch.device,
    progress: bool = True,
    input_layers: list[str] = (),
) -> Activations:
    """Run ``loader`` through ``model`` once, recording pooled outputs of ``layer_names``
    and pooled inputs of ``input_layers``."""
    modules = dict(model.named_modules())
    chunks: dict[str, list[torch.Tensor]] = {name: [] for name in layer_names}
    input_chunks: dict[str, list[torch.Tensor]] = {name: [] for name in input_layers}
    labels: list[torch.Tensor] = []

    def recorder(name: str):
        def hook(_module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            chunks[name].append(pooled_output(output).float().cpu())
            if name in input_chunks:
                input_chunks[name].append(pooled_output(inputs[0]).float().cpu())

        return hook

    handles = [
        modules[name].register_forward_hook(recorder(name))
        for name in {*layer_names, *input_layers}
    ]
    was_training = model.training
    model.eval()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    try:
        for inputs, targets in tqdm(loader, desc="activations", disable=not progress, leave=False):
            model(inputs.to(device))
            labels.append(targets.cpu())
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    seconds = time.perf_counter() - start
    return Activations(
        layers={name: torch.cat(parts) for name, parts in chunks.items()},
        labels=torch.cat(labels).long(),
        seconds=seconds,
        inputs={name: torch.cat(parts) for name, parts in input_chunks.items()},
    )
