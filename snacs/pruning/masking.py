"""Turning pruning decisions into parameter masks, and keeping masks fixed while training.

Removing a filter is more than zeroing its weights: its bias and BatchNorm shift would
still emit a constant (the masked-vs-slim accuracy gap NNI users hit), and the consumers'
input slices for that channel become dead weight. ``filter_masks`` and
``complete_dead_channels`` mask all of that, so a masked model computes exactly what the
physically slimmed model computes, and masked and slim counts agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import nn

from snacs.pruning.graph import INPUT, LayerGraph, LayerNode

Masks = dict[str, torch.Tensor]


def full_masks(model: nn.Module, graph: LayerGraph) -> Masks:
    """All-True masks for every weight, bias and norm affine of the graph's layers."""
    params = dict(model.named_parameters())
    masks: Masks = {}
    for node in graph:
        for name in _owned_parameters(node):
            if name in params:
                masks[name] = torch.ones_like(params[name], dtype=torch.bool, device="cpu")
    return masks


def filter_masks(model: nn.Module, graph: LayerGraph, pruned: Mapping[str, Iterable[int]]) -> Masks:
    """Masks that remove the given output channels of each layer, with all that depends on them."""
    masks = full_masks(model, graph)
    for layer, channels in pruned.items():
        _remove_channels(masks, graph, graph[layer], list(channels))
    return masks


def complete_dead_channels(model: nn.Module, graph: LayerGraph, masks: Masks) -> Masks:
    """Extend connection-level masks to everything that can no longer carry a signal.

    A channel of a layer whose output feeds only other layers is dead when all of its
    incoming weights are masked (it only emits a constant) or when every consumer has
    masked all of its slices (nobody reads it); its filter, bias, BatchNorm entries and
    the consumers' slices for it are masked. A residual-coupled channel still carries the
    other branch of the addition, so it is dead only when it is dead on every path: when
    no consumer of the merged tensor reads it (then each producer's filter, bias and
    BatchNorm entries for it are masked). Consumers that see the merged tensor through a
    channel-changing shortcut (zero padding) keep every channel alive, since the index
    mapping is not known. Repeated until nothing changes, so death propagates through the
    whole network. A layer is never emptied: a fully disconnected layer is left as it is.
    """
    result = {**full_masks(model, graph), **{k: v.clone() for k, v in masks.items()}}
    changed = True
    while changed:
        changed = False
        for node in graph:
            if node.is_output or not node.children:
                continue
            dead = _unread_channels(result, graph, node)
            if node.filter_prunable:
                weight = result[f"{node.name}.weight"]
                dead |= ~weight.reshape(weight.shape[0], -1).any(dim=1)
            channels = dead.nonzero().flatten().tolist()
            if not channels or len(channels) >= node.out_channels:
                continue
            if node.filter_prunable:
                changed |= _remove_channels(result, graph, node, channels)
            else:
                changed |= _silence_channels(result, node, channels)
    return result


def dead_channels(graph: LayerGraph, masks: Mapping[str, torch.Tensor]) -> dict[str, list[int]]:
    """Output channels of prunable layers whose whole filter is masked out."""
    dead: dict[str, list[int]] = {}
    for node in graph:
        weight = masks.get(f"{node.name}.weight")
        if weight is None or not node.filter_prunable:
            continue
        gone = (~weight.reshape(weight.shape[0], -1).any(dim=1)).nonzero().flatten().tolist()
        if gone:
            dead[node.name] = gone
    return dead


@torch.no_grad()
def apply_masks(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> None:
    """Zero every masked-out parameter entry in place."""
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        param = params[name]
        param.mul_(mask.to(param.device, param.dtype))


class MaskEnforcer:
    """Re-applies fixed masks after each optimiser step, so pruned entries stay exactly zero.

    Re-applying after the step (rather than masking gradients) also cancels weight decay
    and momentum that would otherwise revive a pruned weight.
    """

    def __init__(self, model: nn.Module, masks: Mapping[str, torch.Tensor]):
        params = dict(model.named_parameters())
        self._pairs = [
            (params[name], mask.to(params[name].device, params[name].dtype))
            for name, mask in masks.items()
            if not bool(mask.all())
        ]

    @torch.no_grad()
    def __call__(self, model: nn.Module | None = None) -> None:
        for param, mask in self._pairs:
            param.mul_(mask)


def _owned_parameters(node: LayerNode) -> list[str]:
    names = [f"{node.name}.weight", f"{node.name}.bias"]
    if node.norm:
        names += [f"{node.norm}.weight", f"{node.norm}.bias"]
    return names


def _input_columns(child: LayerNode, channels: torch.Tensor) -> torch.Tensor:
    """Input columns of ``child`` fed by the given producer channels (flatten-aware)."""
    width = child.features_per_channel
    return (channels[:, None] * width + torch.arange(width)[None, :]).flatten()


def _read_channels(child_mask: torch.Tensor, child: LayerNode, channels: int) -> torch.Tensor:
    """For each producer channel, whether ``child`` still has any kept weight reading it."""
    per_column = child_mask.transpose(0, 1).reshape(child_mask.shape[1], -1).any(dim=1)
    return per_column.reshape(channels, -1).any(dim=1)


def _unread_channels(masks: Masks, graph: LayerGraph, node: LayerNode) -> torch.Tensor:
    """Output channels of ``node`` that no consumer reads through a kept weight.

    A consumer whose input width does not match ``node``'s channels (it reads a padded or
    concatenated tensor) counts as reading every channel. A depthwise consumer passes
    channel k on as its own channel k, so it reads k only while its filter k is kept and
    one of its own consumers still reads that filter's output.
    """
    unread = torch.ones(node.out_channels, dtype=torch.bool)
    for child_name in node.children:
        child = graph[child_name]
        child_mask = masks[f"{child.name}.weight"]
        if child.depthwise:
            kept = child_mask.reshape(node.out_channels, -1).any(dim=1)
            if not child.is_output and child.children:
                kept &= ~_unread_channels(masks, graph, child)
            unread &= ~kept
            continue
        if child_mask.shape[1] != node.out_channels * child.features_per_channel:
            return torch.zeros(node.out_channels, dtype=torch.bool)
        unread &= ~_read_channels(child_mask, child, node.out_channels)
    return unread


def _silence_channels(masks: Masks, node: LayerNode, channels: list[int]) -> bool:
    """Mask a coupled layer's own entries for unread channels; return whether any was kept."""
    index = torch.tensor(sorted(set(channels)), dtype=torch.long)
    changed = False
    for name in _owned_parameters(node):
        if name in masks:
            changed |= bool(masks[name][index].any())
            masks[name][index] = False
    return changed


def _remove_channels(masks: Masks, graph: LayerGraph, node: LayerNode, channels: list[int]) -> bool:
    """Mask the channels' filters, biases, norms and consumer reads; True if any was kept."""
    if not channels:
        return False
    if len(set(channels)) >= node.out_channels:
        raise ValueError(f"cannot remove every output channel of {node.name}")
    index = torch.tensor(sorted(set(channels)), dtype=torch.long)
    changed = _silence_channels(masks, node, channels)
    for child_name in node.children:
        child = graph[child_name]
        if INPUT in child.parents or len(child.parents) != 1:
            raise ValueError(f"{node.name} feeds {child.name} together with other producers")
        if child.depthwise:  # its filter k reads only channel k: it goes too
            changed |= _remove_channels(masks, graph, child, channels)
            continue
        columns = _input_columns(child, index)
        child_mask = masks[f"{child.name}.weight"]
        changed |= bool(child_mask[:, columns].any())
        child_mask[:, columns] = False
    return changed
