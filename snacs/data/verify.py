"""Checking a dataset before anything trains on it, naming the file at fault.

A truncated JPEG or a damaged batch should stop the data step, not a training job
hours later with an error that names no file. The quick check (always run by
``snacs data``) reads what is cheap: the counts and labels of every split (loading a
dataset already checks array shapes) and, for image-file datasets, each file's format
signature and, for JPEG and PNG, its end-of-image marker, which a cut-off file lacks.
The full check decodes every image, for when a quick check passed but doubts remain.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from snacs.data.bundle import DatasetBundle
from snacs.data.imagefolder import read_rgb_image
from snacs.errors import CorruptDataError

# Leading bytes of the image formats PIL reads (ImageNet holds a few PNG/CMYK oddities).
_SIGNATURES = {
    b"\xff\xd8\xff": "jpeg",
    b"\x89PNG\r\n\x1a\n": "png",
    b"GIF87a": "gif",
    b"GIF89a": "gif",
    b"BM": "bmp",
}
# Where each format's last marker must appear: a cut-off file lacks it. Inside JPEG
# entropy-coded data 0xFF is always followed by 0x00 or a restart marker, so FF D9 near
# the end is the end-of-image marker (some encoders pad a few bytes after it).
_END_MARKERS = {"jpeg": b"\xff\xd9", "png": b"IEND"}
_TAIL = 1024


@dataclass(frozen=True)
class DataCheck:
    """What the data step verified, recorded in its marker file."""

    dataset: str
    num_classes: int
    train_samples: int
    test_samples: int
    files_checked: int
    full: bool
    seconds: float
    #: the bundle's check against its release: release, layout (an unverified copy),
    #: synthetic, or "" where the loader checks none
    verified: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def verify_bundle(bundle: DatasetBundle, full: bool = False, progress: bool = True) -> DataCheck:
    """Check counts and labels, then every image file (headers, or decoding with ``full``)."""
    started = time.perf_counter()
    _check_counts(bundle)
    check = decode_image if full else check_image_header
    label = "decoding images" if full else "checking image headers"
    for path in tqdm(bundle.files, desc=label, disable=not progress or not bundle.files):
        check(path)
    return DataCheck(
        dataset=bundle.name,
        num_classes=bundle.num_classes,
        train_samples=len(bundle.train),
        test_samples=len(bundle.test),
        files_checked=len(bundle.files),
        full=full,
        seconds=time.perf_counter() - started,
        verified=bundle.verified,
    )


def _check_counts(bundle: DatasetBundle) -> None:
    if len(bundle.train) == 0 or len(bundle.test) == 0:
        raise CorruptDataError(
            f"dataset {bundle.name}: {len(bundle.train)} training and {len(bundle.test)} "
            "test samples; both splits need samples"
        )
    if len(bundle.train_targets) != len(bundle.train):
        raise CorruptDataError(
            f"dataset {bundle.name}: {len(bundle.train_targets)} training labels for "
            f"{len(bundle.train)} samples"
        )
    counts = Counter(bundle.train_targets)
    outside = sorted(label for label in counts if not 0 <= label < bundle.num_classes)
    if outside:
        raise CorruptDataError(
            f"dataset {bundle.name}: labels {outside[:5]} outside 0..{bundle.num_classes - 1}"
        )
    empty = [bundle.class_names[c] for c in range(bundle.num_classes) if counts[c] == 0]
    if empty:
        raise CorruptDataError(
            f"dataset {bundle.name}: no training samples of class(es) {', '.join(empty[:5])}"
        )


def check_image_header(path: Path) -> None:
    """Raise CorruptDataError unless ``path`` starts like an image (and ends like a JPEG/PNG)."""
    with open(path, "rb") as handle:
        head = handle.read(16)
        kind = next((k for sig, k in _SIGNATURES.items() if head.startswith(sig)), None)
        if kind is None and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            kind = "webp"
        if kind is None:
            raise CorruptDataError(f"image {path} is not an image file (starts {head[:8].hex()})")
        end = _END_MARKERS.get(kind)
        if end is None:
            return
        size = handle.seek(0, 2)
        handle.seek(max(0, size - _TAIL))
        if end not in handle.read():
            raise CorruptDataError(
                f"image {path} is truncated: its {kind.upper()} end marker is missing"
            )


def decode_image(path: Path) -> None:
    """Decode the whole image; raises CorruptDataError naming ``path`` when that fails."""
    read_rgb_image(str(path)).load()
