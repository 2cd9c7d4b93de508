"""Contiguous filter groups: the unit SNACS scores connections between (docs/method.md)."""

from __future__ import annotations

import torch


def group_ids(channels: int, groups: int) -> torch.Tensor:
    """Group id of each of ``channels`` filters split into ``groups`` contiguous groups.

    Filter p goes to group floor(p * G / C): equal groups when G divides C (the paper's
    setting), near-equal ones otherwise instead of the official code's abort. More
    groups than filters means one filter per group.
    """
    count = max(1, min(groups, channels))
    return torch.div(torch.arange(channels) * count, channels, rounding_mode="floor")


def membership(ids: torch.Tensor) -> torch.Tensor:
    """[G, C] row-normalised one-hot matrix: row g averages the members of group g."""
    count = int(ids.max()) + 1
    onehot = torch.zeros(count, ids.numel(), dtype=torch.float64)
    onehot[ids, torch.arange(ids.numel())] = 1.0
    return onehot / onehot.sum(dim=1, keepdim=True)
