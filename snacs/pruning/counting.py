"""Parameter and MAC counts in the convention of the pruning literature.

FLOPs in filter-pruning papers are conv + linear multiply-accumulates for one image
(batch 1), ignoring BN, activations, pooling and residual adds, and usually bias (the
docs/reference.md's Conventions give the golden numbers). Counting is done with forward hooks on one
real forward pass, so
spatial sizes come from the model itself rather than from re-derived formulas, and
masks (the pruning plans' boolean weight masks) reduce the counts element by element:
a weight that is masked out costs neither a parameter nor a MAC.

Masks also leave weights dead that they do not name: a unit whose incoming connections
are all pruned, or whose outgoing connections are all pruned, carries no signal, so its
remaining weights, bias and BatchNorm entries cost nothing in a deployed model.
``credited_masks`` adds those, so a masked count is never below what physically slimming
the model achieves; counts of a plan should always go through it.

It sits in the pruning core because the core's target search counts with it;
``snacs.metrics`` hands the same functions to the steps that report counts.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.modules.conv import _ConvNd

from snacs.pruning.graph import LayerGraph, trace_layer_graph
from snacs.pruning.masking import complete_dead_channels

CountedLayer = _ConvNd | nn.Linear


def credited_masks(
    model: nn.Module, masks: Mapping[str, Tensor], graph: LayerGraph | None = None
) -> dict[str, Tensor]:
    """``masks`` plus every weight they leave dead, traced through the layer graph.

    A filter or unit with all its incoming or all its outgoing connections masked is dead,
    with its bias, BatchNorm entries and the weights that read it; a residual-coupled
    channel only when no path reads it (see ``snacs.pruning.masking.complete_dead_channels``).
    Pass ``graph`` when the caller has traced the model already.
    """
    if not masks:
        return {}
    return complete_dead_channels(model, graph or trace_layer_graph(model), dict(masks))


@dataclass(frozen=True)
class LayerCount:
    """Counts of one conv/linear layer call.

    ``output_shape`` is the full output tensor shape at batch 1, e.g. ``(1, 64, 32, 32)``;
    ``params`` includes the bias when the layer has one (kept elements only under a mask).
    """

    name: str
    kind: str
    weight_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    macs: int


def layer_counts(
    model: nn.Module,
    input_shape: tuple[int, ...],
    masks: Mapping[str, Tensor] | None = None,
    include_bias: bool = False,
) -> list[LayerCount]:
    """Count every conv/linear call of one forward pass on a zero input of ``input_shape``.

    ``input_shape`` excludes the batch dimension (e.g. ``(3, 32, 32)``). ``masks`` maps
    parameter names (``features.0.weight``) to boolean tensors, True = kept. Each weight
    element is used once per output position (input position for transposed convs), so a
    layer's MACs are its kept weight elements times those positions; with ``include_bias``
    each kept bias adds one MAC per output position. The model's device, dtype and
    train/eval modes are left as they were.
    """
    kept = _kept_counts(model, masks or {})
    names = {module: name for name, module in model.named_modules()}
    counts: list[LayerCount] = []

    def record(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        name = names[module]
        counts.append(_count_call(module, name, inputs[0], output, kept, include_bias))

    handles = [
        module.register_forward_hook(record)
        for module in model.modules()
        if isinstance(module, CountedLayer)
    ]
    modes = {module: module.training for module in model.modules()}
    try:
        model.eval()
        with torch.no_grad():
            model(_probe_input(model, input_shape))
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training
    return counts


def count_macs(
    model: nn.Module,
    input_shape: tuple[int, ...],
    masks: Mapping[str, Tensor] | None = None,
    include_bias: bool = False,
) -> int:
    """Total conv + linear MACs at batch 1 (the papers' "FLOPs")."""
    return sum(layer.macs for layer in layer_counts(model, input_shape, masks, include_bias))


def count_params(model: nn.Module, masks: Mapping[str, Tensor] | None = None) -> int:
    """All parameters of the model (BN included) minus the masked-out entries."""
    return sum(_kept_counts(model, masks or {}).values())


def _kept_counts(model: nn.Module, masks: Mapping[str, Tensor]) -> dict[str, int]:
    """Number of kept elements per parameter name; unmasked parameters count in full."""
    params = dict(model.named_parameters())
    unknown = sorted(set(masks) - set(params))
    if unknown:
        raise ValueError(f"masks name parameters the model does not have: {unknown[:5]}")
    kept = {}
    for name, param in params.items():
        mask = masks.get(name)
        if mask is None:
            kept[name] = param.numel()
            continue
        if tuple(mask.shape) != tuple(param.shape):
            raise ValueError(
                f"mask for {name} has shape {tuple(mask.shape)}, "
                f"the parameter has {tuple(param.shape)}"
            )
        kept[name] = int(torch.count_nonzero(mask))
    return kept


def _count_call(
    module: nn.Module,
    name: str,
    layer_input: Tensor,
    output: Tensor,
    kept: Mapping[str, int],
    include_bias: bool,
) -> LayerCount:
    """Counts of one hooked call from how often each weight and bias element is used."""
    prefix = f"{name}." if name else ""
    weight_kept = kept[f"{prefix}weight"]
    bias_kept = kept[f"{prefix}bias"] if module.bias is not None else 0
    if isinstance(module, nn.Linear):
        kind, out_units = "linear", module.out_features
        weight_uses = output.numel() // out_units  # tokens (1 for a plain batch-1 vector)
    else:
        kind, out_units = "conv", module.out_channels
        weight_uses = output.numel() // out_units  # output positions
        if module.transposed:  # a transposed conv applies each weight once per input position
            weight_uses = layer_input.numel() // module.in_channels
    bias_uses = output.numel() // out_units
    macs = weight_kept * weight_uses + (bias_kept * bias_uses if include_bias else 0)
    return LayerCount(
        name=name,
        kind=kind,
        weight_shape=tuple(module.weight.shape),
        output_shape=tuple(output.shape),
        params=weight_kept + bias_kept,
        macs=macs,
    )


def _probe_input(model: nn.Module, input_shape: tuple[int, ...]) -> Tensor:
    """A batch-1 zero input on the model's own device and floating dtype."""
    tensors = [*model.parameters(), *model.buffers()]
    floating = [t for t in tensors if t.is_floating_point()]
    device = tensors[0].device if tensors else torch.device("cpu")
    dtype = floating[0].dtype if floating else torch.get_default_dtype()
    return torch.zeros((1, *input_shape), device=device, dtype=dtype)
