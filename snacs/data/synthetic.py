"""Synthetic image classification data written in the real on-disk formats.

Tests and the demo must exercise the same loaders as the paper-scale runs (DESIGN.md:
"a missing dataset is an error, never a silent swap"), so instead of an in-memory fake
this module writes files that torchvision's CIFAR-10 parser and ``ImageFolder`` read
unchanged: the CIFAR-10 python batches and an ImageNet-style tree of JPEG files.

Content. Every class owns a prototype made of a few Gabor-like components (an oriented
grating under a Gaussian envelope, plus a smooth colour blob), each with a class-specific
position, size, spatial frequency, orientation and colour. A sample is its class
prototype with a random translation, per-sample contrast and phase/orientation jitter,
a random background tint, one random distractor component drawn from the same family
as the prototypes, and pixel noise. ``difficulty`` in [0, 1] scales the nuisances
(translation, jitter, distractor strength, noise) together.

Measured at the default ``difficulty=0.6`` (10 classes, 32x32, chance 0.10): a
scikit-learn LogisticRegression (C=0.01) on standardised raw pixels scores 0.54-0.71
test accuracy with 100 training / 50 test images per class (seeds 0-2), 0.52-0.65 with
60 / 30 (seeds 0-3, the setting of ``tests/test_data.py``); at ``difficulty=1`` it drops
to 0.22-0.29 and at 0 it is 1.0. A three-conv-layer CNN with global average pooling
(Adam, 8 epochs, 500 training images per class) reaches about 0.87 test accuracy at the
default and about 0.44 at ``difficulty=1``: learnable, but not trivially. Rendering
10 classes x 500 images at 32x32 takes about 0.6-0.9 s on one CPU core.

Writes are atomic: the dataset folder is built under a temporary name next to its
destination, a marker with the generation parameters is written last, and the folder
is renamed into place. Calling a writer again with the same parameters finds the
marker and returns without work, so a workflow rule can call it unconditionally.
A destination that holds files without our marker is never overwritten, because it
may be a real dataset.
"""

import contextlib
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
from PIL import Image

from snacs.errors import ConfigError, CorruptDataError, SnacsError

SYNTHETIC_MARKER = "snacs_synthetic.json"
LockFactory = Callable[[], AbstractContextManager]
DEFAULT_DIFFICULTY = 0.6  # tuned: see the module docstring for what it yields
_FORMAT_VERSION = 1  # part of the marker: bump when the rendering changes
_COMPONENTS_PER_CLASS = 3
_CHUNK = 512  # samples rendered at once: bounds memory for large images
_CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_TRAIN_BATCHES = 5


def read_synthetic_marker(folder: str | os.PathLike) -> dict | None:
    """Return the generation parameters stored in ``folder``, or None for real data."""
    marker = Path(folder) / SYNTHETIC_MARKER
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptDataError(f"synthetic-data marker {marker} is damaged ({exc})") from exc


def make_synthetic_arrays(
    *,
    seed: int,
    num_classes: int,
    per_class: int,
    image_size: int,
    difficulty: float,
    split: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Render ``per_class`` images of each class as uint8 NHWC RGB plus int64 labels.

    Class prototypes depend only on ``seed`` and ``num_classes``, so every ``split``
    (0 = train, 1 = test/val) shows the same classes, drawn from independent streams:
    changing one split's size never changes the other's images. Samples come in a
    seeded random order, like the shuffled CIFAR-10 batches.
    """
    _check_generation_args(num_classes, per_class, image_size, difficulty)
    prototype_rng = np.random.default_rng([seed, 0])
    prototypes = _random_components(prototype_rng, (num_classes, _COMPONENTS_PER_CLASS))
    rng = np.random.default_rng([seed, 1 + split])
    labels = rng.permutation(np.repeat(np.arange(num_classes), per_class))
    images = np.empty((labels.size, image_size, image_size, 3), dtype=np.uint8)
    for start in range(0, labels.size, _CHUNK):
        chunk = labels[start : start + _CHUNK]
        images[start : start + chunk.size] = _render(prototypes, chunk, image_size, difficulty, rng)
    return images, labels


def write_synthetic_cifar(
    root: str | os.PathLike,
    *,
    seed: int,
    num_classes: int = 10,
    train_per_class: int,
    test_per_class: int,
    image_size: int = 32,
    difficulty: float = DEFAULT_DIFFICULTY,
    lock: LockFactory = contextlib.nullcontext,
) -> Path:
    """Write ``root/cifar-10-batches-py`` in the CIFAR-10 python format; return ``root``.

    Same files and pickled dict keys as the real release (``data_batch_1..5``,
    ``test_batch``, ``batches.meta``): ``data`` is a uint8 N x 3072 array of row-major
    R, G, B planes, ``labels`` a list of int, plus ``batch_label`` and ``filenames``.
    Keys are Python 3 ``str``: that is what torchvision sees for the real (Python 2)
    pickles, which it opens with ``encoding="latin1"``. The returned ``root`` is what
    ``load_dataset("cifar10", root)`` takes. ``lock`` makes a context manager that
    concurrent writers of the same root share; it is taken only when there is something
    to write, so a finished dataset is read without writing any file.
    """
    if image_size != 32:
        raise ConfigError(f"image_size: the CIFAR-10 format stores 32x32 images, got {image_size}")
    params = {
        "format": "cifar10",
        "version": _FORMAT_VERSION,
        "seed": seed,
        "num_classes": num_classes,
        "train_per_class": train_per_class,
        "test_per_class": test_per_class,
        "image_size": image_size,
        "difficulty": difficulty,
    }

    def fill(folder: Path) -> None:
        arrays = dict(seed=seed, num_classes=num_classes, image_size=32, difficulty=difficulty)
        train_x, train_y = make_synthetic_arrays(per_class=train_per_class, split=0, **arrays)
        test_x, test_y = make_synthetic_arrays(per_class=test_per_class, split=1, **arrays)
        parts = np.array_split(np.arange(train_y.size), _CIFAR_TRAIN_BATCHES)
        for number, part in enumerate(parts, start=1):
            label = f"training batch {number} of {_CIFAR_TRAIN_BATCHES}"
            first = int(part[0]) if part.size else 0  # a tiny set leaves some batches empty
            batch = _cifar_batch(train_x[part], train_y[part], label, first_index=first)
            _pickle(folder / f"data_batch_{number}", batch)
        _pickle(folder / "test_batch", _cifar_batch(test_x, test_y, "testing batch 1 of 1", 0))
        meta = {
            "num_cases_per_batch": int(parts[0].size),
            "label_names": [f"synthetic_{c}" for c in range(num_classes)],
            "num_vis": 32 * 32 * 3,
        }
        _pickle(folder / "batches.meta", meta)

    _write_once(Path(root) / _CIFAR_FOLDER, params, fill, lock)
    return Path(root)


def write_synthetic_imagefolder(
    root: str | os.PathLike,
    *,
    seed: int,
    num_classes: int,
    train_per_class: int,
    val_per_class: int,
    image_size: int = 64,
    difficulty: float = DEFAULT_DIFFICULTY,
    jpeg_quality: int = 90,
    lock: LockFactory = contextlib.nullcontext,
) -> Path:
    """Write an ILSVRC-style tree of JPEGs under ``root``; return ``root``.

    Layout as the ImageNet loader expects after the usual validation-set preparation:
    ``root/train/<wnid>/<wnid>_<k>.JPEG`` and ``root/val/<wnid>/ILSVRC2012_val_<k>.JPEG``
    with class folders named like WordNet ids (``n00000000``, ``n00000001``, ...).
    The whole ``root`` is the atomic unit, so it must be empty, absent, or an earlier
    synthetic tree. ``lock`` (as for ``write_synthetic_cifar``) is taken only to write.
    """
    params = {
        "format": "imagefolder",
        "version": _FORMAT_VERSION,
        "seed": seed,
        "num_classes": num_classes,
        "train_per_class": train_per_class,
        "val_per_class": val_per_class,
        "image_size": image_size,
        "difficulty": difficulty,
        "jpeg_quality": jpeg_quality,
    }
    wnids = [f"n{c:08d}" for c in range(num_classes)]

    def fill(folder: Path) -> None:
        arrays = dict(
            seed=seed, num_classes=num_classes, image_size=image_size, difficulty=difficulty
        )
        train_x, train_y = make_synthetic_arrays(per_class=train_per_class, split=0, **arrays)
        val_x, val_y = make_synthetic_arrays(per_class=val_per_class, split=1, **arrays)
        for wnid in wnids:
            (folder / "train" / wnid).mkdir(parents=True)
            (folder / "val" / wnid).mkdir(parents=True)
        for k, (image, label) in enumerate(zip(train_x, train_y, strict=True)):
            wnid = wnids[label]
            path = folder / "train" / wnid / f"{wnid}_{k}.JPEG"
            Image.fromarray(image).save(path, format="JPEG", quality=jpeg_quality)
        for k, (image, label) in enumerate(zip(val_x, val_y, strict=True), start=1):
            path = folder / "val" / wnids[label] / f"ILSVRC2012_val_{k:08d}.JPEG"
            Image.fromarray(image).save(path, format="JPEG", quality=jpeg_quality)

    _write_once(Path(root), params, fill, lock)
    return Path(root)


def _check_generation_args(
    num_classes: int, per_class: int, image_size: int, difficulty: float
) -> None:
    if num_classes < 2:
        raise ConfigError(f"num_classes: need at least 2 classes, got {num_classes}")
    if per_class < 1:
        raise ConfigError(f"images per class must be at least 1, got {per_class}")
    if image_size < 8:
        raise ConfigError(f"image_size: need at least 8 pixels, got {image_size}")
    if not 0.0 <= difficulty <= 1.0:
        raise ConfigError(f"difficulty must lie in [0, 1], got {difficulty}")


def _random_components(rng: np.random.Generator, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Gabor-plus-blob parameters, one family for prototypes and distractors.

    Geometry is relative to the image side, so one prototype renders at any size.
    """
    return {
        "centre": rng.uniform(0.25, 0.75, (*shape, 2)),
        "width": rng.uniform(0.10, 0.22, shape),
        "frequency": rng.uniform(1.5, 5.0, shape),  # cycles per image width
        "angle": rng.uniform(0.0, np.pi, shape),
        "phase": rng.uniform(0.0, 2 * np.pi, shape),
        "blob": rng.uniform(0.0, 0.8, shape),  # weight of the non-oscillating part
        "colour": rng.uniform(-1.0, 1.0, (*shape, 3)),
    }


def _render(
    prototypes: dict[str, np.ndarray],
    labels: np.ndarray,
    size: int,
    difficulty: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Render one chunk of samples; all randomness comes from ``rng`` in a fixed order."""
    n = labels.size
    d = difficulty
    parts = {key: value[labels] for key, value in prototypes.items()}
    parts["centre"] = parts["centre"] + rng.uniform(-1.0, 1.0, (n, 1, 2)) * (0.05 + 0.3 * d)
    parts["phase"] = parts["phase"] + rng.normal(0.0, 0.3 + 2.0 * d, parts["phase"].shape)
    parts["angle"] = parts["angle"] + rng.normal(0.0, 0.35 * d, parts["angle"].shape)
    parts["colour"] = parts["colour"] + rng.normal(0.0, 0.6 * d, parts["colour"].shape)
    contrast = rng.uniform(1.0 - 0.5 * d, 1.0 + 0.3 * d, (n, 1, 1, 1)).astype(np.float32)
    image = contrast * _draw_components(parts, size)

    distractor = _random_components(rng, (n, 1))
    strength = rng.uniform(0.0, 1.5 * d, (n, 1, 1, 1)).astype(np.float32)
    image += strength * _draw_components(distractor, size)
    image += rng.normal(0.0, 0.1 + 0.3 * d, (n, 1, 1, 3)).astype(np.float32)  # background tint
    image += (0.08 + 0.5 * d) * rng.standard_normal(image.shape, dtype=np.float32)
    return np.clip(128.0 + 80.0 * image, 0, 255).astype(np.uint8)


def _draw_components(components: dict[str, np.ndarray], size: int) -> np.ndarray:
    """Sum the components of every sample into float32 images of shape N x H x W x 3."""
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size
    y = coords[None, :, None]
    x = coords[None, None, :]
    n, count = components["width"].shape
    image = np.zeros((n, size, size, 3), dtype=np.float32)
    for k in range(count):
        cx = components["centre"][:, k, 0, None, None].astype(np.float32)
        cy = components["centre"][:, k, 1, None, None].astype(np.float32)
        width = components["width"][:, k, None, None].astype(np.float32)
        angle = components["angle"][:, k, None, None]
        frequency = components["frequency"][:, k, None, None]
        kx = (2 * np.pi * frequency * np.cos(angle)).astype(np.float32)
        ky = (2 * np.pi * frequency * np.sin(angle)).astype(np.float32)
        phase = components["phase"][:, k, None, None].astype(np.float32)
        blob = components["blob"][:, k, None, None].astype(np.float32)
        envelope = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * width**2))
        pattern = envelope * ((1 - blob) * np.cos(kx * (x - cx) + ky * (y - cy) + phase) + blob)
        colour = components["colour"][:, k, None, None, :].astype(np.float32)
        image += pattern[..., None] * colour
    return image


def _cifar_batch(images: np.ndarray, labels: np.ndarray, batch_label: str, first_index: int):
    """One batch dict as in the CIFAR-10 release: rows hold the R, G and B planes in turn."""
    planes = images.transpose(0, 3, 1, 2).reshape(len(images), 32 * 32 * 3)
    return {
        "batch_label": batch_label,
        "labels": [int(label) for label in labels],
        "data": np.ascontiguousarray(planes, dtype=np.uint8),
        "filenames": [
            f"synthetic_{int(label)}_{first_index + i:06d}.png" for i, label in enumerate(labels)
        ],
    }


def _pickle(path: Path, obj: object) -> None:
    with open(path, "wb") as handle:
        pickle.dump(obj, handle, protocol=2)


def _write_once(
    target: Path, params: dict, fill: Callable[[Path], None], lock: LockFactory
) -> None:
    """Build ``target`` in a temporary sibling and rename it into place, unless done already."""
    if read_synthetic_marker(target) == params:
        return
    with lock():
        if read_synthetic_marker(target) == params:  # written by the job we waited for
            return
        _replace_with_new(target, params, fill)


def _replace_with_new(target: Path, params: dict, fill: Callable[[Path], None]) -> None:
    if target.exists() and read_synthetic_marker(target) is None and any(target.iterdir()):
        raise SnacsError(
            f"refusing to write synthetic data into {target}: it holds files that the "
            "synthetic generator did not write (possibly a real dataset); choose another "
            "root or remove them"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the renamed dataset should be shareable
    try:
        fill(staging)
        (staging / SYNTHETIC_MARKER).write_text(json.dumps(params, indent=2, sort_keys=True))
        if target.exists():  # an outdated synthetic set (or an empty folder): swap it out
            retired = staging.with_name(staging.name + ".old")
            os.replace(target, retired)
            os.replace(staging, target)
            shutil.rmtree(retired)
        else:
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
