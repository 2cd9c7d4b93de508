"""Datasets behind one contract (``DatasetBundle``), the subset sampler, synthetic data.

Importing this package registers every dataset loader in ``DATASETS``.
"""

from snacs.data.bundle import (
    DATASETS,
    DatasetBundle,
    TransformedView,
    check_dataset_options,
    dataset_names,
    load_dataset,
    make_loader,
)
from snacs.data.cifar import load_cifar10
from snacs.data.digits import load_digits_dataset
from snacs.data.imagefolder import load_imagenet
from snacs.data.mnist import load_mnist
from snacs.data.subset import class_balanced_indices
from snacs.data.synthetic import (
    make_synthetic_arrays,
    write_synthetic_cifar,
    write_synthetic_imagefolder,
)

__all__ = [
    "DATASETS",
    "DatasetBundle",
    "TransformedView",
    "check_dataset_options",
    "class_balanced_indices",
    "dataset_names",
    "load_cifar10",
    "load_dataset",
    "load_digits_dataset",
    "load_imagenet",
    "load_mnist",
    "make_loader",
    "make_synthetic_arrays",
    "write_synthetic_cifar",
    "write_synthetic_imagefolder",
]
