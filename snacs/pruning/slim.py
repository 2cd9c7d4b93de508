"""Physically removing dead channels, so a plan's deployed cost can be measured.

Surgery goes through Torch-Pruning's dependency graph (one slimming backend for every
method) instead of hand-written layer edits: it drags BatchNorm, consumer
input channels and flatten-to-linear blocks along with each removed filter. Only channels
that the masks have fully killed are removed (see ``masking.dead_channels``), so the slim
model computes the same function as the masked one.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
import torch_pruning as tp
from torch import nn

from snacs.pruning.graph import LayerGraph
from snacs.pruning.masking import apply_masks, complete_dead_channels, dead_channels


def slim_model(
    model: nn.Module,
    graph: LayerGraph,
    masks: Mapping[str, torch.Tensor],
    input_shape: tuple[int, ...],
) -> tuple[nn.Module, dict[str, int]]:
    """Return a masked copy of ``model`` with dead channels removed, and channels removed per layer.

    Connection-level masks are first completed (``complete_dead_channels``): a channel
    whose inputs are all pruned, or that no consumer reads, is removed with its BatchNorm.
    For such plans the slim model may differ slightly from the masked one (the removed
    channel's constant BatchNorm shift is dropped); the harness reports both accuracies.
    """
    slim = copy.deepcopy(model).cpu()
    masks = complete_dead_channels(slim, graph, masks)
    apply_masks(slim, masks)
    dead = dead_channels(graph, masks)
    if not dead:
        return slim, {}
    was_training = slim.training
    slim.eval()
    example = torch.zeros(1, *input_shape)
    dependency = tp.DependencyGraph().build_dependency(slim, example_inputs=example, verbose=False)
    modules = dict(slim.named_modules())
    removed: dict[str, int] = {}
    for layer, channels in dead.items():
        module = modules[layer]
        prune_fn = (
            tp.prune_conv_out_channels
            if isinstance(module, nn.Conv2d)
            else tp.prune_linear_out_channels
        )
        group = dependency.get_pruning_group(module, prune_fn, idxs=channels)
        if not dependency.check_pruning_group(group):
            continue
        group.prune()
        removed[layer] = len(channels)
    slim.train(was_training)
    return slim, removed
