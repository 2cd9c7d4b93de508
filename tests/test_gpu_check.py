"""The device check script runs end to end on a CPU (--quick) and writes its JSON."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_quick_run_writes_every_section(tmp_path):
    out = tmp_path / "check.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--quick"]
    done = subprocess.run(
        [*command, "--json", str(out)], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["gpu"] == "cpu" and report["peak_bf16_flops"] is None
    for network in ("vgg16", "resnet56"):
        entry = report["cifar"][network]
        assert entry["macs"] > 0
        for path in ("device", "loader"):
            assert entry[path]["seconds"] > 0 and entry[path]["images"] == 100
        scoring = report["scoring"][network]
        assert scoring["snacs_seconds"] > 0 and scoring["mint_seconds"] > 0
    for path in ("device", "loader"):
        assert report["imagenet_input"][path]["images_per_second"] > 0
    assert "| vgg16 | device |" in done.stdout
    stacked = report["stacked_finetune"]
    assert stacked["device"] == "cpu"
    assert {(row["model"], row["k"]) for row in stacked["rows"]} == {
        (network, k) for network in ("vgg16", "resnet56") for k in (1, 2)
    }


def test_stack_throughput_quick_rows_name_their_k(tmp_path):
    out = tmp_path / "throughput.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    script = ROOT / "benchmarks" / "finetune_throughput.py"
    done = subprocess.run(
        [sys.executable, str(script), "--quick", "--json", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    rows = report["rows"]
    assert sorted(row["k"] for row in rows) == [1, 1, 2, 2]
    for row in rows:
        assert row["images"] == 16 and row["seconds"] > 0 and row["macs"] > 0
        total, per_member = row["images_per_second_total"], row["images_per_second_per_member"]
        assert total == pytest.approx(row["k"] * per_member)
        assert per_member == pytest.approx(row["images"] / row["seconds"])
    assert "| vgg16 | 2 |" in done.stdout


def test_peak_table_prefers_the_specific_name(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import gpu_check

    assert gpu_check.peak_flops("NVIDIA H100 PCIe") == 756e12
    assert gpu_check.peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert gpu_check.peak_flops("NVIDIA H200") == 989e12
    assert gpu_check.peak_flops("NVIDIA A100-SXM4-80GB") == 312e12
    assert gpu_check.peak_flops("Some Future GPU") is None


@pytest.mark.parametrize("name", ["L40S", "L4"])
def test_l40s_is_not_read_as_l4(name, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import gpu_check

    assert gpu_check.peak_flops(f"NVIDIA {name}") == gpu_check.PEAK_BF16_FLOPS[name]
