"""MNIST from the IDX files, parsed by torchvision; used by the small MLP experiments.

No augmentation (as in the paper's MLP setup), so the training view used for training
and the one used for pruning statistics are the same dataset object.
"""

from pathlib import Path

from torchvision import transforms
from torchvision.datasets import MNIST

from snacs.data.bundle import DATASETS, DatasetBundle
from snacs.data.device_data import TensorSplits
from snacs.errors import DatasetNotFoundError

MNIST_MEAN = (0.1307,)
MNIST_STD = (0.3081,)
_RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@DATASETS.register("mnist")
def load_mnist(root: Path, download: bool = False) -> DatasetBundle:
    """MNIST from ``root/MNIST/raw/*-ubyte``; fetched first when ``download`` is true."""
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize(MNIST_MEAN, MNIST_STD)]
    )
    train = _open_split(root, train=True, download=download, transform=transform)
    test = _open_split(root, train=False, download=False, transform=transform)
    return DatasetBundle(
        name="mnist",
        num_classes=len(train.classes),
        input_shape=(1, 28, 28),
        train=train,
        train_eval=train,
        test=test,
        train_targets=train.targets.tolist(),
        class_names=list(train.classes),
        tensors=TensorSplits(
            train.data.unsqueeze(1),
            train.targets,
            test.data.unsqueeze(1),
            test.targets,
            mean=MNIST_MEAN,
            std=MNIST_STD,
        ),
    )


def _open_split(root: Path, train: bool, download: bool, transform) -> MNIST:
    try:
        return MNIST(str(root), train=train, download=download, transform=transform)
    except (OSError, RuntimeError) as exc:  # files missing, or no network for the download
        raw = root / "MNIST" / "raw"
        manual = (
            "download the four .gz files from https://ossci-datasets.s3.amazonaws.com/mnist/ "
            "and gunzip them into that folder"
        )
        if download:
            advice = f"downloading them failed ({exc}); without network access, {manual}"
        else:
            advice = f"set `download: true` in the config to fetch them, or {manual}"
        raise DatasetNotFoundError(
            f"MNIST not found: expected the uncompressed IDX files {', '.join(_RAW_FILES)} "
            f"in {raw}; {advice}"
        ) from exc
