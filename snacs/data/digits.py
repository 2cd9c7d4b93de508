"""scikit-learn's handwritten digits: a real dataset that needs no files or network.

1,797 8x8 grey images of the digits 0-9 ship inside scikit-learn, which makes them the
dataset for tests and the smallest demo: real labels and real structure, available on
any machine. Pixels (0..16) are scaled to [0, 1] and then standardised with statistics
of the training part only, so nothing about the held-out part leaks into training.

Importing scikit-learn costs more CPU time than a small digits job spends computing, and a
workflow runs dozens of such jobs, so the split is kept under ``root`` after the first load
(one file per split and scikit-learn version) and later jobs read it back.
"""

from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from snacs.data.bundle import DATASETS, DatasetBundle
from snacs.data.device_data import TensorSplits
from snacs.errors import ConfigError
from snacs.io import atomic_path


@DATASETS.register("digits")
def load_digits_dataset(
    root: Path, download: bool = False, test_fraction: float = 0.25, seed: int = 0
) -> DatasetBundle:
    """Seeded stratified train/test split of the digits as flat 64-feature vectors.

    The data is bundled with scikit-learn, so there is nothing to fetch (``download`` is
    accepted so that every dataset is loaded through the same call); ``root`` is where the
    split is kept for the next load.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction: must lie strictly between 0 and 1, got {test_fraction}")
    train_x, test_x, train_y, test_y = _split(Path(root), test_fraction, seed)
    mean = train_x.mean(axis=0)
    std = train_x.std(axis=0)
    std[std < 1e-8] = 1.0  # border pixels that are blank in every training image
    train = _tensors((train_x - mean) / std, train_y)
    test = _tensors((test_x - mean) / std, test_y)
    return DatasetBundle(
        name="digits",
        num_classes=10,
        input_shape=(64,),
        train=train,
        train_eval=train,
        test=test,
        train_targets=[int(label) for label in train_y],
        class_names=[str(digit) for digit in range(10)],
        tensors=TensorSplits(*train.tensors, *test.tensors),
    )


SPLIT_PARTS = ("train_x", "test_x", "train_y", "test_y")


def _split(root: Path, test_fraction: float, seed: int) -> list[np.ndarray]:
    """(train_x, test_x, train_y, test_y) with pixels in [0, 1], read back when kept.

    The file is named by scikit-learn's version too: the split is scikit-learn's, and a
    new version could split differently.
    """
    kept = root / "digits" / f"split-{version('scikit-learn')}-{test_fraction}-{seed}.npz"
    if kept.exists():
        with np.load(kept) as arrays:
            return [arrays[name] for name in SPLIT_PARTS]
    # Imported only here: every workflow job imports the dataset registry.
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    features, labels = load_digits(return_X_y=True)
    parts = train_test_split(
        features / 16.0, labels, test_size=test_fraction, stratify=labels, random_state=seed
    )
    try:
        with atomic_path(kept) as tmp, open(tmp, "wb") as file:
            np.savez(file, **dict(zip(SPLIT_PARTS, parts, strict=True)))
    except OSError as error:  # a read-only root: the next job splits again, nothing lost
        print(f"digits split not kept ({error.strerror}: {kept})")
    return parts


def _tensors(features: np.ndarray, labels: np.ndarray) -> TensorDataset:
    return TensorDataset(
        torch.as_tensor(features, dtype=torch.float32), torch.as_tensor(labels, dtype=torch.long)
    )
