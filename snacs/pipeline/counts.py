"""Parameter, FLOP and latency summaries of one model, computed the same way for every row."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from snacs.metrics import count_macs, count_params, credited_masks, measure_latency


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


def latency(model: nn.Module, input_shape: tuple[int, ...], spec: Mapping, device) -> dict:
    evaluation = spec["evaluation"]
    return measure_latency(
        model,
        input_shape,
        batch_size=evaluation["latency_batch_size"],
        device=device,
        repeats=evaluation["latency_repeats"],
    )
