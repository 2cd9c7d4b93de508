"""Small datasets held on the training device, augmented there, batch by batch.

A CIFAR-10 epoch through a ``DataLoader`` decodes 50,000 PIL images and crops, flips and
normalises each in Python, which on a GPU takes longer than the training step itself.
The whole training set is only 150 MB as uint8, so it can live on the device: each batch
is an index into that tensor, and the random crop (of the zero-padded image), the
horizontal flip and the normalisation are three vectorised tensor operations. No worker
processes are involved, and nothing waits for the host except the epoch's index draw.

The augmentation has the same semantics as the CPU transforms (torchvision's
``RandomCrop(size, padding=p)`` then ``RandomHorizontalFlip()`` then ``ToTensor`` and
``Normalize``): a crop offset uniform in ``0..2p`` on each axis of the image zero-padded
by ``p`` (zero pixels, before normalisation), a flip with probability 1/2, then
``(x / 255 - mean) / std``. Random numbers come from the batches' own CPU ``generator``
(reseeded per epoch by the training loop), so an epoch's order and augmentation depend
on the seed and epoch only and are the same on every device.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class ImageAugment:
    """Training augmentation of an image dataset: padded random crop and horizontal flip."""

    crop_padding: int = 0
    flip: bool = False


@dataclass
class TensorSplits:
    """A dataset's train and test samples as tensors, with how to turn them into inputs.

    Images are uint8 ``[N, C, H, W]`` and become ``(x / 255 - mean) / std``; inputs that
    are already model-ready floats (e.g. standardised features) have ``mean = std = None``.
    ``augment`` applies to the training split only.
    """

    train_inputs: Tensor
    train_targets: Tensor
    test_inputs: Tensor
    test_targets: Tensor
    augment: ImageAugment = ImageAugment()
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None


class DeviceBatches:
    """Iterable of ``(inputs, targets)`` batches drawn from tensors on ``device``.

    Drop-in for a ``DataLoader`` in :func:`snacs.engine.train.fit`: ``generator`` is the
    epoch's random source (shuffling and augmentation), ``len()`` is the number of
    batches. Under data parallelism every rank draws the same epoch and takes its
    ``1/world_size`` part of each global batch of ``batch_size`` samples, so the ranks
    together take exactly the steps of a single process, on the same samples with the
    same augmentation (a final batch smaller than ``world_size`` is skipped).
    """

    def __init__(
        self,
        inputs: Tensor,
        targets: Tensor,
        batch_size: int,
        *,
        device: torch.device,
        shuffle: bool,
        drop_last: bool = False,
        augment: ImageAugment = ImageAugment(),
        mean: tuple[float, ...] | None = None,
        std: tuple[float, ...] | None = None,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ):
        if len(inputs) != len(targets):
            raise ValueError(f"{len(inputs)} inputs but {len(targets)} targets")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside a world of {world_size}")
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither")
        self.device = torch.device(device)
        self.inputs = inputs.to(self.device)
        self.targets = targets.to(self.device, torch.long)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.augment = augment
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator().manual_seed(seed)
        self._mean = self._std = None
        if mean is not None and std is not None:
            shape = (1, len(mean), 1, 1)
            self._mean = torch.tensor(mean, device=self.device).reshape(shape)
            self._std = torch.tensor(std, device=self.device).reshape(shape)

    def __len__(self) -> int:
        count = len(self.inputs)
        full, rest = divmod(count, self.batch_size)
        return full + (0 if self.drop_last or rest < self.world_size else 1)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        order, offsets, flips = self._draw_epoch()
        for batch in range(len(self)):
            start = batch * self.batch_size
            end = min(start + self.batch_size, len(order))
            # Made on the device: a host-to-device copy per batch could stall the queue.
            positions = torch.arange(start, end, device=self.device)
            positions = positions.tensor_split(self.world_size)[self.rank]
            index = order[positions]
            images = self.inputs[index]
            if self.augment.crop_padding:
                images = random_crops(images, offsets[positions], self.augment)
            if self.augment.flip:
                chosen = flips[positions].reshape(-1, 1, 1, 1)
                images = torch.where(chosen, images.flip(-1), images)
            yield self._normalised(images), self.targets[index]

    def _draw_epoch(self) -> tuple[Tensor, Tensor, Tensor]:
        """The epoch's sample order, crop offsets and flips, drawn on the CPU, then moved."""
        count = len(self.inputs)
        if self.shuffle:
            order = torch.randperm(count, generator=self.generator)
        else:
            order = torch.arange(count)
        span = 2 * self.augment.crop_padding + 1
        offsets = torch.randint(0, span, (count, 2), generator=self.generator)
        flips = torch.rand(count, generator=self.generator) < 0.5
        return order.to(self.device), offsets.to(self.device), flips.to(self.device)

    def _normalised(self, images: Tensor) -> Tensor:
        if self._mean is None:
            return images
        return (images.float().div_(255.0) - self._mean) / self._std


def random_crops(images: Tensor, offsets: Tensor, augment: ImageAugment) -> Tensor:
    """Crop each zero-padded image at its ``(top, left)`` offset back to its own size."""
    pad = augment.crop_padding
    batch, _, height, width = images.shape
    padded = F.pad(images, (pad, pad, pad, pad))
    rows = offsets[:, 0:1] + torch.arange(height, device=images.device)  # [B, H]
    cols = offsets[:, 1:2] + torch.arange(width, device=images.device)  # [B, W]
    picked = padded[
        torch.arange(batch, device=images.device)[:, None, None],
        :,
        rows[:, :, None],
        cols[:, None, :],
    ]  # advanced indices first: [B, H, W, C]
    return picked.permute(0, 3, 1, 2).contiguous()
