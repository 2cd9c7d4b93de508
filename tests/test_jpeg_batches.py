"""ImageNet-style batches decoded and augmented on the device (exercised on the CPU)."""

import io

import pytest
import torch
from PIL import Image

from snacs.data import load_dataset, write_synthetic_imagefolder
from snacs.data.jpeg_batches import JpegBatches, decode_on
from snacs.pipeline.batches import eval_batches, input_path, train_batches

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def imagenet(tmp_path_factory):
    root = tmp_path_factory.mktemp("imagenet")
    write_synthetic_imagefolder(
        root, seed=0, num_classes=3, train_per_class=6, val_per_class=3, image_size=48
    )
    return load_dataset("imagenet", root, image_size=32)


SPEC = {"name": "net", "data_path": "device", "workers": 0}


def test_device_evaluation_matches_the_cpu_transform(imagenet):
    assert input_path(SPEC, imagenet, CPU) == "jpeg"
    batches = eval_batches(SPEC, imagenet, 4, CPU)
    assert isinstance(batches, JpegBatches) and len(batches) == 3
    images, targets = map(torch.cat, zip(*batches, strict=True))
    cpu = [imagenet.test[i] for i in range(len(imagenet.test))]
    expected = torch.stack([image for image, _ in cpu])
    assert images.shape == expected.shape == (9, 3, 32, 32)
    assert targets.tolist() == [target for _, target in cpu]
    # tensor and PIL resampling differ by a few grey levels, not in content
    assert (images - expected).abs().mean() < 0.05
    assert torch.corrcoef(torch.stack([images.flatten(), expected.flatten()]))[0, 1] > 0.99


def test_training_batches_are_random_crops_and_flips_repeatable_by_seed(imagenet):
    batches = train_batches(SPEC, imagenet, 6, seed=0, device=CPU)
    assert isinstance(batches, JpegBatches) and batches.generator is not None

    def epoch(seed: int) -> torch.Tensor:
        torch.manual_seed(seed)
        batches.generator.manual_seed(seed)
        return torch.cat([images for images, _ in batches])

    first, again, other = epoch(1), epoch(1), epoch(2)
    assert first.shape == (18, 3, 32, 32) and torch.isfinite(first).all()
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    plain = torch.cat([images for images, _ in eval_batches(SPEC, imagenet, 6, CPU)])
    assert not torch.allclose(first.mean(0), plain.mean(0))  # augmented, not centre crops


def test_files_nvjpeg_cannot_read_are_decoded_another_way():
    png = io.BytesIO()
    Image.new("RGB", (5, 4), (10, 200, 30)).save(png, format="PNG")  # a PNG named .JPEG
    data = torch.frombuffer(bytearray(png.getvalue()), dtype=torch.uint8)
    (image,) = decode_on([data], CPU)
    assert image.shape == (3, 4, 5) and image[:, 0, 0].tolist() == [10, 200, 30]
