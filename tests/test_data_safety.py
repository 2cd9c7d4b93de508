"""Dataset files are parsed without running code, read-only roots stay untouched, and
damaged files are named by the data step instead of failing later inside training."""

import builtins
import errno
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from snacs.cli import main
from snacs.config import step_spec
from snacs.config_file import load_config
from snacs.data import load_dataset, write_synthetic_cifar, write_synthetic_imagefolder
from snacs.data.safe_pickle import load_pickle_safely
from snacs.data.synthetic import SYNTHETIC_MARKER
from snacs.errors import CheckpointError, CorruptDataError
from snacs.io import load_checkpoint
from snacs.locks import dataset_lock_path
from snacs.pipeline.data import prepare_dataset, run_data

CIFAR_SYNTHETIC = {"format": "cifar10", "seed": 2, "train_per_class": 3, "test_per_class": 2}
IMAGEFOLDER_SYNTHETIC = {
    "seed": 1,
    "num_classes": 3,
    "train_per_class": 3,
    "val_per_class": 2,
    "image_size": 24,
}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SNACS_CACHE_DIR", str(tmp_path / "cache"))


def cifar_spec(root: Path, synthetic: bool = True) -> dict:
    dataset = {"name": "cifar10", "root": str(root), "download": False, "options": {}}
    if synthetic:
        dataset["synthetic"] = dict(CIFAR_SYNTHETIC)
    return {"name": "b", "dataset": dataset}


def imagenet_spec(root: Path) -> dict:
    options = {"image_size": 24}
    return {
        "name": "b",
        "dataset": {"name": "imagenet", "root": str(root), "download": False, "options": options},
    }


@pytest.fixture
def cifar_root(tmp_path) -> Path:
    options = {k: v for k, v in CIFAR_SYNTHETIC.items() if k != "format"}
    return write_synthetic_cifar(tmp_path / "storage" / "cifar", **options)


@pytest.fixture
def imagenet_root(tmp_path) -> Path:
    """A synthetic JPEG tree without the generator's marker: to the loader, real data."""
    root = write_synthetic_imagefolder(tmp_path / "storage" / "imagenet", **IMAGEFOLDER_SYNTHETIC)
    (root / SYNTHETIC_MARKER).unlink()
    return root


# --- no code runs from a data file ----------------------------------------------------


class _Payload:
    """Unpickling this object runs a shell command that creates ``flag``."""

    def __init__(self, flag: Path):
        self.flag = flag

    def __reduce__(self):
        return (os.system, (f"touch {self.flag}",))


def _crafted_batch(flag: Path, nested: bool) -> bytes:
    if nested:  # hidden inside an otherwise well-formed batch
        batch = {"data": np.zeros((1, 3072), np.uint8), "labels": [_Payload(flag)]}
        return pickle.dumps(batch, protocol=2)
    return pickle.dumps(_Payload(flag), protocol=2)


@pytest.mark.parametrize("nested", [False, True])
@pytest.mark.parametrize("name", ["data_batch_1", "test_batch", "batches.meta"])
def test_crafted_batch_beside_the_synthetic_marker_runs_no_code(cifar_root, tmp_path, name, nested):
    folder = cifar_root / "cifar-10-batches-py"
    assert (folder / SYNTHETIC_MARKER).is_file()  # the marker that skips the md5 check
    flag = tmp_path / "pwned"
    payload = _crafted_batch(flag, nested)
    (folder / name).write_bytes(payload)
    with pytest.raises(CorruptDataError) as caught:
        load_dataset("cifar10", cifar_root)
    assert str(folder / name) in str(caught.value) and "system" in str(caught.value)
    assert not flag.exists()
    # The payload is live: plain unpickling (in a child process) does create the file.
    subprocess.run(
        [sys.executable, "-c", "import pickle, sys; pickle.loads(sys.stdin.buffer.read())"],
        input=payload,
        check=False,
        capture_output=True,
    )
    assert flag.exists()


def _hostile_checkpoints(flag: Path, folder: Path) -> dict[str, Path]:
    """A torch zip checkpoint and a bare pickle that each run a command when unpickled."""
    zipped, bare = folder / "zipped.pt", folder / "bare.pt"
    torch.save({"model": {"fc1.weight": torch.zeros(2)}, "extra": _Payload(flag)}, zipped)
    bare.write_bytes(pickle.dumps(_Payload(flag), protocol=2))
    return {"zipped": zipped, "bare": bare}


@pytest.mark.parametrize("kind", ["zipped", "bare"])
def test_hostile_checkpoint_is_refused_in_one_line_without_unsafe_advice(tmp_path, kind):
    flag = tmp_path / "pwned"
    path = _hostile_checkpoints(flag, tmp_path)[kind]
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with pytest.raises(CheckpointError) as caught:
            load_checkpoint(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "refused" in message
    assert "weights_only" not in message and "succeed" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert not shown  # torch's protocol warning would be a second message
    assert not flag.exists()
    if kind == "zipped":
        assert "system" in message  # names what the file asked for


def test_hostile_checkpoint_given_to_a_step_ends_in_one_line(tmp_path, capsys):
    flag = tmp_path / "pwned"
    path = _hostile_checkpoints(flag, tmp_path)["zipped"]
    config = load_config(Path(__file__).resolve().parent.parent / "config" / "ci.yaml")
    spec = step_spec(config, "digits_mlp", "activations")
    out = tmp_path / "activations.pt"
    argv = ["activations", "--spec", json.dumps(spec), "--dense-checkpoint", str(path)]
    code = main([*argv, "--out", str(out)])
    _, err = capsys.readouterr()
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert str(path) in err and "weights_only" not in err
    assert not flag.exists() and not out.exists()


def test_release_style_pickles_still_load(tmp_path):
    """Files pickled before numpy 2 name numpy.core.multiarray; both spellings load."""
    batch = {"data": np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072), "labels": [3, 4]}
    data = pickle.dumps(batch, protocol=2)
    assert b"numpy._core.multiarray" in data
    old = tmp_path / "old_batch"
    old.write_bytes(data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    for path in (old,):
        loaded = load_pickle_safely(path)
        assert loaded["labels"] == [3, 4] and np.array_equal(loaded["data"], batch["data"])


def test_object_arrays_are_refused(tmp_path):
    path = tmp_path / "objects"
    path.write_bytes(pickle.dumps({"data": np.array([1, "a"], dtype=object)}, protocol=2))
    with pytest.raises(CorruptDataError, match="Python objects"):
        load_pickle_safely(path)


# --- damaged files are named by the data step ------------------------------------------


def _rewrite_batch(path: Path, change) -> None:
    batch = load_pickle_safely(path)
    change(batch)
    path.write_bytes(pickle.dumps(batch, protocol=2))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "truncated"),
        (lambda p: _rewrite_batch(p, lambda b: b.update(data=b["data"][:, :3000])), "3000"),
        (lambda p: _rewrite_batch(p, lambda b: b.update(labels=b["labels"][:-1])), "labels"),
        (lambda p: _rewrite_batch(p, lambda b: b["labels"].__setitem__(0, 10)), "outside"),
        (lambda p: _rewrite_batch(p, lambda b: b.update(data=b["data"].astype(float))), "uint8"),
    ],
    ids=["truncated", "short-rows", "label-count", "label-range", "dtype"],
)
def test_damaged_synthetic_batch_is_named_by_the_data_step(tmp_path, damage, message):
    spec = cifar_spec(tmp_path / "cifar")
    run_data(spec, progress=False)
    bad = tmp_path / "cifar" / "cifar-10-batches-py" / "data_batch_3"
    damage(bad)
    with pytest.raises(CorruptDataError) as caught:
        run_data(spec, progress=False)
    assert str(bad) in str(caught.value) and message in str(caught.value)


def _first_image(root: Path) -> Path:
    return sorted((root / "train").rglob("*.JPEG"))[0]


def test_truncated_jpeg_is_named_by_the_quick_check(imagenet_root):
    bad = _first_image(imagenet_root)
    bad.write_bytes(bad.read_bytes()[:-200])
    with pytest.raises(CorruptDataError) as caught:
        run_data(imagenet_spec(imagenet_root), progress=False)
    assert str(bad) in str(caught.value) and "truncated" in str(caught.value)


def test_file_that_is_no_image_is_named(imagenet_root):
    bad = _first_image(imagenet_root)
    bad.write_text("<html>403 Forbidden</html>")
    with pytest.raises(CorruptDataError, match="not an image file") as caught:
        run_data(imagenet_spec(imagenet_root), progress=False)
    assert str(bad) in str(caught.value)


def test_undecodable_jpeg_passes_headers_but_not_the_full_check(imagenet_root):
    bad = _first_image(imagenet_root)
    rng = np.random.default_rng(0)
    bad.write_bytes(b"\xff\xd8\xff\xe0" + rng.bytes(600) + b"\xff\xd9")
    spec = imagenet_spec(imagenet_root)
    quick = run_data(spec, progress=False)
    assert quick.files_checked == 3 * 3 + 3 * 2 and not quick.full
    with pytest.raises(CorruptDataError) as caught:
        run_data(spec, full_check=True, progress=False)
    assert str(bad) in str(caught.value)
    # Training reads name the file too, rather than failing without a path.
    bundle = load_dataset("imagenet", imagenet_root, image_size=24)
    index = next(i for i, (path, _) in enumerate(bundle.train.base.samples) if Path(path) == bad)
    with pytest.raises(CorruptDataError, match=str(bad)):
        bundle.train[index]


def test_data_command_reports_the_check_and_writes_its_marker(imagenet_root, tmp_path, capsys):
    out = tmp_path / "results" / "b" / "data.json"
    spec = json.dumps(imagenet_spec(imagenet_root))
    assert main(["data", "--spec", spec, "--out", str(out), "--full-check", "--no-progress"]) == 0
    assert "15 image files decoded" in capsys.readouterr().out
    record = json.loads(out.read_text())
    assert record["full"] and record["files_checked"] == 15 and record["num_classes"] == 3
    _first_image(imagenet_root).write_bytes(b"\xff\xd8\xff")
    assert main(["data", "--spec", spec, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "truncated" in err


# --- a root that holds the data is never written -----------------------------------------


def _tree(folder: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*")}


def _inside(path, guarded: Path) -> bool:
    try:
        return Path(os.fsdecode(path)).resolve().is_relative_to(guarded)
    except (TypeError, ValueError):
        return False


def make_read_only(monkeypatch, guarded: Path) -> None:
    """Make writes under ``guarded`` fail as on read-only storage (tests run as root)."""
    guarded = guarded.resolve()
    real_os_open, real_mkdir, real_open = os.open, os.mkdir, builtins.open
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def refuse(path):
        raise OSError(errno.EROFS, "Read-only file system", os.fsdecode(path))

    def os_open(path, flags, *args, **kwargs):
        if flags & writing and _inside(path, guarded):
            refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    def mkdir(path, *args, **kwargs):
        if _inside(path, guarded):
            refuse(path)
        return real_mkdir(path, *args, **kwargs)

    def open_(file, mode="r", *args, **kwargs):
        path_like = isinstance(file, str | bytes | os.PathLike)
        if path_like and set(mode) & set("wax+") and _inside(file, guarded):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io, "open", open_)


def test_read_only_real_root_is_only_read(imagenet_root, tmp_path, monkeypatch):
    storage = imagenet_root.parent  # the root and everything beside it
    before = _tree(storage)
    make_read_only(monkeypatch, storage)
    out = tmp_path / "results" / "b" / "data.json"
    check = run_data(imagenet_spec(imagenet_root), out, progress=False)
    assert check.files_checked == 15 and out.is_file()
    assert _tree(storage) == before


def test_read_only_synthetic_root_that_is_current_is_only_read(cifar_root, monkeypatch):
    storage = cifar_root.parent
    before = _tree(storage)
    make_read_only(monkeypatch, storage)
    bundle = prepare_dataset(cifar_spec(cifar_root))
    assert len(bundle.test) == 20
    assert _tree(storage) == before


def test_the_read_only_guard_does_block_writes(tmp_path, monkeypatch):
    make_read_only(monkeypatch, tmp_path)
    with pytest.raises(OSError, match="Read-only"):
        (tmp_path / "x").write_text("x")
    with pytest.raises(OSError, match="Read-only"):
        (tmp_path / "d").mkdir()


def test_writing_a_dataset_locks_in_the_cache_not_beside_the_root(tmp_path):
    root = tmp_path / "data" / "cifar"
    prepare_dataset(cifar_spec(root))
    assert sorted(p.name for p in root.parent.iterdir()) == ["cifar"]
    lock = dataset_lock_path(root)
    assert lock.is_relative_to(tmp_path / "cache") and lock.exists()
    shutil.rmtree(root)
    assert dataset_lock_path(tmp_path / "data" / "other") != lock


def test_bad_image_read_by_a_loader_worker_ends_in_one_line(imagenet_root):
    from torch.utils.data import DataLoader

    from snacs.cli import _one_line

    bad = _first_image(imagenet_root)
    bad.write_bytes(b"\xff\xd8\xff\xe0" + np.random.default_rng(1).bytes(600) + b"\xff\xd9")
    bundle = load_dataset("imagenet", imagenet_root, image_size=24)
    with pytest.raises(CorruptDataError) as caught:
        list(DataLoader(bundle.train, batch_size=4, num_workers=1))
    assert "Traceback" in str(caught.value)  # the worker's wrapping
    line = _one_line(str(caught.value))
    assert "\n" not in line and str(bad) in line and line.startswith("image ")
