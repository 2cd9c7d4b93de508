"""One writer per output: a second command on the same output fails at once."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from snacs.cli import main
from snacs.locks import OutputBusyError, exclusive_output, output_lock_path

ROOT = Path(__file__).resolve().parent.parent


def _hold(output: Path, writer: str | None = None) -> subprocess.Popen:
    """Another process that holds ``output``'s lock until killed."""
    code = (
        "import sys, time\n"
        "from snacs.locks import exclusive_output\n"
        f"with exclusive_output({str(output)!r}, 'test holder', {writer!r}):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(600)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
    assert holder.stdout.readline().strip() == b"held"
    return holder


def _prune(capsys, out: Path) -> tuple[int, str]:
    dataset = {"name": "digits", "root": "data", "download": False, "options": {}}
    model = {"arch": "mlp_mnist", "options": {"in_features": 64}}
    statistics = {"samples_per_class": 2, "replace": False, "seed": 0, "batch_size": 8}
    spec = json.dumps(
        {"name": "b", "dataset": dataset, "model": model, "statistics": statistics, "workers": 0}
    )
    argv = ["prune", "--spec", spec, "--method", "l1", "--targets", "flops50-layerwise"]
    files = ["--targets-plan", str(out.parent / "plan.pt")]
    files += ["--targets-scores", str(out.parent / "scores.pt"), "--seed", "0"]
    dense = ["--dense-checkpoint", str(out.parent / "missing.pt")]
    code = main([*argv, *dense, *files, "--targets-record", str(out)])
    return code, capsys.readouterr().err


def test_second_prune_on_the_same_output_fails_fast(tmp_path, capsys):
    out = tmp_path / "pruned" / "b" / "l1" / "flops50-layerwise" / "seed0"
    holder = _hold(out)
    try:
        started = time.perf_counter()
        code, err = _prune(capsys, out)
        assert time.perf_counter() - started < 5
        assert code == 2 and "being written by another" in err and str(out) in err
        assert len(err.strip().splitlines()) == 1
    finally:
        holder.kill()
        holder.wait()
    # The holder died without releasing anything by hand: the OS dropped its lock, so the
    # same command now gets past the lock (and stops at the missing dense checkpoint).
    code, err = _prune(capsys, out)
    assert code == 2 and "being written" not in err and "missing.pt" in err


def test_lock_is_released_when_the_step_ends(tmp_path, capsys):
    out = tmp_path / "metrics.json"
    for _ in range(2):  # the first command's lock must not block the second
        code, err = _prune(capsys, out)
        assert code == 2 and "being written" not in err
    assert output_lock_path(out).parent == tmp_path


def test_a_refused_command_leaves_the_writers_log_alone(tmp_path):
    """Both commands name the same log: only the one that holds the output may write it."""
    out = tmp_path / "pruned" / "prune.json"
    log = tmp_path / "logs" / "prune.log"
    log.parent.mkdir()
    log.write_text("the first run's log\n")

    def timings() -> subprocess.CompletedProcess:
        """`snacs timings` on ``out`` in a process of its own, logging to ``log``."""
        argv = ["--log", str(log), "timings", "--prune-json", str(tmp_path / "x.json")]
        return subprocess.run(
            [sys.executable, "-m", "snacs", *argv, "--stem", str(out)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )

    holder = _hold(out)
    try:
        refused = timings()
    finally:
        holder.kill()
        holder.wait()
    assert refused.returncode == 2 and "being written by another" in refused.stderr
    assert log.read_text() == "the first run's log\n"
    # Once the output is free, the command owns the log: its error goes there.
    taken = timings()
    assert taken.returncode == 2 and taken.stderr == ""
    assert "x.json" in log.read_text() and "first run" not in log.read_text()


def test_exclusive_output_in_one_process(tmp_path):
    with (
        exclusive_output(tmp_path / "out", "first"),
        pytest.raises(OutputBusyError, match="being written by another second"),
        exclusive_output(tmp_path / "out", "second"),
    ):
        pass
    with exclusive_output(tmp_path / "out", "third"):
        pass
