"""Feeding a dataset to a model that was trained with other input statistics.

A published checkpoint expects the normalisation its publisher used (akamaster's CIFAR
ResNets: ImageNet's mean and std), whatever the dataset's own statistics are. The bundle
is re-issued with that normalisation on every path a step can read it through: the
tensors normalised on the device, the image files decoded there, and the CPU views,
whose inputs ``(x - m1) / s1`` become ``(x - m2) / s2`` by one per-channel affine map.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

from snacs.data.bundle import DatasetBundle
from snacs.errors import ConfigError


class Renormalised(Dataset):
    """Items of ``base`` (normalised with ``source`` mean/std) normalised with ``target``'s."""

    def __init__(
        self,
        base: Dataset,
        source: tuple[Sequence[float], Sequence[float]],
        target: tuple[Sequence[float], Sequence[float]],
    ):
        self.base = base
        (mean1, std1), (mean2, std2) = (
            (torch.tensor(m).view(-1, 1, 1), torch.tensor(s).view(-1, 1, 1))
            for m, s in (source, target)
        )
        self.scale = std1 / std2
        self.shift = (mean1 - mean2) / std2

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[Any, int]:
        sample, label = self.base[index]
        return sample * self.scale + self.shift, label


def dataset_normalisation(bundle: DatasetBundle) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The (mean, std) the bundle normalises its images with."""
    for splits in (bundle.tensors, bundle.jpeg):
        if splits is not None and splits.mean is not None and splits.std is not None:
            return tuple(splits.mean), tuple(splits.std)
    raise ConfigError(f"dataset {bundle.name!r} does not say how it normalises its inputs")


def with_normalisation(
    bundle: DatasetBundle, mean: Sequence[float], std: Sequence[float]
) -> DatasetBundle:
    """``bundle`` with its inputs normalised by ``mean`` and ``std`` on every read path."""
    source = dataset_normalisation(bundle)
    target = (tuple(float(m) for m in mean), tuple(float(s) for s in std))
    if source == target:
        return bundle
    if len(target[0]) != bundle.input_shape[0] or len(target[1]) != bundle.input_shape[0]:
        raise ConfigError(
            f"a normalisation of {len(target[0])} channels does not fit dataset "
            f"{bundle.name!r} of {bundle.input_shape[0]}"
        )

    def view(dataset: Dataset) -> Renormalised:
        return Renormalised(dataset, source, target)

    return dataclasses.replace(
        bundle,
        train=view(bundle.train),
        train_eval=view(bundle.train_eval),
        test=view(bundle.test),
        tensors=_restated(bundle.tensors, target),
        jpeg=_restated(bundle.jpeg, target),
    )


def _restated(splits: Any, target: tuple[tuple[float, ...], tuple[float, ...]]) -> Any:
    """Device-side splits (tensors or image files) normalised with ``target``."""
    if splits is None:
        return None
    return dataclasses.replace(splits, mean=target[0], std=target[1])
