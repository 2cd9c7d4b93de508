"""Which layer feeds which, derived by tracing the model rather than by layer names.

The official SNACS code paired layers by their position in a hand-numbered list, which is
wrong wherever data does not flow from layer k to layer k+1 (ResNet50's projection
shortcuts, docs/method.md). Tracing the forward pass with ``torch.fx`` gives the true producers
of every conv/linear input, tells which outputs are merged by residual additions (and so
cannot lose filters independently), and finds the BatchNorm that normalises each layer.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import torch
from torch import fx, nn

INPUT = "<input>"
"""Pseudo-producer of tensors that come straight from the network input."""

_MERGING_FUNCTIONS = {operator.add, operator.iadd, torch.add, torch.cat, torch.stack}
_MERGING_METHODS = {"add", "add_", "__add__", "__iadd__"}
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_SCORED = (nn.Conv2d, nn.Linear)


@dataclass(frozen=True)
class LayerNode:
    """One conv or linear layer and its place in the data flow."""

    name: str
    kind: str  # "conv" or "linear"
    in_channels: int
    out_channels: int
    parents: tuple[str, ...]
    children: tuple[str, ...]
    norm: str | None  # BatchNorm applied directly to this layer's output
    coupled: bool  # output is merged with another tensor (residual add/concat)
    is_output: bool  # its output is (part of) the network output
    features_per_channel: int  # for a linear fed by a flattened map: inputs per parent channel
    depthwise: bool = False  # conv with one input channel per filter (groups = channels)

    @property
    def merged_input(self) -> bool:
        """Whether this layer reads a sum (or concatenation) of several producers."""
        return len(self.parents) > 1

    @property
    def filter_prunable(self) -> bool:
        """Whether output channels can be removed without touching any other layer's outputs.

        True for layers whose output reaches only other conv/linear layers, unmerged, and
        that are not the classifier. Residual-coupled layers need whole coupled groups to
        be removed together, which the filter baselines here do not attempt. A depthwise
        conv's filters are tied one-to-one to its producer's channels, so they go when the
        producer's filters go and are never chosen on their own.
        """
        return (
            not self.depthwise
            and not self.coupled
            and not self.is_output
            and self.out_channels > 1
            and len(self.children) > 0
        )


@dataclass
class LayerGraph:
    """Conv/linear layers of a model in forward order with their data-flow relations."""

    layers: dict[str, LayerNode] = field(default_factory=dict)

    def __getitem__(self, name: str) -> LayerNode:
        return self.layers[name]

    def __iter__(self):
        return iter(self.layers.values())

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def names(self) -> list[str]:
        return list(self.layers)

    def pairs(self) -> list[tuple[str, str]]:
        """(parent, child) pairs in forward order of the child; network input excluded."""
        return [(p, node.name) for node in self for p in node.parents if p != INPUT]

    def filter_prunable(self) -> list[str]:
        return [node.name for node in self if node.filter_prunable]

    def merged_input_layers(self) -> list[str]:
        return [node.name for node in self if node.merged_input]


@dataclass
class _Flow:
    sources: frozenset[str]
    merged: bool = False


def trace_layer_graph(model: nn.Module) -> LayerGraph:
    """Trace ``model`` once and return its conv/linear data-flow graph."""
    traced = fx.symbolic_trace(model)
    modules = dict(traced.named_modules())
    flows: dict[fx.Node, _Flow] = {}
    parents: dict[str, frozenset[str]] = {}
    norm_of: dict[str, str] = {}
    merged_layers: set[str] = set()
    output_layers: set[str] = set()
    order: list[str] = []

    def flow_of(arg: object) -> list[_Flow]:
        if isinstance(arg, fx.Node):
            return [flows[arg]] if arg in flows else []
        if isinstance(arg, (list, tuple)):
            return [f for a in arg for f in flow_of(a)]
        return []

    for node in traced.graph.nodes:
        inputs = [f for a in (*node.args, *node.kwargs.values()) for f in flow_of(a)]
        if node.op == "placeholder":
            flows[node] = _Flow(frozenset({INPUT}))
            continue
        if node.op == "output":
            for f in inputs:
                output_layers.update(f.sources - {INPUT})
            continue
        module = modules.get(node.target) if node.op == "call_module" else None
        if isinstance(module, _SCORED):
            name = str(node.target)
            if name in parents:
                raise ValueError(
                    f"layer {name} is called more than once; shared layers unsupported"
                )
            parents[name] = frozenset().union(*(f.sources for f in inputs[:1]))
            order.append(name)
            flows[node] = _Flow(frozenset({name}))
            continue
        if isinstance(module, _NORMS) and inputs:
            source = inputs[0]
            only = next(iter(source.sources)) if len(source.sources) == 1 else None
            if only in parents and not source.merged and only not in norm_of:
                norm_of[only] = str(node.target)
            flows[node] = source
            continue
        merging = (node.op == "call_function" and node.target in _MERGING_FUNCTIONS) or (
            node.op == "call_method" and node.target in _MERGING_METHODS
        )
        if merging and len(inputs) > 1:
            sources = frozenset().union(*(f.sources for f in inputs))
            merged_layers.update(sources - {INPUT})
            flows[node] = _Flow(sources, merged=True)
        elif inputs:
            flows[node] = inputs[0]

    children: dict[str, list[str]] = {name: [] for name in order}
    for name in order:
        for p in parents[name]:
            if p in children:
                children[p].append(name)

    graph = LayerGraph()
    for name in order:
        module = modules[name]
        in_ch, out_ch = _channels(module)
        parent_names = tuple(p for p in _ordered(parents[name], order))
        graph.layers[name] = LayerNode(
            name=name,
            kind="conv" if isinstance(module, nn.Conv2d) else "linear",
            in_channels=in_ch,
            out_channels=out_ch,
            parents=parent_names,
            children=tuple(children[name]),
            norm=norm_of.get(name),
            coupled=name in merged_layers,
            is_output=name in output_layers,
            features_per_channel=_features_per_channel(module, parent_names, modules),
            depthwise=_is_depthwise(module),
        )
    return graph


def _ordered(names: frozenset[str], order: list[str]) -> list[str]:
    rank = {n: i for i, n in enumerate(order)}
    return sorted(names, key=lambda n: rank.get(n, -1))


def _is_depthwise(module: nn.Module) -> bool:
    return (
        isinstance(module, nn.Conv2d)
        and module.groups > 1
        and module.groups == module.in_channels == module.out_channels
    )


def _channels(module: nn.Module) -> tuple[int, int]:
    if isinstance(module, nn.Conv2d):
        return module.in_channels, module.out_channels
    return module.in_features, module.out_features


def _features_per_channel(
    module: nn.Module, parents: tuple[str, ...], modules: dict[str, nn.Module]
) -> int:
    """How many input features of a linear layer belong to one channel of its producer."""
    if not isinstance(module, nn.Linear) or len(parents) != 1 or parents[0] == INPUT:
        return 1
    _, producer_channels = _channels(modules[parents[0]])
    if module.in_features % producer_channels:
        return 1
    return module.in_features // producer_channels
