"""PruneContext: everything a pruner may read, built once per benchmark.

Pruners never load data or models themselves; they get the dense model, its traced layer
graph, the class-balanced statistics subset and the (cached) activations from here. That
keeps every method on identical inputs and lets the harness time the scoring alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from snacs.pruning.activations import Activations, collect_activations
from snacs.pruning.graph import LayerGraph, trace_layer_graph
from snacs.pruning.target import CostModel


@dataclass
class PruneContext:
    """Inputs shared by all pruners of one benchmark."""

    model: nn.Module
    input_shape: tuple[int, ...]
    num_classes: int
    subset: Dataset
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    seed: int = 0
    batch_size: int = 256
    activations_path: Path | None = None
    progress: bool = True
    _activations: Activations | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.model = self.model.to(self.device).eval()

    @cached_property
    def graph(self) -> LayerGraph:
        return trace_layer_graph(self.model)

    @cached_property
    def cost(self) -> CostModel:
        return CostModel(self.model, self.input_shape, self.graph)

    def subset_loader(self, batch_size: int | None = None) -> DataLoader:
        """Deterministic, unshuffled loader over the statistics subset."""
        return DataLoader(self.subset, batch_size=batch_size or self.batch_size, shuffle=False)

    def activations(self) -> Activations:
        """Pooled pre-BN outputs of every conv/linear layer, from cache when available."""
        if self._activations is None:
            path = self.activations_path
            if path is not None and Path(path).is_file():
                self._activations = Activations.load(path)
            else:
                self._activations = collect_activations(
                    self.model,
                    self.graph.names,
                    self.subset_loader(),
                    self.device,
                    self.progress,
                    self.graph.merged_input_layers(),
                )
                if path is not None:
                    self._activations.save(path)
        return self._activations

    def weights(self, layer: str) -> torch.Tensor:
        """The dense weight tensor of ``layer`` (detached)."""
        return dict(self.model.named_modules())[layer].weight.detach()
