"""Datasets behind one contract (``DatasetBundle``), the subset sampler, synthetic data.

Importing this package registers every dataset loader in ``DATASETS``; the loaders built on
torchvision (CIFAR-10, MNIST, ImageNet) are imported when first asked for, since importing
torchvision costs each short workflow step seconds.
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
from snacs.data.digits import load_digits_dataset
from snacs.data.subset import class_balanced_indices
from snacs.data.synthetic import (
    make_synthetic_arrays,
    write_synthetic_cifar,
    write_synthetic_imagefolder,
)

DATASETS.register_module("cifar10", "snacs.data.cifar")
DATASETS.register_module("mnist", "snacs.data.mnist")
DATASETS.register_module("imagenet", "snacs.data.imagefolder")

__all__ = [
    "DATASETS",
    "DatasetBundle",
    "TransformedView",
    "check_dataset_options",
    "class_balanced_indices",
    "dataset_names",
    "load_dataset",
    "load_digits_dataset",
    "make_loader",
    "make_synthetic_arrays",
    "write_synthetic_cifar",
    "write_synthetic_imagefolder",
]
