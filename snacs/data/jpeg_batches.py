"""ImageNet batches decoded and augmented on the GPU, so JPEG decoding does not starve it.

ResNet-50 trains at a few thousand images per second on a modern GPU; decoding and
random-resized-cropping that many JPEGs with PIL needs a dozen or more CPU cores. Here
loader workers only read the compressed bytes (about 110 KB per image); the whole batch
is decoded at once by nvJPEG (``torchvision.io.decode_jpeg`` on the device) and each image
is cropped, resized, flipped and normalised there by the same ``torchvision`` functional
ops the CPU transforms use: ``RandomResizedCrop`` (scale 0.08-1, ratio 3/4-4/3) and a flip
with probability 1/2 for training; a resize of the short side to 256/224 of the crop size
and a centre crop for evaluation. The random draws come from the global torch generator,
which the training loop reseeds every epoch. A file nvJPEG cannot decode (ImageNet holds a
few CMYK JPEGs and one PNG under a .JPEG name) is decoded on the CPU instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import Dataset


@dataclass
class JpegSplits:
    """An image-folder dataset's files, the crop size and the normalisation statistics."""

    train: Sequence[tuple[str, int]]
    test: Sequence[tuple[str, int]]
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


class EncodedFiles(Dataset):
    """``(compressed bytes as a uint8 tensor, label)``: all a loader worker does is read."""

    def __init__(self, samples: Sequence[tuple[str, int]]):
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        from torchvision.io import read_file  # torchvision costs seconds to import: on use

        path, target = self.samples[index]
        return read_file(path), target


def collate_encoded(batch: list[tuple[Tensor, int]]) -> tuple[list[Tensor], Tensor]:
    """Keep the variable-length byte tensors as a list; labels become one tensor."""
    return [data for data, _ in batch], torch.tensor([target for _, target in batch])


class JpegBatches:
    """Iterable of normalised ``(images, targets)`` batches decoded on ``device``.

    Wraps a loader of :class:`EncodedFiles`; its ``generator`` and ``sampler`` are exposed
    so the training loop reseeds the order per epoch exactly as for a plain loader.
    """

    def __init__(
        self,
        loader,
        *,
        device: torch.device,
        train: bool,
        image_size: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
    ):
        self.loader = loader
        self.device = torch.device(device)
        self.train = train
        self.image_size = image_size
        self._mean = torch.tensor(mean, device=self.device).reshape(1, -1, 1, 1)
        self._std = torch.tensor(std, device=self.device).reshape(1, -1, 1, 1)

    @property
    def generator(self):
        return self.loader.generator

    @property
    def sampler(self):
        return self.loader.sampler

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for encoded, targets in self.loader:
            images = [self._transform(image) for image in decode_on(encoded, self.device)]
            batch = torch.stack(images).float().div_(255.0)
            yield (batch - self._mean) / self._std, targets.to(self.device, non_blocking=True)

    def _transform(self, image: Tensor) -> Tensor:
        from torchvision.transforms import RandomResizedCrop
        from torchvision.transforms import functional as TF

        size = [self.image_size, self.image_size]
        if self.train:
            top, left, height, width = RandomResizedCrop.get_params(
                image, scale=[0.08, 1.0], ratio=[3 / 4, 4 / 3]
            )
            image = TF.resized_crop(image, top, left, height, width, size, antialias=True)
            if torch.rand(1) < 0.5:
                image = TF.hflip(image)
            return image
        image = TF.resize(image, round(self.image_size * 256 / 224), antialias=True)
        return TF.center_crop(image, size)


def decode_on(encoded: list[Tensor], device: torch.device) -> list[Tensor]:
    """RGB uint8 ``[3, H, W]`` images on ``device``; CPU decoding for what nvJPEG rejects."""
    from torchvision.io import ImageReadMode, decode_jpeg

    try:
        return list(decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device))
    except RuntimeError:
        return [_decode_one(data, device) for data in encoded]


def _decode_one(data: Tensor, device: torch.device) -> Tensor:
    from torchvision.io import ImageReadMode, decode_image, decode_jpeg

    try:
        return decode_jpeg(data, mode=ImageReadMode.RGB, device=device)
    except RuntimeError:
        return decode_image(data, mode=ImageReadMode.RGB).to(device)
