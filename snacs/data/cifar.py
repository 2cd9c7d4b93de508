"""CIFAR-10 from the python-version batches, parsed by torchvision.

Transforms follow the paper's recipes (spec §9.1): random 32x32 crops of the 4-pixel
zero-padded image and horizontal flips for training, nothing but normalisation with
the CIFAR-10 channel statistics for evaluation and pruning statistics.
"""

from pathlib import Path

import torch
from torchvision import transforms
from torchvision.datasets import CIFAR10

from snacs.data.bundle import DATASETS, DatasetBundle, TransformedView
from snacs.data.device_data import ImageAugment, TensorSplits
from snacs.data.synthetic import read_synthetic_marker
from snacs.errors import DatasetNotFoundError, SnacsError

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CROP_PADDING = 4
_SOURCE_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"


class CifarBatches(CIFAR10):
    """torchvision's CIFAR-10 parser that skips the md5 check only for synthetic batches.

    torchvision compares every batch with the md5 of the real release, which files
    written by ``snacs.data.synthetic`` cannot match. When the batch folder carries the
    generator's marker, the checksums are replaced by ``None`` (torchvision's own
    "just check that the file exists"), so the parsing path stays torchvision's; real
    batches keep the full check, which catches a truncated or corrupted download.
    """

    def __init__(self, root: Path, train: bool, download: bool):
        if read_synthetic_marker(Path(root) / self.base_folder) is not None:
            self.train_list = [[name, None] for name, _ in CIFAR10.train_list]
            self.test_list = [[name, None] for name, _ in CIFAR10.test_list]
            self.meta = {**CIFAR10.meta, "md5": None}
        super().__init__(root, train=train, download=download)


@DATASETS.register("cifar10")
def load_cifar10(root: Path, download: bool = False) -> DatasetBundle:
    """CIFAR-10 from ``root/cifar-10-batches-py``; fetched first when ``download`` is true."""
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
    train_base = _open_split(root, train=True, download=download)
    test_base = _open_split(root, train=False, download=False)
    return DatasetBundle(
        name="cifar10",
        num_classes=len(train_base.classes),
        input_shape=(3, 32, 32),
        train=TransformedView(train_base, train_transform),
        train_eval=TransformedView(train_base, eval_transform),
        test=TransformedView(test_base, eval_transform),
        train_targets=[int(t) for t in train_base.targets],
        class_names=list(train_base.classes),
        tensors=TensorSplits(
            *_as_tensors(train_base),
            *_as_tensors(test_base),
            augment=ImageAugment(crop_padding=CROP_PADDING, flip=True),
            mean=CIFAR10_MEAN,
            std=CIFAR10_STD,
        ),
    )


def _as_tensors(split: CIFAR10) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images as an NCHW view of torchvision's NHWC array (no copy), int64 labels."""
    images = torch.from_numpy(split.data).permute(0, 3, 1, 2)
    return images, torch.as_tensor(split.targets, dtype=torch.long)


def _open_split(root: Path, train: bool, download: bool) -> CifarBatches:
    """Open one split, turning torchvision's generic errors into actionable ones."""
    folder = root / CIFAR10.base_folder
    try:
        return CifarBatches(root, train=train, download=download)
    except (OSError, RuntimeError) as exc:  # no network, missing files, failed md5
        missing = _missing_files(folder)
        if missing:
            manual = (
                f"download the python version (cifar-10-python.tar.gz) from {_SOURCE_URL} "
                f"and extract it in {root}, so that {folder / 'data_batch_1'} exists"
            )
            if download:
                advice = f"downloading it failed ({exc}); without network access, {manual}"
            else:
                advice = f"set `download: true` in the config to fetch it, or {manual}"
            raise DatasetNotFoundError(
                f"CIFAR-10 not found: {folder} lacks {', '.join(missing)}; {advice}"
            ) from exc
        raise SnacsError(
            f"CIFAR-10 files in {folder} are present but unreadable ({exc}); they are "
            "probably truncated or corrupted: delete the folder and download them again"
        ) from exc


def _missing_files(folder: Path) -> list[str]:
    names = [name for name, _ in CIFAR10.train_list + CIFAR10.test_list]
    names.append(CIFAR10.meta["filename"])
    return [name for name in names if not (folder / name).is_file()]
