"""Data-parallel training under torchrun (two CPU processes, gloo) equals one process."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from snacs.io import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def digits_config(tmp_path_factory) -> Path:
    """The CI digits benchmark without dropout (per-rank dropout draws differ by design)."""
    config = yaml.safe_load((ROOT / "config" / "ci.yaml").read_text())
    bench = config["benchmarks"]["digits_mlp"]
    bench["model"]["options"]["dropout"] = 0.0
    bench["data_path"] = "device"
    bench["dense"]["recipe"]["epochs"] = 3
    config["benchmarks"] = {"digits_mlp": bench}
    config.pop("studies", None)  # they name the other benchmarks
    path = tmp_path_factory.mktemp("ddp") / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _dense(config: Path, out: Path, processes: int) -> subprocess.CompletedProcess:
    step = ["-m", "snacs", "dense", "--config", str(config), "--benchmark", "digits_mlp"]
    step += ["--train-dir", str(out), "--record-out", str(out / "dense.json")]
    step += ["--device", "cpu", "--no-progress", "--threads", "1"]
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone"]
        launcher += [f"--nproc-per-node={processes}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        launcher + step, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def _log(folder: Path) -> list[dict]:
    with (folder / "log.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_two_gloo_processes_match_a_single_process(digits_config, tmp_path):
    single, parallel = tmp_path / "single", tmp_path / "parallel"
    for out, processes in ((single, 1), (parallel, 2)):
        done = _dense(digits_config, out, processes)
        assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in parallel.iterdir()) == sorted(p.name for p in single.iterdir())
    one, two = _log(single), _log(parallel)
    assert [row["epoch"] for row in two] == ["1", "2", "3"]
    for a, b in zip(one, two, strict=True):
        for key in ("lr", "train_loss", "train_top1", "eval_top1", "eval_loss"):
            assert float(a[key]) == pytest.approx(float(b[key]), rel=1e-5, abs=1e-6), key
    first, second = load_checkpoint(single / "last.pt"), load_checkpoint(parallel / "last.pt")
    assert set(first) == set(second) and second["epoch"] == 3
    for name, tensor in first["model"].items():
        torch.testing.assert_close(second["model"][name], tensor, rtol=1e-5, atol=1e-6)
    # the parallel run's state resumes in a single process as a finished run
    again = _dense(digits_config, parallel, 1)
    assert again.returncode == 0, again.stderr
    assert len(_log(parallel)) == 3


@pytest.mark.parametrize(("gpus", "launcher"), [(1, "snacs --log"), (2, "torchrun")])
def test_workflow_launches_torchrun_when_a_rule_has_several_gpus(tmp_path, gpus, launcher):
    command = ["snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "results/all"]
    command += ["-n", "-p", f"--configfile={ROOT / 'config' / 'ci.yaml'}", "--cores", "2"]
    command += ["--set-resources", f"dense:gpu={gpus}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    dense = [line for line in done.stdout.splitlines() if " dense --spec" in line]
    assert dense and all(launcher in line for line in dense)
    if gpus > 1:
        assert all("--nproc-per-node=2 -m snacs --log" in line for line in dense)
        finetune = [line for line in done.stdout.splitlines() if " finetune --spec" in line]
        assert finetune and not any("torchrun" in line for line in finetune)
