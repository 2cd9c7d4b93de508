"""The weight term of ACMI: normalised connection strengths and the phi scalings (docs/method.md).

The official code min-max normalises signed weights with the minimum and maximum over
the whole ``state_dict`` (BatchNorm buffers and even ``num_batches_tracked`` included),
then averages the k x k kernel of every (child filter, parent filter) connection. Both
that range and a cleaner one over conv/linear weights only are offered.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from snacs.errors import ConfigError
from snacs.pruning.groups import membership

NORMALISATIONS = ("conv_linear", "state_dict")

PHIS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "one": torch.ones_like,
    "weight": lambda w: w,
    "weight_sq": lambda w: w * w,
    "exp_weight": lambda w: torch.exp(-(w * w) / 2),
}


def normalisation_range(model: nn.Module, mode: str) -> tuple[float, float]:
    """(min, max) used to map signed weights into [0, 1]."""
    if mode == "state_dict":
        tensors = [t.detach().double() for t in model.state_dict().values() if t.numel()]
    elif mode == "conv_linear":
        tensors = [
            m.weight.detach().double()
            for m in model.modules()
            if isinstance(m, nn.Conv2d | nn.Linear)
        ]
    else:
        raise ConfigError(f"weight_normalisation must be one of {NORMALISATIONS}, not {mode!r}")
    low = min(float(t.min()) for t in tensors)
    high = max(float(t.max()) for t in tensors)
    return low, high


def connection_strength(
    weight: torch.Tensor, low: float, high: float, features_per_channel: int = 1
) -> torch.Tensor:
    """[C_out, C_in] mean normalised weight of each (child filter, parent channel) connection.

    Conv kernels are averaged over k x k; a linear layer fed by a flattened map averages
    the block of input features that belong to one parent channel.
    """
    normalised = (weight.detach().double().cpu() - low) / (high - low)
    out_channels = normalised.shape[0]
    if normalised.dim() == 4:
        return normalised.mean(dim=(2, 3))
    return normalised.reshape(out_channels, -1, features_per_channel).mean(dim=2)


def group_means(
    strength: torch.Tensor, child_ids: torch.Tensor, parent_ids: torch.Tensor
) -> torch.Tensor:
    """[G_c, G_p] mean connection strength between child group c and parent group g.

    Averaging over the members of both groups fixes the official code's indexing of the
    child weight row by the group index, which is only right for one filter per group.
    """
    return membership(child_ids) @ strength @ membership(parent_ids).T


def phi(name: str, weight_means: torch.Tensor) -> torch.Tensor:
    try:
        return PHIS[name](weight_means)
    except KeyError:
        raise ConfigError(f"phi must be one of {sorted(PHIS)}, not {name!r}") from None
