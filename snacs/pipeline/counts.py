"""Latency of a model and the per-layer counts ``snacs count`` prints of an architecture.

A plan's counts and reductions are the pruning core's (``snacs.pruning.accounting``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from snacs.errors import ConfigError
from snacs.metrics import (
    LayerCount,
    count_macs,
    count_params,
    layer_counts,
    measure_latency,
)
from snacs.models import build_model, model_info


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
