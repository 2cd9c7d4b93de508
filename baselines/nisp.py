"""NISP: Neuron Importance Score Propagation (Yu et al., CVPR 2018).

NISP argues that a neuron matters as much as it contributes to the network's final
response, and approximates that contribution by propagating importance backwards through
the absolute weights: a layer's input importance is |W|^T times its output importance.

Settings used here:

* Final response: the logits, every class equally important. The paper ranks the
  final-response neurons with Inf-FS feature selection on their activations; uniform class
  importance keeps the score free of data and of a second method's parameters, which is
  the choice we document rather than reproduce.
* Convolutions are treated as NISP treats them: |W| summed over the kernel gives the
  output-channel x input-channel matrix. Grouped convolutions use the block-diagonal
  matrix of their groups. A linear layer fed by a flattened map sums the columns that
  belong to one channel.
* BatchNorm at inference is a per-channel affine map, so its gain |gamma| / sqrt(var + eps)
  is part of the linear map importance passes through (the paper's networks had no BN). A
  filter whose BatchNorm scale is zero therefore gets importance zero, as it should.
* Residual additions: the input importance of a layer reading a sum is given to every
  producer of the sum (the addition is linear with unit weights). Option-A shortcuts
  zero-pad channels symmetrically, so a narrower producer's channel c is channel
  c + (width difference) / 2 of the sum, as in this harness's CIFAR ResNets.

Scores need no data: only weights and BatchNorm statistics are read.
"""

from __future__ import annotations

import torch
from torch import nn

from snacs.errors import SnacsError
from snacs.pruning.context import PruneContext
from snacs.pruning.graph import INPUT, LayerNode
from snacs.pruning.pruner import FilterPruner, Scores, register_pruner


@register_pruner
class NispPruner(FilterPruner):
    name = "nisp"
    color = "#9467bd"
    marker = "v"
    citation = (
        "Yu, Li, Chen, Lai, Morariu, Han, Gao, Lin, Davis, NISP: Pruning Networks using "
        "Neuron Importance Score Propagation, CVPR 2018"
    )
    summary = "importance of the logits propagated back through |W| and BN gains"

    def score(self, ctx: PruneContext) -> Scores:
        importance = propagated_importance(ctx)
        return Scores({name: importance[name].cpu() for name in ctx.graph.filter_prunable()})


@torch.no_grad()
def propagated_importance(ctx: PruneContext) -> dict[str, torch.Tensor]:
    """Importance of every layer's filter responses (before BN), from the output backwards."""
    graph = ctx.graph
    read_importance = {  # of each output channel as its consumers read it (after BN)
        node.name: torch.zeros(node.out_channels, dtype=torch.float64, device=ctx.device)
        for node in graph
    }
    importance = {}
    for node in reversed(list(graph)):
        if node.is_output:
            read_importance[node.name] += 1.0
        importance[node.name] = read_importance[node.name] * _norm_gain(ctx, node)
        module = ctx.model.get_submodule(node.name)
        reaching_input = _abs_transfer(module, node).T @ importance[node.name]  # [in_channels]
        for parent in node.parents:
            if parent != INPUT:
                read_importance[parent] += _aligned(reaching_input, graph[parent], node)
    return importance


def _norm_gain(ctx: PruneContext, node: LayerNode) -> torch.Tensor:
    """|gamma| / sqrt(running_var + eps) of the layer's BatchNorm, or 1 without one."""
    if node.norm is None:
        return torch.ones(node.out_channels, dtype=torch.float64, device=ctx.device)
    norm = ctx.model.get_submodule(node.norm)
    scale = norm.weight.double() if norm.weight is not None else 1.0
    return (scale / torch.sqrt(norm.running_var.double() + norm.eps)).abs()


def _abs_transfer(module: nn.Module, node: LayerNode) -> torch.Tensor:
    """[out_channels, in_channels] matrix of absolute weights summed per channel pair."""
    weight = module.weight.detach().double().abs()
    if isinstance(module, nn.Conv2d):
        per_pair = weight.flatten(2).sum(dim=2)
        if module.groups > 1:
            per_pair = torch.block_diag(*per_pair.chunk(module.groups, dim=0))
        return per_pair
    return weight.reshape(weight.shape[0], -1, node.features_per_channel).sum(dim=2)


def _aligned(reaching_input: torch.Tensor, parent: LayerNode, child: LayerNode) -> torch.Tensor:
    """The part of the child's input importance that falls on the parent's channels."""
    width = parent.out_channels
    if width == len(reaching_input):
        return reaching_input
    if width > len(reaching_input):
        raise SnacsError(
            f"{parent.name} has {width} channels but {child.name} reads only "
            f"{len(reaching_input)}; NISP cannot align them"
        )
    offset = (len(reaching_input) - width) // 2
    return reaching_input[offset : offset + width]
