"""Typed scores: what a pruner's timed ``score`` step hands to its ``plan`` step.

Two shapes, one per granularity. ``Scores`` rank whole filters (one score per output
channel); ``ConnectionScores`` rank (child group, parent group) connections of every child
layer. Both carry the per-layer caps, the protected units and the timed parts of the
scoring as fields, so the harness, the controls and the records read them by name. A run
saves its scores beside its plan (``save_scores``), so a control can invert the pruner's
own ranking without scoring again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from snacs.errors import CheckpointError
from snacs.io import load_checkpoint, save_checkpoint

_FORMAT = "snacs.scores/1"


@dataclass
class Scores:
    """One score per output channel of each scored layer; lower means less important.

    layer_caps: layer -> largest share of its filters to remove (layers not listed use the
        pruner's ``layer_cap``).
    protected: layer -> boolean mask of filters never to remove.
    timings: part name -> seconds, when the pruner times parts of its scoring; recorded in
        the plan as ``score_timings`` and shown in the timings table.
    """

    per_layer: dict[str, torch.Tensor]
    layer_caps: dict[str, float] = field(default_factory=dict)
    protected: dict[str, torch.Tensor] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def plan_info(self) -> dict[str, Any]:
        """What the scores add to the plan's info (nothing beyond the shared entries)."""
        return {}


@dataclass
class GroupScores:
    """Scores of one child layer's incoming connections, at group granularity."""

    child: str
    rho: torch.Tensor  # [G_c, G_p]: higher means more important
    child_ids: torch.Tensor  # [C_out] group id of each child filter
    parent_ids: torch.Tensor  # [C_in channels] group id of each parent channel


@dataclass
class ConnectionScores:
    """Group-connection scores of every scored child layer, with what planning needs.

    groups: child layer -> its connection scores.
    layer_caps: child layer -> largest share of its group connections to prune (the
        pruner's ``layer_cap`` option bounds every layer; layers not listed get it).
    protected: child layer -> boolean [G_c] mask of child groups whose connections are
        never pruned.
    timings: part name -> seconds of the scoring's timed parts.
    """

    groups: dict[str, GroupScores]
    layer_caps: dict[str, float] = field(default_factory=dict)
    protected: dict[str, torch.Tensor] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, pair in self.groups.items():
            self.protected.setdefault(name, torch.zeros(pair.rho.shape[0], dtype=torch.bool))

    @property
    def per_layer(self) -> dict[str, torch.Tensor]:
        """The [G_c, G_p] score matrix of each child layer."""
        return {name: pair.rho for name, pair in self.groups.items()}

    def plan_info(self) -> dict[str, Any]:
        """What the scores add to the plan's info; subclasses add their diagnostics."""
        return {"protected_groups": {k: int(v.sum()) for k, v in self.protected.items()}}


PrunerScores = Scores | ConnectionScores


def save_scores(scores: PrunerScores, path: str | Path) -> None:
    """Write the scores a plan was made from (the fields planning and controls read)."""
    payload: dict[str, Any] = {
        "format": _FORMAT,
        "layer_caps": dict(scores.layer_caps),
        "protected": dict(scores.protected),
        "timings": dict(scores.timings),
    }
    if isinstance(scores, ConnectionScores):
        payload["granularity"] = "connection"
        payload["groups"] = {
            name: {"rho": p.rho, "child_ids": p.child_ids, "parent_ids": p.parent_ids}
            for name, p in scores.groups.items()
        }
    else:
        payload["granularity"] = "filter"
        payload["per_layer"] = dict(scores.per_layer)
    save_checkpoint(path, payload)


def load_scores(path: str | Path) -> PrunerScores:
    """Read scores written by ``save_scores`` (diagnostics of subclasses are not kept)."""
    payload = load_checkpoint(path)
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise CheckpointError(f"{path} is not a scores file written by snacs")
    common = {
        "layer_caps": payload["layer_caps"],
        "protected": payload["protected"],
        "timings": payload["timings"],
    }
    if payload["granularity"] == "connection":
        groups = {
            name: GroupScores(name, p["rho"], p["child_ids"], p["parent_ids"])
            for name, p in payload["groups"].items()
        }
        return ConnectionScores(groups, **common)
    return Scores(payload["per_layer"], **common)
