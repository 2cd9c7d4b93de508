"""PruningPlan: the one currency between pruners and the rest of the harness.

A plan is a set of boolean keep-masks over parameter tensors, at whichever granularity its
pruner works (whole filters, or parent->child kernel slices). Fine-tuning, counting,
slimming and the reports read plans only, never pruner internals, so a new pruner needs no
change anywhere downstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from snacs.errors import CheckpointError
from snacs.io import load_checkpoint, save_checkpoint

GRANULARITIES = ("filter", "connection")
_FORMAT = "snacs.pruning_plan/1"


@dataclass
class PruningPlan:
    """Keep-masks (True = kept) keyed by parameter name, plus what made them."""

    method: str
    granularity: str
    masks: dict[str, torch.Tensor] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.granularity not in GRANULARITIES:
            raise ValueError(
                f"granularity must be one of {GRANULARITIES}, not {self.granularity!r}"
            )
        self.masks = {k: v.detach().to("cpu", torch.bool) for k, v in self.masks.items()}

    def pruned_elements(self) -> int:
        return int(sum((~m).sum().item() for m in self.masks.values()))

    def check_against(self, model: nn.Module) -> None:
        """Fail clearly when the plan was made for another architecture."""
        params = dict(model.named_parameters())
        for name, mask in self.masks.items():
            if name not in params:
                raise CheckpointError(f"plan masks parameter {name!r}, which the model lacks")
            if tuple(params[name].shape) != tuple(mask.shape):
                raise CheckpointError(
                    f"plan mask for {name!r} has shape {tuple(mask.shape)}, "
                    f"model parameter has {tuple(params[name].shape)}"
                )

    def save(self, path: str | Path) -> None:
        save_checkpoint(
            path,
            {
                "format": _FORMAT,
                "method": self.method,
                "granularity": self.granularity,
                "masks": self.masks,
                "info": self.info,
            },
        )

    @classmethod
    def load(cls, path: str | Path) -> PruningPlan:
        payload = load_checkpoint(path)
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise CheckpointError(f"{path} is not a pruning plan written by snacs")
        return cls(
            method=payload["method"],
            granularity=payload["granularity"],
            masks=payload["masks"],
            info=payload.get("info", {}),
        )
