"""Step ``data``: write the configured synthetic dataset or fetch the real one, then verify it.

A dataset root that already holds the data is only read: no lock, marker or temporary
file is written inside or beside it (shared datasets often sit on read-only storage).
Locks are taken only to write (synthetic data, a download) and live in the snacs cache
directory (``snacs.locks``); the step's own marker is its ``--out`` file in the results.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from snacs.data import DatasetBundle
from snacs.data.synthetic import write_synthetic_cifar, write_synthetic_imagefolder
from snacs.data.verify import DataCheck, verify_bundle
from snacs.errors import DatasetNotFoundError
from snacs.io import write_json
from snacs.layout import Written
from snacs.locks import dataset_lock
from snacs.pruning.benchmark import Spec, read_dataset


def prepare_dataset(spec: Spec) -> DatasetBundle:
    """The benchmark's dataset, written (synthetic) or downloaded first when needed.

    Benchmarks that share a dataset root (VGG16 and ResNet56 both read CIFAR-10) run
    their ``data`` jobs in parallel under Snakemake; the dataset lock makes writers take
    turns, so one writes or downloads the files and the other finds them complete.
    """
    dataset = spec["dataset"]
    root = Path(dataset["root"])
    lock = partial(dataset_lock, root)
    synthetic = dataset.get("synthetic")
    if synthetic:
        options = {k: v for k, v in synthetic.items() if k != "format"}
        if synthetic["format"] == "cifar10":
            write_synthetic_cifar(root, **options, lock=lock)
        else:
            options["val_per_class"] = options.pop("test_per_class")
            write_synthetic_imagefolder(root, **options, lock=lock)
    try:
        return read_dataset(spec, download=False)
    except DatasetNotFoundError:
        if not dataset["download"]:
            raise
    with lock():
        return read_dataset(spec, download=True)


def run_data(
    spec: Spec,
    out: Written[str | Path | None] = None,
    full_check: bool = False,
    progress: bool = True,
) -> DataCheck:
    """Prepare and verify the dataset; with ``out``, record what was checked there."""
    bundle = prepare_dataset(spec)
    check = verify_bundle(bundle, full=full_check, progress=progress)
    if out:
        write_json(out, {"root": spec["dataset"]["root"], **check.to_json()})
    return check
