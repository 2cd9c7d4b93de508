"""Which input path a step reads its batches through: device-resident tensors or a loader.

``data_path`` in a benchmark chooses: ``device`` keeps the dataset's tensors on the
training device and augments there (see :mod:`snacs.data.device_data`), ``loader`` uses
the classic ``DataLoader`` with CPU transforms and ``workers`` processes, and ``auto``
(the default) takes the device path on CUDA whenever the dataset offers tensors
(CIFAR-10, MNIST, digits and the synthetic CIFAR sets) and the loader elsewhere, so CPU
runs behave as before. Under data parallelism the batches are this rank's shard.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from snacs.data import DatasetBundle, make_loader
from snacs.data.device_data import DeviceBatches, TensorSplits
from snacs.engine.distributed import world
from snacs.errors import ConfigError
from snacs.pipeline.common import Spec


def device_splits(spec: Spec, bundle: DatasetBundle, device: torch.device) -> TensorSplits | None:
    """The tensors to put on ``device``, or None when this step reads through a loader."""
    choice = spec["data_path"]
    if choice == "loader":
        return None
    if bundle.tensors is None:
        if choice == "device":
            raise ConfigError(
                f"benchmarks.{spec['name']}.data_path: 'device' needs a dataset held as "
                f"tensors (cifar10, mnist, digits); {bundle.name!r} is read from files, "
                "use 'auto' or 'loader'"
            )
        return None
    if choice == "auto" and device.type != "cuda":
        return None
    return bundle.tensors


def train_batches(
    spec: Spec, bundle: DatasetBundle, batch_size: int, seed: int, device: torch.device
) -> Iterable:
    """Shuffled, augmented training batches (this rank's share under DDP)."""
    # Dropping a ragged last batch keeps BatchNorm statistics sane, unless the set is tiny.
    drop_last = len(bundle.train) >= 4 * batch_size
    rank, world_size = world()
    splits = device_splits(spec, bundle, device)
    if splits is None:
        return make_loader(
            bundle.train,
            max(1, batch_size // world_size),
            shuffle=True,
            workers=spec["workers"],
            seed=seed,
            drop_last=drop_last,
            rank=rank,
            world_size=world_size,
        )
    return DeviceBatches(
        splits.train_inputs,
        splits.train_targets,
        batch_size,
        device=device,
        shuffle=True,
        drop_last=drop_last,
        augment=splits.augment,
        mean=splits.mean,
        std=splits.std,
        seed=seed,
        rank=rank,
        world_size=world_size,
    )


def eval_batches(
    spec: Spec, bundle: DatasetBundle, batch_size: int, device: torch.device
) -> Iterable:
    """The whole test split in order, on every rank (evaluation is not sharded)."""
    splits = device_splits(spec, bundle, device)
    if splits is None:
        return make_loader(bundle.test, batch_size, shuffle=False, workers=spec["workers"])
    return DeviceBatches(
        splits.test_inputs,
        splits.test_targets,
        batch_size,
        device=device,
        shuffle=False,
        mean=splits.mean,
        std=splits.std,
    )
