"""The dataset contract: what every dataset loader returns, the registry, and loaders.

Training, pruning statistics and evaluation all read data through a ``DatasetBundle``,
so they never need to know which dataset they run on. The bundle carries the training
samples twice (augmented for training, plain for pruning statistics, which must see
the non-augmented images as in the paper's ``extraloader``) and their labels as a plain
list, so the class-balanced subset can be drawn without decoding a single image.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from snacs.data.device_data import TensorSplits
from snacs.errors import ConfigError
from snacs.options import check_call_options
from snacs.registry import Registry

if TYPE_CHECKING:  # torchvision, which it imports, costs seconds per process
    from snacs.data.jpeg_batches import JpegSplits


@dataclass
class DatasetBundle:
    """One dataset's splits and the facts models and samplers need about it."""

    name: str
    num_classes: int
    input_shape: tuple[int, ...]
    train: Dataset
    train_eval: Dataset
    test: Dataset
    train_targets: list[int]
    class_names: list[str]
    # Image files behind the splits (empty for datasets held in arrays): what
    # ``snacs data`` checks file by file.
    files: tuple[Path, ...] = ()
    # The same samples as tensors, for datasets small enough to live on the device.
    tensors: TensorSplits | None = None
    # Image files to decode on the device (image-folder datasets such as ImageNet).
    jpeg: JpegSplits | None = None
    #: how the files were checked against their publisher's release: "release" (every
    #: file's checksum), "layout" (structure, counts and labels only: an unverified copy),
    #: "synthetic" (written by snacs.data.synthetic); "" where the loader checks no release
    verified: str = ""


DATASETS: Registry[Callable[..., DatasetBundle]] = Registry("dataset")


class TransformedView(Dataset):
    """Applies one transform to the samples of a shared base dataset.

    ``train`` and ``train_eval`` are two views of the same decoded samples, so the
    50,000 CIFAR images (or the ImageNet file list) are held once, not twice.
    """

    def __init__(self, base: Dataset, transform: Callable[[Any], Any]):
        self.base = base
        self.transform = transform

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        sample, target = self.base[index]
        return self.transform(sample), target


def dataset_names() -> list[str]:
    return DATASETS.names()


def load_dataset(
    name: str,
    root: str | os.PathLike,
    download: bool = False,
    verify: str = "release",
    **options: Any,
) -> DatasetBundle:
    """Build the registered dataset ``name`` from files under ``root``.

    ``options`` are the dataset's own settings (e.g. ``image_size`` for ImageNet); an
    option the dataset does not take is a config error naming the valid ones, rather
    than a TypeError from deep inside a factory. ``verify`` goes to loaders that check
    their files against a release (``release``: checksums; ``layout``: structure only);
    the others take only ``release``, which for them means what their loader checks.
    """
    factory = DATASETS.get(name)
    check_dataset_options(name, options)
    if "verify" in inspect.signature(factory).parameters:
        options = {**options, "verify": verify}
    elif verify != "release":
        raise ConfigError(
            f"dataset.verify: {verify!r} applies to datasets checked against a release "
            f"(cifar10); dataset {name!r} takes only 'release'"
        )
    return factory(root=Path(root), download=download, **options)


def check_dataset_options(name: str, options: Mapping[str, Any], where: str | None = None) -> None:
    """Raise ConfigError for an option the dataset ``name`` does not take, or of the wrong type."""
    factory = DATASETS.get(name)
    skip = ("root", "download", "verify")  # set by the dataset section's own keys
    check_call_options(factory, options, where, f"dataset {name!r}", skip=skip)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    workers: int = 0,
    seed: int = 0,
    drop_last: bool = False,
    rank: int = 0,
    world_size: int = 1,
    collate_fn: Callable | None = None,
) -> DataLoader:
    """A DataLoader whose order and worker randomness follow ``seed``.

    The shuffling order comes from a generator seeded with ``seed``, and so does each
    worker's base seed, from which torch itself seeds the worker's ``torch``, ``random``
    and NumPy generators (PyTorch >= 1.9), so augmentations in workers are reproducible
    without a ``worker_init_fn``. With ``workers=0`` augmentations run in the calling
    process and draw from its global torch RNG, which the caller seeds. Pinned memory
    speeds up host-to-GPU copies and is only requested when a GPU exists. With
    ``world_size`` > 1 (data parallelism) a ``DistributedSampler`` gives this ``rank`` its
    share of each epoch and ``batch_size`` is per rank.
    """
    generator = torch.Generator()
    generator.manual_seed(seed)
    sampler = None
    if world_size > 1:
        sampler = DistributedSampler(
            dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed
        )
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        num_workers=workers,
        generator=generator,
        pin_memory=torch.cuda.is_available(),
        drop_last=drop_last,
        persistent_workers=workers > 0,
        collate_fn=collate_fn,
    )
