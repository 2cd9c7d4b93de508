"""Device-resident datasets: same augmentation as the CPU transforms, exact DDP sharding."""

import numpy as np
import pytest
import torch
from torchvision.transforms import functional as TF

from snacs.data import load_dataset, write_synthetic_cifar
from snacs.data.device_data import DeviceBatches, ImageAugment, random_crops
from snacs.errors import ConfigError
from snacs.pipeline.batches import input_path

CPU = torch.device("cpu")
PAD = 4


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    """Synthetic CIFAR-10 files whose train images encode each pixel's position.

    Red is row + 1 and green is column + 1 (so a zero-padded pixel reads 0): the centre
    pixel of an augmented image tells the crop offset and whether it was flipped.
    """
    root = tmp_path_factory.mktemp("cifar")
    write_synthetic_cifar(root, seed=0, train_per_class=20, test_per_class=2)
    bundle = load_dataset("cifar10", root)
    rows, cols = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    bundle.train.base.data[..., 0] = rows + 1
    bundle.train.base.data[..., 1] = cols + 1
    bundle.train.base.data[..., 2] = 7
    return bundle


def _unnormalise(images: torch.Tensor, mean, std) -> torch.Tensor:
    shape = (1, 3, 1, 1)
    pixels = (images * torch.tensor(std).reshape(shape) + torch.tensor(mean).reshape(shape)) * 255
    return pixels.round().long()


def _crop_and_flip(pixels: torch.Tensor) -> torch.Tensor:
    """[N, 3] (row offset, column offset, flipped) recovered from position-coded images."""
    flipped = pixels[:, 1, 16, 17] < pixels[:, 1, 16, 16]
    row_offset = pixels[:, 0, 16, 16] - 1 - 16 + PAD
    col_offset = pixels[:, 1, 16, 16] - 1 - torch.where(flipped, 15, 16) + PAD
    return torch.stack([row_offset, col_offset, flipped.long()], dim=1)


def _frequencies(values: torch.Tensor, bins: int) -> np.ndarray:
    return np.bincount(values.numpy(), minlength=bins) / len(values)


def test_device_augmentation_has_the_cpu_transforms_statistics(cifar):
    splits = cifar.tensors
    assert splits.augment == ImageAugment(crop_padding=PAD, flip=True)
    epochs = 12
    torch.manual_seed(0)  # the CPU transforms draw from the global generator
    cpu_images = torch.stack([cifar.train[i % 200][0] for i in range(epochs * 200)])
    batches = DeviceBatches(
        splits.train_inputs,
        splits.train_targets,
        64,
        device=CPU,
        shuffle=True,
        augment=splits.augment,
        mean=splits.mean,
        std=splits.std,
        seed=3,
    )
    device_images = torch.cat([images for _ in range(epochs) for images, _ in batches])
    assert device_images.shape == cpu_images.shape == (epochs * 200, 3, 32, 32)
    draws = {}
    for path, images in (("cpu", cpu_images), ("device", device_images)):
        pixels = _unnormalise(images, splits.mean, splits.std)
        assert (pixels[:, 2] % 7 == 0).all(), f"{path}: padding must be zero pixels"
        draws[path] = _crop_and_flip(pixels)
    for column, bins in ((0, 2 * PAD + 1), (1, 2 * PAD + 1), (2, 2)):
        cpu = _frequencies(draws["cpu"][:, column], bins)
        device = _frequencies(draws["device"][:, column], bins)
        assert (cpu > 0).all() and (device > 0).all(), "every offset and flip must occur"
        # 2400 draws each: a frequency's std is < 0.011, so 0.045 is over 4 sigma apart
        assert np.abs(cpu - device).max() < 0.045, (column, cpu, device)
        assert np.abs(device - 1 / bins).max() < 0.035
    # offsets of the two axes and the flip are drawn independently
    joint = draws["device"][:, 0] * (2 * PAD + 1) + draws["device"][:, 1]
    assert len(joint.unique()) == (2 * PAD + 1) ** 2


def test_crop_matches_torchvision_pad_then_crop_exactly():
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (5, 3, 10, 12), dtype=torch.uint8, generator=generator)
    offsets = torch.tensor([[0, 0], [6, 6], [3, 1], [0, 6], [5, 2]])
    crops = random_crops(images, offsets, ImageAugment(crop_padding=3))
    for image, (top, left), crop in zip(images, offsets.tolist(), crops, strict=True):
        expected = TF.crop(TF.pad(image, [3]), top, left, 10, 12)
        assert torch.equal(crop, expected)


def test_unaugmented_device_batches_equal_the_cpu_eval_transform(cifar):
    splits = cifar.tensors
    batches = DeviceBatches(
        splits.test_inputs,
        splits.test_targets,
        7,
        device=CPU,
        shuffle=False,
        mean=splits.mean,
        std=splits.std,
    )
    images, targets = zip(*batches, strict=True)
    cpu = [cifar.test[i] for i in range(len(cifar.test))]
    torch.testing.assert_close(torch.cat(images), torch.stack([x for x, _ in cpu]))
    assert torch.cat(targets).tolist() == [y for _, y in cpu]
    assert len(batches) == 3  # 20 test images in batches of 7


@pytest.mark.parametrize("drop_last", [False, True])
def test_ranks_split_every_global_batch_of_the_single_process_epoch(drop_last):
    inputs = torch.randint(0, 256, (53, 3, 8, 8), dtype=torch.uint8)
    targets = torch.arange(53)
    options = dict(device=CPU, shuffle=True, drop_last=drop_last, seed=5,
                   augment=ImageAugment(crop_padding=2, flip=True))  # fmt: skip
    single = list(DeviceBatches(inputs, targets, 10, **options))
    ranks = [
        list(DeviceBatches(inputs, targets, 10, rank=r, world_size=3, **options)) for r in range(3)
    ]
    assert all(len(batches) == len(single) for batches in ranks)
    assert len(single) == (5 if drop_last else 6)
    for step, (images, labels) in enumerate(single):
        assert torch.equal(torch.cat([ranks[r][step][1] for r in range(3)]), labels)
        assert torch.equal(torch.cat([ranks[r][step][0] for r in range(3)]), images)
    seen = torch.cat([labels for _, labels in single])
    assert len(seen.unique()) == len(seen) == (50 if drop_last else 53)


def test_a_final_batch_smaller_than_the_world_is_skipped_on_every_rank():
    inputs, targets = torch.zeros(21, 4), torch.arange(21)
    for rank in range(2):
        batches = DeviceBatches(inputs, targets, 10, device=CPU, shuffle=False, rank=rank,
                                world_size=2)  # fmt: skip
        assert [len(labels) for _, labels in batches] == [5, 5]


def test_reseeding_the_generator_repeats_the_epoch():
    inputs = torch.randint(0, 256, (30, 3, 8, 8), dtype=torch.uint8)
    batches = DeviceBatches(inputs, torch.arange(30), 8, device=CPU, shuffle=True,
                            augment=ImageAugment(crop_padding=2, flip=True))  # fmt: skip
    batches.generator.manual_seed(11)
    first = [x for x, _ in batches]
    second = [x for x, _ in batches]
    batches.generator.manual_seed(11)
    again = [x for x, _ in batches]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


def test_data_path_choice(cifar):
    spec = {"name": "bench", "data_path": "auto"}
    cuda = torch.device("cuda")  # only its type is read
    assert input_path(spec, cifar, CPU) == "loader"  # auto: the loader on CPU
    assert input_path(spec, cifar, cuda) == "tensors"  # and the device on CUDA
    assert input_path({**spec, "data_path": "device"}, cifar, CPU) == "tensors"
    assert input_path({**spec, "data_path": "loader"}, cifar, cuda) == "loader"
    files_only = type(cifar)(**{**cifar.__dict__, "tensors": None})
    with pytest.raises(ConfigError, match=r"benchmarks\.bench\.data_path"):
        input_path({**spec, "data_path": "device"}, files_only, CPU)
    assert input_path(spec, files_only, cuda) == "loader"


@pytest.mark.parametrize("data_path", ["device", "loader"])
def test_training_batches_are_this_ranks_share(cifar, monkeypatch, data_path):
    import snacs.pipeline.batches as batches_module

    monkeypatch.setattr(batches_module, "world", lambda: (1, 2))
    spec = {"name": "bench", "data_path": data_path, "workers": 0}
    batches = batches_module.train_batches(spec, cifar, 40, seed=0, device=CPU)
    if data_path == "device":
        assert (batches.rank, batches.world_size, batches.batch_size) == (1, 2, 40)
        assert all(len(labels) == 20 for _, labels in batches)
    else:
        assert (batches.sampler.rank, batches.sampler.num_replicas) == (1, 2)
        assert batches.batch_size == 20 and len(batches.sampler) == 100
