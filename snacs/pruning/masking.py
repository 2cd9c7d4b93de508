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
    """Extend connection-level masks to whole channels that can no longer carry a signal.

    A channel is dead when all of its incoming weights are masked (it only emits a
    constant) or when every consumer has masked all of its slices (nobody reads it).
    Only layers that are not residual-coupled are completed: a coupled channel still
    carries the other branch of the addition.
    """
    result = {**full_masks(model, graph), **{k: v.clone() for k, v in masks.items()}}
    changed = True
    while changed:
        changed = False
        for node in graph:
            if not node.filter_prunable:
                continue
            weight = result[f"{node.name}.weight"]
            no_input = ~weight.reshape(weight.shape[0], -1).any(dim=1)
            unread = torch.ones(node.out_channels, dtype=torch.bool)
            for child_name in node.children:
                unread &= ~_read_channels(result, graph, graph[child_name], node.out_channels)
            dead = (no_input | unread).nonzero().flatten().tolist()
            if not dead:
                continue
            before = sum(int(m.sum()) for m in result.values())
            _remove_channels(result, graph, node, dead)
            changed = changed or sum(int(m.sum()) for m in result.values()) != before
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


def _read_channels(
    masks: Masks, graph: LayerGraph, child: LayerNode, channels: int
) -> torch.Tensor:
    """For each producer channel, whether ``child`` still has any kept weight reading it.

    A depthwise child passes channel k on as its own channel k, so it reads k only while
    its filter k is kept and someone downstream still reads that filter's output.
    """
    child_mask = masks[f"{child.name}.weight"]
    if child.depthwise:
        kept = child_mask.reshape(channels, -1).any(dim=1)
        if child.is_output or not child.children:
            return kept
        passed_on = torch.zeros(channels, dtype=torch.bool)
        for grandchild in child.children:
            passed_on |= _read_channels(masks, graph, graph[grandchild], channels)
        return kept & passed_on
    per_column = child_mask.transpose(0, 1).reshape(child_mask.shape[1], -1).any(dim=1)
    return per_column.reshape(channels, -1).any(dim=1)


def _remove_channels(masks: Masks, graph: LayerGraph, node: LayerNode, channels: list[int]) -> None:
    if not channels:
        return
    if len(set(channels)) >= node.out_channels:
        raise ValueError(f"cannot remove every output channel of {node.name}")
    index = torch.tensor(sorted(set(channels)), dtype=torch.long)
    for name in _owned_parameters(node):
        if name in masks:
            masks[name][index] = False
    for child_name in node.children:
        child = graph[child_name]
        if INPUT in child.parents or len(child.parents) != 1:
            raise ValueError(f"{node.name} feeds {child.name} together with other producers")
        if child.depthwise:  # its filter k reads only channel k: it goes too
            _remove_channels(masks, graph, child, channels)
        else:
            masks[f"{child.name}.weight"][:, _input_columns(child, index)] = False
