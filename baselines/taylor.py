"""First-order Taylor importance (Molchanov, Mallya, Tyree, Frosio, Kautz, CVPR 2019).

The loss change from removing a filter is approximated to first order by the gradient
times the parameters that removing it zeroes; squaring the per-filter sum (rather than
summing squares) estimates the change of removing the filter as a whole. Scores are
averaged over mini-batches, as in the paper.

Settings used here:

* The paper's best variant on networks with BatchNorm, "FO on BN": the parameters are the
  BatchNorm scale and shift of the filter, importance = (g_gamma * gamma + g_beta * beta)^2,
  which equals the squared gradient of a gate placed after the BatchNorm. Layers without
  BatchNorm (the MLP) use the filter's own weights and bias instead:
  importance = (sum of gradient * weight over the filter)^2.
* Gradients of the mean cross-entropy on the statistics subset's labels, one backward pass
  per batch with the model in evaluation mode (running BatchNorm statistics, no dropout), so
  scoring does not change the model. The paper accumulated scores during fine-tuning and
  pruned iteratively; this harness scores once, as for every single-shot baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from snacs.errors import ConfigError
from snacs.pruning.context import PruneContext
from snacs.pruning.pruner import FilterPruner, Scores, register_pruner


@dataclass(frozen=True)
class TaylorOptions:
    """max_batches: how many subset batches to average over (None: the whole subset)."""

    max_batches: int | None = None

    def __post_init__(self) -> None:
        if self.max_batches is not None and self.max_batches < 1:
            raise ConfigError(f"taylor option max_batches must be >= 1, got {self.max_batches}")


@register_pruner
class TaylorPruner(FilterPruner):
    name = "taylor"
    color = "#8c6d31"
    marker = "h"
    citation = (
        "Molchanov, Mallya, Tyree, Frosio, Kautz, Importance Estimation for Neural Network "
        "Pruning, CVPR 2019"
    )
    summary = "squared first-order Taylor term of the filter's BN scale and shift"
    Options = TaylorOptions

    def score(self, ctx: PruneContext) -> Scores:
        layers = ctx.graph.filter_prunable()
        gated = {name: _gate_parameters(ctx, name) for name in layers}
        parameters = [p for params in gated.values() for p in params]
        flags = [p.requires_grad for p in parameters]
        totals = {
            name: torch.zeros(ctx.graph[name].out_channels, dtype=torch.float64) for name in layers
        }
        batches = 0
        was_training = ctx.model.training
        ctx.model.eval()
        try:
            for p in parameters:
                p.requires_grad_(True)
            for images, labels in ctx.subset_loader():
                if self.options.max_batches is not None and batches >= self.options.max_batches:
                    break
                with torch.enable_grad():
                    logits = ctx.model(images.to(ctx.device))
                    loss = F.cross_entropy(logits, labels.to(ctx.device))
                    grads = torch.autograd.grad(loss, parameters)
                grad_of = dict(zip(map(id, parameters), grads, strict=True))
                for name, params in gated.items():
                    first_order = sum(_per_filter(grad_of[id(p)] * p.detach()) for p in params)
                    totals[name] += first_order.double().pow(2).cpu()
                batches += 1
        finally:
            for p, flag in zip(parameters, flags, strict=True):
                p.requires_grad_(flag)
            ctx.model.train(was_training)
        return Scores({name: total / max(batches, 1) for name, total in totals.items()})


def _gate_parameters(ctx: PruneContext, layer: str) -> list[nn.Parameter]:
    """BN scale and shift of the layer, or its weight and bias when it has no BN."""
    owner = ctx.model.get_submodule(ctx.graph[layer].norm or layer)
    return [p for p in (owner.weight, owner.bias) if p is not None]


def _per_filter(values: torch.Tensor) -> torch.Tensor:
    """Sum over everything but the output-channel dimension."""
    return values.reshape(values.shape[0], -1).sum(dim=1)
