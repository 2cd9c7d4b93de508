"""Parameter, FLOP and latency summaries of one model, computed the same way for every row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from snacs.errors import ConfigError
from snacs.metrics import (
    LayerCount,
    count_macs,
    count_params,
    credited_masks,
    layer_counts,
    measure_latency,
)
from snacs.models import build_model, model_info
from snacs.pruning.graph import LayerGraph
from snacs.pruning.slim import slim_model


def model_counts(
    model: nn.Module,
    input_shape: tuple[int, ...],
    masks: Mapping[str, torch.Tensor] | None = None,
) -> dict[str, int]:
    """Parameters and conv+linear MACs at batch 1 (bias excluded, the literature's convention).

    Under ``masks`` the weights they leave dead are credited too (``credited_masks``).
    """
    masks = credited_masks(model, masks) if masks else None
    return {
        "params": count_params(model, masks),
        "macs": count_macs(model, input_shape, masks),
    }


def plan_counts(
    model: nn.Module,
    graph: LayerGraph,
    masks: Mapping[str, torch.Tensor],
    input_shape: tuple[int, ...],
) -> dict[str, dict]:
    """Dense, masked and slim counts of a plan, and the reductions they achieve.

    Every pruning record (a pruner's run or one of its controls) reports these alike.
    """
    dense = model_counts(model, input_shape)
    masked = model_counts(model, input_shape, masks)
    slim, _ = slim_model(model, graph, masks, input_shape)
    slimmed = model_counts(slim, input_shape)
    achieved = {
        "params_reduction": 1 - masked["params"] / dense["params"],
        "flops_reduction": 1 - masked["macs"] / dense["macs"],
        "slim_params_reduction": 1 - slimmed["params"] / dense["params"],
        "slim_flops_reduction": 1 - slimmed["macs"] / dense["macs"],
    }
    return {"dense": dense, "masked": masked, "slim": slimmed, "achieved": achieved}


def latency(model: nn.Module, input_shape: tuple[int, ...], spec: Mapping, device) -> dict:
    evaluation = spec["evaluation"]
    return measure_latency(
        model,
        input_shape,
        batch_size=evaluation["latency_batch_size"],
        device=device,
        repeats=evaluation["latency_repeats"],
    )


@dataclass(frozen=True)
class ArchitectureCounts:
    """What ``snacs count`` reports about one registered architecture, before any pruning."""

    arch: str
    num_classes: int
    input_shape: tuple[int, ...]
    params: int
    macs: int
    macs_with_bias: int
    layers: list[LayerCount]

    def totals(self) -> dict:
        """The totals as plain JSON values (the per-layer rows left out)."""
        return {
            "arch": self.arch,
            "num_classes": self.num_classes,
            "input_shape": list(self.input_shape),
            "params": self.params,
            "macs": self.macs,
            "macs_with_bias": self.macs_with_bias,
        }


def architecture_counts(
    arch: str,
    num_classes: int | None = None,
    knobs: Mapping[str, Any] | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> ArchitectureCounts:
    """Count a freshly built architecture; classes and input shape default to the registry's.

    An input shape the network cannot take is a ConfigError naming the shape, not a
    shape mismatch from deep inside a layer.
    """
    knobs = dict(knobs or {})
    info = model_info(arch)
    classes = info.num_classes if num_classes is None else num_classes
    model = build_model(arch, classes, **knobs)
    shape = tuple(input_shape) if input_shape else info.input_shape_for(knobs)
    try:
        layers = layer_counts(model, shape)
    except RuntimeError as exc:
        raise ConfigError(
            f"input shape {','.join(map(str, shape))} does not fit {arch} "
            f"(expected {','.join(map(str, info.input_shape_for(knobs)))}): {exc}"
        ) from exc
    return ArchitectureCounts(
        arch=arch,
        num_classes=classes,
        input_shape=shape,
        params=count_params(model),
        macs=count_macs(model, shape),
        macs_with_bias=count_macs(model, shape, include_bias=True),
        layers=layers,
    )


def format_count_table(counts: ArchitectureCounts) -> str:
    """Per-layer table and a totals line, as ``snacs count`` prints them."""
    lines = [
        f"{'layer':<28} {'kind':<6} {'weight shape':<20} {'output shape':<18} "
        f"{'params':>12} {'MACs':>15}"
    ]
    for row in counts.layers:
        lines.append(
            f"{row.name:<28} {row.kind:<6} {str(row.weight_shape):<20} "
            f"{str(row.output_shape):<18} {row.params:>12,} {row.macs:>15,}"
        )
    lines.append(
        f"\n{counts.arch} ({counts.num_classes} classes) at input {counts.input_shape}: "
        f"{counts.params:,} parameters (all, incl. BN), {counts.macs:,} conv+linear MACs "
        f"({counts.macs_with_bias:,} with bias)"
    )
    return "\n".join(lines)
