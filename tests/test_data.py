"""Datasets, synthetic files in the real formats, the subset sampler and seeded loaders.

Every loader test reads files through the real torchvision parsers: synthetic CIFAR
batches and JPEG trees written by ``snacs.data.synthetic``, and tiny MNIST IDX files
written here byte by byte.
"""

import os
import pickle
import shutil
import struct
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch.utils.data import Dataset, TensorDataset

from snacs.data import (
    DatasetBundle,
    class_balanced_indices,
    dataset_names,
    load_dataset,
    make_loader,
    make_synthetic_arrays,
    write_synthetic_cifar,
    write_synthetic_imagefolder,
)
from snacs.data.cifar import CIFAR10_MEAN, CIFAR10_STD
from snacs.data.mnist import MNIST_MEAN, MNIST_STD
from snacs.data.synthetic import DEFAULT_DIFFICULTY, SYNTHETIC_MARKER
from snacs.errors import ConfigError, DatasetNotFoundError, SnacsError, UnknownNameError
from snacs.locks import dataset_lock
from snacs.pipeline.data import prepare_dataset

CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cifar")
    return write_synthetic_cifar(root, seed=3, train_per_class=20, test_per_class=5)


@pytest.fixture(scope="module")
def imagenet_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("imagenet") / "ilsvrc"
    return write_synthetic_imagefolder(
        root, seed=1, num_classes=3, train_per_class=4, val_per_class=2, image_size=40
    )


# --- registry -------------------------------------------------------------------------


def test_registry_lists_every_dataset_and_rejects_unknown_names_and_options(tmp_path):
    assert {"cifar10", "imagenet", "mnist", "digits"} <= set(dataset_names())
    with pytest.raises(UnknownNameError, match="cifar10"):
        load_dataset("cifar100", tmp_path)
    with pytest.raises(ConfigError, match="image_size"):
        load_dataset("digits", tmp_path, image_size=32)


# --- CIFAR-10 -------------------------------------------------------------------------


def test_synthetic_cifar_files_have_the_release_layout(cifar_root):
    folder = cifar_root / "cifar-10-batches-py"
    assert sorted(p.name for p in folder.iterdir()) == sorted([*CIFAR_FILES, SYNTHETIC_MARKER])
    with open(folder / "data_batch_2", "rb") as handle:
        batch = pickle.load(handle, encoding="latin1")
    assert set(batch) == {"batch_label", "labels", "data", "filenames"}
    assert batch["data"].dtype == np.uint8 and batch["data"].shape == (40, 3072)
    assert all(isinstance(label, int) for label in batch["labels"])
    assert len(batch["filenames"]) == 40
    with open(folder / "batches.meta", "rb") as handle:
        meta = pickle.load(handle, encoding="latin1")
    assert len(meta["label_names"]) == 10 and meta["num_vis"] == 3072


def test_cifar_loads_through_the_registry_with_exact_normalisation(cifar_root):
    bundle = load_dataset("cifar10", cifar_root)
    assert isinstance(bundle, DatasetBundle)
    assert (bundle.name, bundle.num_classes, bundle.input_shape) == ("cifar10", 10, (3, 32, 32))
    assert len(bundle.train) == len(bundle.train_eval) == 200 and len(bundle.test) == 50
    assert Counter(bundle.train_targets) == {c: 20 for c in range(10)}
    assert bundle.class_names[0] == "synthetic_0"

    # Sample 0 of the training views is row 0 of data_batch_1 as R, G, B planes.
    with open(cifar_root / "cifar-10-batches-py" / "data_batch_1", "rb") as handle:
        batch = pickle.load(handle, encoding="latin1")
    planes = torch.tensor(batch["data"][0].reshape(3, 32, 32), dtype=torch.float32) / 255
    mean = torch.tensor(CIFAR10_MEAN).view(3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(3, 1, 1)
    image, label = bundle.train_eval[0]
    assert label == batch["labels"][0] == bundle.train_targets[0]
    torch.testing.assert_close(image, (planes - mean) / std)

    stacked = torch.stack([bundle.test[i][0] for i in range(len(bundle.test))])
    assert stacked.mean().abs() < 0.5 and 0.3 < stacked.std() < 3.0
    assert {bundle.test[i][1] for i in range(len(bundle.test))} <= set(range(10))


def test_cifar_training_view_is_augmented_and_evaluation_view_is_not(cifar_root):
    bundle = load_dataset("cifar10", cifar_root)
    torch.manual_seed(0)
    plain = bundle.train_eval[5][0]
    assert torch.equal(plain, bundle.train_eval[5][0])
    augmented = [bundle.train[5][0] for _ in range(8)]
    assert all(view.shape == (3, 32, 32) for view in augmented)
    assert any(not torch.equal(view, plain) for view in augmented)


def test_missing_cifar_names_the_path_and_how_to_get_it(tmp_path):
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset("cifar10", tmp_path / "absent")
    message = str(caught.value)
    assert str(tmp_path / "absent" / "cifar-10-batches-py") in message
    assert "download: true" in message and "cs.toronto.edu" in message


def test_cifar_without_synthetic_marker_is_checked_against_the_release_md5(cifar_root, tmp_path):
    copy = tmp_path / "cifar-10-batches-py"
    shutil.copytree(cifar_root / "cifar-10-batches-py", copy)
    (copy / SYNTHETIC_MARKER).unlink()
    with pytest.raises(SnacsError, match="corrupted") as caught:
        load_dataset("cifar10", tmp_path)
    assert not isinstance(caught.value, DatasetNotFoundError)


# --- synthetic generator --------------------------------------------------------------


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_synthetic_cifar_is_deterministic_per_seed(tmp_path):
    settings = dict(train_per_class=3, test_per_class=2)
    first = write_synthetic_cifar(tmp_path / "a", seed=7, **settings)
    again = write_synthetic_cifar(tmp_path / "b", seed=7, **settings)
    other = write_synthetic_cifar(tmp_path / "c", seed=8, **settings)
    assert _tree_bytes(first) == _tree_bytes(again)
    first_batch = (first / "cifar-10-batches-py" / "data_batch_1").read_bytes()
    other_batch = (other / "cifar-10-batches-py" / "data_batch_1").read_bytes()
    assert first_batch != other_batch


def test_synthetic_writer_skips_finished_work_and_replaces_outdated_sets(tmp_path):
    folder = write_synthetic_cifar(tmp_path, seed=0, train_per_class=2, test_per_class=1)
    batch = folder / "cifar-10-batches-py" / "data_batch_1"
    before = batch.stat().st_ino, batch.stat().st_mtime_ns
    write_synthetic_cifar(tmp_path, seed=0, train_per_class=2, test_per_class=1)
    assert (batch.stat().st_ino, batch.stat().st_mtime_ns) == before

    write_synthetic_cifar(tmp_path, seed=0, train_per_class=3, test_per_class=1)
    assert len(load_dataset("cifar10", tmp_path).train) == 30
    assert [p.name for p in tmp_path.iterdir()] == ["cifar-10-batches-py"]  # no leftovers


def test_synthetic_writer_never_overwrites_foreign_files(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "real.JPEG").write_bytes(b"not ours")
    with pytest.raises(SnacsError, match="refusing"):
        write_synthetic_imagefolder(
            tmp_path, seed=0, num_classes=2, train_per_class=1, val_per_class=1
        )
    assert (tmp_path / "train" / "real.JPEG").read_bytes() == b"not ours"


def test_synthetic_arguments_are_validated(tmp_path):
    with pytest.raises(ConfigError, match="32x32"):
        write_synthetic_cifar(tmp_path, seed=0, train_per_class=1, test_per_class=1, image_size=64)
    with pytest.raises(ConfigError, match="difficulty"):
        make_synthetic_arrays(
            seed=0, num_classes=2, per_class=1, image_size=16, difficulty=1.5, split=0
        )


def test_synthetic_classes_are_learnable_but_not_trivial():
    """Linear model on raw pixels: clearly above chance (0.1), below perfect.

    Measured with this exact setup: about 0.52-0.65 test accuracy at the default
    difficulty over seeds 0-3, and about 0.22-0.29 at difficulty 1.
    """

    def linear_accuracy(difficulty: float) -> float:
        common = dict(seed=0, num_classes=10, image_size=32, difficulty=difficulty)
        train_x, train_y = make_synthetic_arrays(per_class=60, split=0, **common)
        test_x, test_y = make_synthetic_arrays(per_class=30, split=1, **common)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=300))
        model.fit(train_x.reshape(len(train_x), -1) / 255.0, train_y)
        return model.score(test_x.reshape(len(test_x), -1) / 255.0, test_y)

    default = linear_accuracy(DEFAULT_DIFFICULTY)
    assert 0.2 < default < 1.0
    assert linear_accuracy(1.0) < default


# --- ImageNet layout ------------------------------------------------------------------


def test_imagefolder_tree_loads_as_imagenet_with_small_images(imagenet_root):
    sample = next((imagenet_root / "val" / "n00000002").iterdir())
    assert sample.name.startswith("ILSVRC2012_val_") and sample.suffix == ".JPEG"
    assert Image.open(sample).format == "JPEG"
    bundle = load_dataset("imagenet", imagenet_root, image_size=32)
    assert (bundle.num_classes, bundle.input_shape) == (3, (3, 32, 32))
    assert bundle.class_names == ["n00000000", "n00000001", "n00000002"]
    assert Counter(bundle.train_targets) == {0: 4, 1: 4, 2: 4}
    assert len(bundle.test) == 6
    for view in (bundle.train, bundle.train_eval, bundle.test):
        image, label = view[0]
        assert image.shape == (3, 32, 32) and label in (0, 1, 2)


def test_synthetic_imagefolder_is_deterministic(imagenet_root, tmp_path):
    again = write_synthetic_imagefolder(
        tmp_path / "again", seed=1, num_classes=3, train_per_class=4, val_per_class=2, image_size=40
    )
    assert _tree_bytes(again) == _tree_bytes(imagenet_root)


def test_missing_imagenet_names_the_path_and_layout(tmp_path):
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset("imagenet", tmp_path, download=True)
    assert str(tmp_path / "train") in str(caught.value) and "<wnid>" in str(caught.value)


def test_flat_validation_folder_is_reported(imagenet_root, tmp_path):
    shutil.copytree(imagenet_root / "train", tmp_path / "train")
    (tmp_path / "val").mkdir()
    shutil.copy(next((imagenet_root / "val" / "n00000000").iterdir()), tmp_path / "val")
    with pytest.raises(DatasetNotFoundError, match="valprep"):
        load_dataset("imagenet", tmp_path, image_size=32)


def test_train_and_val_classes_must_agree(imagenet_root, tmp_path):
    shutil.copytree(imagenet_root, tmp_path / "copy")
    shutil.rmtree(tmp_path / "copy" / "val" / "n00000001")
    with pytest.raises(SnacsError, match="n00000001"):
        load_dataset("imagenet", tmp_path / "copy", image_size=32)


# --- MNIST ----------------------------------------------------------------------------


def _write_idx(path: Path, array: np.ndarray) -> None:
    """IDX file as distributed by LeCun: magic (0, 0, uint8 code 0x08, ndim), sizes, data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_reads_idx_files(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    train_images = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    train_images[0, 0, 0] = 0
    _write_idx(raw / "train-images-idx3-ubyte", train_images)
    _write_idx(raw / "train-labels-idx1-ubyte", np.arange(12) % 10)
    _write_idx(raw / "t10k-images-idx3-ubyte", rng.integers(0, 256, (6, 28, 28)))
    _write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(6))

    bundle = load_dataset("mnist", tmp_path)
    assert (bundle.num_classes, bundle.input_shape) == (10, (1, 28, 28))
    assert bundle.train_targets == [i % 10 for i in range(12)] and len(bundle.test) == 6
    image, label = bundle.train_eval[0]
    assert image.shape == (1, 28, 28) and label == 0
    expected = (torch.tensor(train_images[0], dtype=torch.float32) / 255 - MNIST_MEAN[0]) / (
        MNIST_STD[0]
    )
    torch.testing.assert_close(image[0], expected)


def test_missing_mnist_names_the_raw_folder(tmp_path):
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset("mnist", tmp_path)
    assert str(tmp_path / "MNIST" / "raw") in str(caught.value)
    assert "train-images-idx3-ubyte" in str(caught.value)


# --- digits ---------------------------------------------------------------------------


def test_digits_split_is_stratified_standardised_and_seeded(tmp_path):
    bundle = load_dataset("digits", tmp_path / "ignored", test_fraction=0.25, seed=0)
    assert (bundle.num_classes, bundle.input_shape) == (10, (64,))
    assert len(bundle.train) + len(bundle.test) == 1797 and len(bundle.test) == 450
    assert bundle.train_eval is bundle.train
    test_counts = Counter(int(y) for y in bundle.test.tensors[1])
    train_counts = Counter(bundle.train_targets)
    for digit in range(10):
        share = test_counts[digit] / (test_counts[digit] + train_counts[digit])
        assert abs(share - 0.25) < 0.02
    features = bundle.train.tensors[0]
    assert features.shape == (1347, 64) and features.dtype == torch.float32
    assert features.mean(0).abs().max() < 1e-4

    same = load_dataset("digits", tmp_path, seed=0)
    other = load_dataset("digits", tmp_path, seed=1)
    assert torch.equal(same.test.tensors[0], bundle.test.tensors[0])
    assert not torch.equal(other.test.tensors[0], bundle.test.tensors[0])
    with pytest.raises(ConfigError, match="test_fraction"):
        load_dataset("digits", tmp_path, test_fraction=1.0)


def test_digits_split_is_kept_and_read_back_without_scikit_learn(tmp_path):
    """The second load reads the kept split, in a process that never imports
    scikit-learn, and gives the same tensors; a root where nothing can be written still
    loads, only without keeping the split."""
    first = load_dataset("digits", tmp_path, seed=3)
    assert len(list((tmp_path / "digits").glob("split-*-0.25-3.npz"))) == 1
    code = (
        "import sys, torch; from snacs.data import load_dataset; "
        f"b = load_dataset('digits', {str(tmp_path)!r}, seed=3); "
        "assert not any(m.startswith('sklearn') for m in sys.modules), 'sklearn imported'; "
        f"torch.save([*b.train.tensors, *b.test.tensors], {str(tmp_path / 'again.pt')!r})"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    again = torch.load(tmp_path / "again.pt")
    for a, b in zip([*first.train.tensors, *first.test.tensors], again, strict=True):
        assert torch.equal(a, b)
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    bundle = load_dataset("digits", not_a_folder, seed=3)
    assert torch.equal(bundle.test.tensors[0], first.test.tensors[0])


# --- class-balanced subset ------------------------------------------------------------


def test_subset_has_exactly_per_class_sorted_distinct_indices():
    targets = [i % 4 for i in range(100)] + [4] * 7
    chosen = class_balanced_indices(targets, per_class=6, seed=1)
    assert chosen.dtype == np.int64 and len(chosen) == 30
    assert Counter(targets[i] for i in chosen) == {c: 6 for c in range(5)}
    assert np.all(np.diff(chosen) > 0)  # sorted and without duplicates
    assert np.array_equal(chosen, class_balanced_indices(targets, per_class=6, seed=1))
    assert not np.array_equal(chosen, class_balanced_indices(targets, per_class=6, seed=2))


def test_subset_of_one_class_ignores_changes_to_other_classes():
    targets = [i % 3 for i in range(60)]
    grown = targets + [2] * 30
    before = class_balanced_indices(targets, per_class=5, seed=0)
    after = class_balanced_indices(grown, per_class=5, seed=0)
    assert [i for i in before if targets[i] == 0] == [i for i in after if grown[i] == 0]
    assert [i for i in before if targets[i] == 2] != [i for i in after if grown[i] == 2]


def test_subset_too_small_class_is_an_error_unless_sampling_with_replacement():
    targets = [0] * 10 + [1] * 3
    with pytest.raises(SnacsError, match=r"class 1 has only 3 samples but 5"):
        class_balanced_indices(targets, per_class=5, seed=0)
    chosen = class_balanced_indices(targets, per_class=5, seed=0, replace=True)
    assert Counter(targets[i] for i in chosen) == {0: 5, 1: 5}
    assert set(chosen[5:]) <= {10, 11, 12}  # class 1 sorts last; duplicates are expected
    with pytest.raises(ConfigError):
        class_balanced_indices(targets, per_class=0, seed=0)


# --- loaders --------------------------------------------------------------------------


class _NoisyIndex(Dataset):
    """Returns its index plus torch and NumPy noise, as random augmentations would."""

    def __len__(self) -> int:
        return 16

    def __getitem__(self, index: int):
        return torch.rand(1) + float(np.random.rand()), index


def _collect(loader) -> list[torch.Tensor]:
    return [torch.cat([values.flatten(), indices.float()]) for values, indices in loader]


def test_make_loader_order_follows_the_seed():
    data = TensorDataset(torch.arange(40))
    order = [batch[0].tolist() for batch in make_loader(data, 8, shuffle=True, seed=3)]
    again = [batch[0].tolist() for batch in make_loader(data, 8, shuffle=True, seed=3)]
    other = [batch[0].tolist() for batch in make_loader(data, 8, shuffle=True, seed=4)]
    assert order == again and order != other
    assert sorted(sum(order, [])) == list(range(40))
    dropped = list(make_loader(data, 16, shuffle=False, drop_last=True))
    assert len(dropped) == 2 and dropped[0][0].tolist() == list(range(16))


@pytest.mark.skipif(os.name != "posix", reason="worker start-up is fast only with fork")
def test_make_loader_worker_randomness_follows_the_seed():
    first = _collect(make_loader(_NoisyIndex(), 4, shuffle=True, workers=1, seed=5))
    second = _collect(make_loader(_NoisyIndex(), 4, shuffle=True, workers=1, seed=5))
    third = _collect(make_loader(_NoisyIndex(), 4, shuffle=True, workers=1, seed=6))
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert not all(torch.equal(a, c) for a, c in zip(first, third, strict=True))


def test_benchmarks_sharing_a_dataset_root_take_turns_preparing_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SNACS_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "cifar"
    spec = {
        "dataset": {
            "name": "cifar10",
            "root": str(root),
            "download": False,
            "options": {},
            "synthetic": {
                "format": "cifar10",
                "seed": 1,
                "train_per_class": 4,
                "test_per_class": 2,
            },
        }
    }
    done = threading.Event()
    with dataset_lock(root):  # another benchmark's data job holds the root
        worker = threading.Thread(target=lambda: (prepare_dataset(spec), done.set()))
        worker.start()
        assert not done.wait(1.0), "prepare_dataset must wait for the lock"
        assert not (root / "cifar-10-batches-py").exists()
    worker.join(timeout=60)
    assert done.is_set()
    assert len(load_dataset("cifar10", root).test) == 20
