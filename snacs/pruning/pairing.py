"""Which (child layer, parent signal) pairs connection-level pruners score.

SNACS and MINT both score every layer against what feeds it and must agree on the pairing,
or their per-layer results would not be comparable; the rule therefore lives in the core
rather than in either method.
"""

from __future__ import annotations

import torch

from snacs.errors import ConfigError
from snacs.pruning.activations import Activations
from snacs.pruning.graph import INPUT, LayerGraph, LayerNode

PARENT_SIGNALS = ("producer", "input")


def scored_children(graph: LayerGraph) -> list[LayerNode]:
    """Layers with at least one layer (not the network input) feeding them, depthwise excepted.

    A depthwise conv has a single connection per filter (filter k reads channel k only),
    so removing one of its connections is removing a filter of its producer; that decision
    is left to the producer's own channel bookkeeping instead of a pairwise score.
    """
    return [
        node for node in graph if node.parents and node.parents != (INPUT,) and not node.depthwise
    ]


def parent_activations(activations: Activations, node: LayerNode, signal: str) -> torch.Tensor:
    """[N, C_in channels] activations of what feeds ``node``.

    ``producer`` (default) uses the single producer's pre-BN output, as the official hook
    recorded it, and the pooled input where several producers are summed (residual
    additions), since no single producer's output is what the child reads. ``input``
    always uses the child's pooled input.
    """
    if signal not in PARENT_SIGNALS:
        raise ConfigError(f"parent_signal must be one of {PARENT_SIGNALS}, not {signal!r}")
    if signal == "producer" and not node.merged_input:
        return activations.layers[node.parents[0]]
    if node.name not in activations.inputs:
        raise ConfigError(
            f"the activation cache has no input record for {node.name}; "
            "collect activations with this model's merged-input layers"
        )
    return activations.inputs[node.name]
