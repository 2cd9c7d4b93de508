"""Which input path a step reads its batches through: the device, or a classic loader.

``data_path`` in a benchmark chooses. ``device``: small datasets (CIFAR-10, MNIST, digits,
the synthetic CIFAR sets) live on the training device as tensors and are augmented there
(:mod:`snacs.data.device_data`); image-folder datasets (ImageNet) are read as compressed
bytes by the loader workers and decoded and augmented on the device
(:mod:`snacs.data.jpeg_batches`). ``loader``: a ``DataLoader`` with CPU transforms in
``workers`` processes. ``auto`` (the default) takes the device path on CUDA and the loader
elsewhere, so CPU runs behave as before. Under data parallelism the training batches are
this rank's share.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from snacs.data import DatasetBundle, make_loader
from snacs.data.device_data import DeviceBatches
from snacs.data.jpeg_batches import EncodedFiles, JpegBatches, collate_encoded
from snacs.engine.distributed import world
from snacs.errors import ConfigError
from snacs.pruning.benchmark import Spec


def input_path(spec: Spec, bundle: DatasetBundle, device: torch.device) -> str:
    """``tensors``, ``jpeg`` or ``loader``: how this step reads ``bundle`` on ``device``."""
    choice = spec["data_path"]
    if choice == "loader" or (choice == "auto" and device.type != "cuda"):
        return "loader"
    if bundle.tensors is not None:
        return "tensors"
    if bundle.jpeg is not None:
        return "jpeg"
    if choice == "device":
        raise ConfigError(
            f"benchmarks.{spec['name']}.data_path: 'device' needs a dataset held as tensors "
            f"or image files; {bundle.name!r} offers neither, use 'auto' or 'loader'"
        )
    return "loader"


def train_batches(
    spec: Spec, bundle: DatasetBundle, batch_size: int, seed: int, device: torch.device
) -> Iterable:
    """Shuffled, augmented training batches (this rank's share under DDP)."""
    # Dropping a ragged last batch keeps BatchNorm statistics sane, unless the set is tiny.
    drop_last = len(bundle.train) >= 4 * batch_size
    rank, world_size = world()
    path = input_path(spec, bundle, device)
    if path == "tensors":
        splits = bundle.tensors
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
    per_rank = max(1, batch_size // world_size)
    shards = {"seed": seed, "drop_last": drop_last, "rank": rank, "world_size": world_size}
    if path == "jpeg":
        files = EncodedFiles(bundle.jpeg.train)
        workers = spec["workers"]
        loader = make_loader(files, per_rank, True, workers, collate_fn=collate_encoded, **shards)
        return _jpeg(loader, bundle, device, train=True)
    return make_loader(bundle.train, per_rank, True, spec["workers"], **shards)


def eval_batches(
    spec: Spec, bundle: DatasetBundle, batch_size: int, device: torch.device
) -> Iterable:
    """The whole test split in order, on every rank (evaluation is not sharded)."""
    path = input_path(spec, bundle, device)
    if path == "tensors":
        splits = bundle.tensors
        return DeviceBatches(
            splits.test_inputs,
            splits.test_targets,
            batch_size,
            device=device,
            shuffle=False,
            mean=splits.mean,
            std=splits.std,
        )
    if path == "jpeg":
        files = EncodedFiles(bundle.jpeg.test)
        loader = make_loader(files, batch_size, False, spec["workers"], collate_fn=collate_encoded)
        return _jpeg(loader, bundle, device, train=False)
    return make_loader(bundle.test, batch_size, shuffle=False, workers=spec["workers"])


def _jpeg(loader, bundle: DatasetBundle, device: torch.device, train: bool) -> JpegBatches:
    jpeg = bundle.jpeg
    return JpegBatches(
        loader,
        device=device,
        train=train,
        image_size=jpeg.image_size,
        mean=jpeg.mean,
        std=jpeg.std,
    )
