"""A full disk ends in one line naming the output and the free space, leaving nothing behind.

The writers are made to fail the way they do on a full filesystem: torch's zip writer
pointed at /dev/full (which answers every write with ENOSPC) raises its own RuntimeError,
and plain file writes raise OSError ENOSPC.
"""

import errno
import os
from pathlib import Path

import pytest
import torch

from snacs import io
from snacs.cli import main
from snacs.errors import DiskFullError, SnacsError

DEV_FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not DEV_FULL.exists(), reason="no /dev/full on this system")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@needs_dev_full
def test_checkpoint_on_a_full_disk_names_the_file_and_the_free_space(tmp_path, monkeypatch):
    real_save = torch.save
    monkeypatch.setattr(io.torch, "save", lambda obj, _: real_save(obj, str(DEV_FULL)))
    target = tmp_path / "dense" / "best.pt"
    with pytest.raises(DiskFullError) as caught:
        io.save_checkpoint(target, {"weight": torch.zeros(256, 256)})
    message = str(caught.value)
    assert "\n" not in message and str(target) in message
    assert "free on its filesystem" in message and "needs about 256.0 KiB" in message
    assert "inline_container" not in message  # torch's words stay in the chained cause
    assert _leftovers(target.parent) == []


def test_a_finished_file_survives_a_failed_rewrite(tmp_path, monkeypatch):
    target = tmp_path / "prune.json"
    io.write_json(target, {"run": 1})

    def no_space(self, data):
        self.open("wb").write(data[: len(data) // 2])  # half of it, as a full disk leaves
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", no_space)
    with pytest.raises(DiskFullError, match="no space left on the device") as caught:
        io.write_json(target, {"run": 2, "padding": "x" * 5000})
    assert str(target) in str(caught.value) and "needs about" in str(caught.value)
    monkeypatch.undo()
    assert io.read_json(target) == {"run": 1}
    assert _leftovers(tmp_path) == ["prune.json"]


@pytest.mark.parametrize(
    "error",
    [OSError(errno.EACCES, "Permission denied"), RuntimeError("a bug in the writer")],
    ids=["permission", "other-runtime-error"],
)
def test_other_write_failures_are_not_called_a_full_disk(tmp_path, monkeypatch, error):
    def fail(obj, _):
        raise error

    monkeypatch.setattr(io.torch, "save", fail)
    with pytest.raises(type(error)) as caught:
        io.save_checkpoint(tmp_path / "a.pt", {"weight": torch.zeros(2)})
    assert not isinstance(caught.value, SnacsError)
    assert _leftovers(tmp_path) == []


def test_the_command_line_prints_the_full_disk_in_one_line(tmp_path, monkeypatch, capsys):
    def no_space(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", no_space)
    out = tmp_path / "data.json"
    spec = '{"name": "b", "title": "b", "dataset": {"name": "digits", "root": ".", "options": {}}}'
    assert main(["data", "--spec", spec, "--out", str(out)]) == 2
    _, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1
    assert str(out) in err and "no space left" in err and "free on its filesystem" in err
