"""CIFAR-10 from the python-version batches, read without executing pickled code.

Transforms follow the paper's recipes: random 32x32 crops of the 4-pixel zero-padded
image and horizontal flips for training, nothing but normalisation with the CIFAR-10
channel statistics for evaluation and pruning statistics.

The batches are pickles. They are parsed by ``snacs.data.safe_pickle`` (plain values and
numpy arrays only), whatever sits beside them, and every batch is checked for the
layout of the release (uint8 rows of 3072 values, one integer label per row within the
classes of ``batches.meta``), so a damaged file is named when the data step runs rather
than failing inside training. Files of the real release are also compared with their
published md5 (``verify="release"``, the default); files written by
``snacs.data.synthetic`` carry its marker instead. A copy that is not the byte-exact
release (a subset, a re-encoding) is read with ``verify="layout"``: every check above,
batches of at most the release's 10,000 images, no md5; the bundle then says it is an
unverified copy, which provenance records (it is never labelled synthetic).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import transforms
from torchvision.datasets import CIFAR10
from torchvision.datasets.utils import check_integrity, download_and_extract_archive

from snacs.data.bundle import DATASETS, DatasetBundle, TransformedView
from snacs.data.device_data import ImageAugment, TensorSplits
from snacs.data.safe_pickle import load_pickle_safely
from snacs.data.synthetic import read_synthetic_marker
from snacs.errors import ConfigError, CorruptDataError, DatasetNotFoundError

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CROP_PADDING = 4
_SOURCE_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
FOLDER = CIFAR10.base_folder  # cifar-10-batches-py
TRAIN_FILES = [name for name, _ in CIFAR10.train_list]
TEST_FILES = [name for name, _ in CIFAR10.test_list]
META_FILE = CIFAR10.meta["filename"]
# md5 of every file of the official release, as torchvision publishes them.
RELEASE_MD5 = {**dict(CIFAR10.train_list + CIFAR10.test_list), META_FILE: CIFAR10.meta["md5"]}
_ROW = 3 * 32 * 32
RELEASE_BATCH_IMAGES = 10_000
VERIFY_MODES = ("release", "layout")


class CifarSplit(Dataset):
    """One split as uint8 HWC images and integer labels; items are (PIL image, label)."""

    def __init__(self, images: np.ndarray, targets: list[int], classes: list[str]):
        self.data = images
        self.targets = targets
        self.classes = classes

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Image.Image, int]:
        return Image.fromarray(self.data[index]), self.targets[index]


def read_batch(path: Path, num_classes: int) -> tuple[np.ndarray, list[int]]:
    """Images (N x 32 x 32 x 3, uint8) and labels of one batch file, checked for layout."""
    entry = load_pickle_safely(path)
    if not isinstance(entry, dict) or "data" not in entry or "labels" not in entry:
        raise CorruptDataError(f"{path} is not a CIFAR-10 batch: expected a dict with data, labels")
    data, labels = entry["data"], entry["labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise CorruptDataError(f"{path}: data must be a 2-D uint8 array, got {_describe(data)}")
    if data.shape[1] != _ROW:
        raise CorruptDataError(f"{path}: data rows hold {data.shape[1]} values, expected {_ROW}")
    if data.shape[0] > RELEASE_BATCH_IMAGES:
        raise CorruptDataError(
            f"{path}: {data.shape[0]} images, more than a release batch's {RELEASE_BATCH_IMAGES}"
        )
    if not isinstance(labels, list) or len(labels) != data.shape[0]:
        count = len(labels) if isinstance(labels, list) else _describe(labels)
        raise CorruptDataError(f"{path}: {data.shape[0]} images but {count} labels")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in labels):
        raise CorruptDataError(f"{path}: labels must be integers")
    if labels and not 0 <= min(labels) <= max(labels) < num_classes:
        raise CorruptDataError(
            f"{path}: labels span {min(labels)}..{max(labels)}, outside the {num_classes} classes"
        )
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), list(labels)


def read_classes(folder: Path) -> list[str]:
    meta = load_pickle_safely(folder / META_FILE)
    names = meta.get("label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise CorruptDataError(f"{folder / META_FILE}: expected a dict with a label_names list")
    return names


def read_split(root: Path, train: bool) -> CifarSplit:
    """Read the training batches or the test batch under ``root/cifar-10-batches-py``."""
    folder = root / FOLDER
    classes = read_classes(folder)
    parts = [
        read_batch(folder / name, len(classes)) for name in (TRAIN_FILES if train else TEST_FILES)
    ]
    images = np.concatenate([images for images, _ in parts])
    return CifarSplit(images, [label for _, labels in parts for label in labels], classes)


def check_release_files(root: Path, verify: str = "release") -> str:
    """Compare each file with the release's md5 unless the folder is synthetic or ``verify``
    is ``layout``; return what the bundle records (``synthetic``, ``layout``, ``release``)."""
    if verify not in VERIFY_MODES:
        raise ConfigError(f"dataset.verify must be 'release' or 'layout', got {verify!r}")
    folder = root / FOLDER
    if read_synthetic_marker(folder) is not None:
        return "synthetic"
    if verify == "layout":
        return "layout"
    for name, md5 in RELEASE_MD5.items():
        if not check_integrity(str(folder / name), md5):
            raise CorruptDataError(
                f"{folder / name} differs from the CIFAR-10 release (md5 mismatch); it is "
                "probably truncated or corrupted: delete the folder and download it again "
                "(a copy that is not the release, such as a subset, loads with dataset.verify: "
                "layout)"
            )
    return "release"


@DATASETS.register("cifar10")
def load_cifar10(root: Path, download: bool = False, verify: str = "release") -> DatasetBundle:
    """CIFAR-10 from ``root/cifar-10-batches-py``; fetched first when ``download`` is true.

    ``verify`` is ``release`` (the md5 of every file) or ``layout`` (no md5).
    """
    _ensure_files(root, download)
    verified = check_release_files(root, verify)
    normalize = transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD)
    train_transform = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=CROP_PADDING),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            normalize,
        ]
    )
    eval_transform = transforms.Compose([transforms.ToTensor(), normalize])
    train_base = read_split(root, train=True)
    test_base = read_split(root, train=False)
    return DatasetBundle(
        name="cifar10",
        num_classes=len(train_base.classes),
        input_shape=(3, 32, 32),
        train=TransformedView(train_base, train_transform),
        train_eval=TransformedView(train_base, eval_transform),
        test=TransformedView(test_base, eval_transform),
        train_targets=list(train_base.targets),
        class_names=list(train_base.classes),
        tensors=TensorSplits(
            *_as_tensors(train_base),
            *_as_tensors(test_base),
            augment=ImageAugment(crop_padding=CROP_PADDING, flip=True),
            mean=CIFAR10_MEAN,
            std=CIFAR10_STD,
        ),
        verified=verified,
    )


def _as_tensors(split: CifarSplit) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images as an NCHW view of the split's NHWC array (no copy), int64 labels."""
    images = torch.from_numpy(split.data).permute(0, 3, 1, 2)
    return images, torch.as_tensor(split.targets, dtype=torch.long)


def _ensure_files(root: Path, download: bool) -> None:
    """Download the release when files are missing and allowed; else say how to get it."""
    folder = root / FOLDER
    missing = _missing_files(folder)
    if not missing:
        return
    manual = (
        f"download the python version (cifar-10-python.tar.gz) from {_SOURCE_URL} "
        f"and extract it in {root}, so that {folder / 'data_batch_1'} exists"
    )
    if download:
        try:
            download_and_extract_archive(
                CIFAR10.url, str(root), filename=CIFAR10.filename, md5=CIFAR10.tgz_md5
            )
        except (OSError, RuntimeError) as exc:  # no network, or a corrupted archive
            advice = f"downloading it failed ({exc}); without network access, {manual}"
        else:
            missing = _missing_files(folder)
            if not missing:
                return
            advice = f"the downloaded archive lacked them; {manual}"
    else:
        advice = f"set `download: true` in the config to fetch it, or {manual}"
    raise DatasetNotFoundError(f"CIFAR-10 not found: {folder} lacks {', '.join(missing)}; {advice}")


def _missing_files(folder: Path) -> list[str]:
    return [name for name in RELEASE_MD5 if not (folder / name).is_file()]


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__
