"""Whole-network speed study: interleaved plan, typed ratios with intervals, the benchmark."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from snacs.errors import ConfigError
from snacs.layout import ResultsLayout
from snacs.report.speed import write_whole_tables
from snacs.studies import whole_speed as ws

ROOT = Path(__file__).resolve().parents[1]


def fake_raw(snacs_whole, mint_whole, snacs_step, mint_step, network="vgg16"):
    rows = []
    for rerun, (sw, mw, ss, ms) in enumerate(
        zip(snacs_whole, mint_whole, snacs_step, mint_step, strict=True)
    ):
        # SNACS keeps both cores busy (CPU = 2 x wall), MINT one (CPU = wall)
        rows.append([network, "snacs", rerun, sw, ss, 2 * sw, ss, sw - ss - 0.1, 0.1])
        rows.append([network, "mint", rerun, mw, ms, mw, np.nan, np.nan, np.nan])
    return pd.DataFrame(rows, columns=ws.RAW_COLUMNS).assign(
        groups=64, description="d", width_mult=1.0, samples=2000, threads=2, device="cpu"
    )


def test_ratios_are_ratios_of_means_with_an_interval_around_them():
    raw = fake_raw([10.0, 12.0, 11.0], [300.0, 330.0, 310.0], [2.0, 2.5, 2.2], [290.0, 320, 300])
    ratios = {r.scope: r for r in ws.summarise_whole(raw)}
    whole, step = ratios["whole"], ratios["step"]
    assert whole.ratio == pytest.approx(np.mean([300, 330, 310]) / 11.0)
    assert step.ratio == pytest.approx(np.mean([290, 320, 300]) / np.mean([2.0, 2.5, 2.2]))
    cpu = ratios["whole_cpu"]
    assert cpu.ratio == pytest.approx(whole.ratio / 2)
    for r in (whole, step, cpu):
        assert r.ratio_low < r.ratio < r.ratio_high
        assert (r.reruns, r.threads, r.device, r.groups) == (3, 2, "cpu", 64)
    gpu = ws.summarise_whole(raw.assign(device="cuda:0"))
    assert {r.scope for r in gpu} == {"step", "whole"}  # CPU seconds say nothing there
    # one rerun: nothing to resample, the interval collapses onto the ratio
    single = ws.summarise_whole(fake_raw([10.0], [50.0], [1.0], [49.0]))
    assert single[1].ratio_low == pytest.approx(single[1].ratio) == single[1].ratio_high


def test_summary_csv_has_the_typed_columns_and_reads_back(tmp_path):
    raw = fake_raw([10.0, 11.0], [300.0, 310.0], [2.0, 2.1], [290.0, 300.0])
    raw.to_csv(tmp_path / "speed_whole.csv", index=False)
    out = ResultsLayout(str(tmp_path)).speed.whole_tables
    written = write_whole_tables(tmp_path / "speed_whole.csv", out)
    frame = pd.read_csv(out.summary)
    assert list(frame.columns) == [
        "network", "scope", "groups", "snacs_s", "mint_s", "ratio", "ratio_low",
        "ratio_high", "reruns", "threads", "device",
    ]  # fmt: skip
    assert ws.read_whole_summary(out.summary) == written
    table = Path(out.markdown).read_text()
    assert "Step ratio" in table and "Whole ratio" in table and "CPU seconds" in table
    assert "| 10.5 | 2.0 + 8.4 + 0.1 | 305.0 |" in table  # SNACS total, its parts, MINT
    frame.drop(columns="ratio_low").to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ConfigError, match="ratio_low"):
        ws.read_whole_summary(tmp_path / "bad.csv")


def test_settings_reject_unknown_networks_and_apply_overrides():
    with pytest.raises(ConfigError, match="alexnet"):
        ws.WholeSettings(networks=("alexnet",))
    settings = ws.WholeSettings.from_config(
        {"networks": ["resnet56"], "groups": {"resnet56": 8}, "width_mult": 0.5, "other": 1}
    )
    network = settings.network("resnet56")
    assert network.groups == 8 and network.options == {"depth": 56, "width_mult": 0.5}
    assert ws.WholeSettings().network("vgg16").groups == 64


def test_study_times_both_pruners_interleaved_on_the_same_context():
    from torch.utils.data import TensorDataset

    settings = ws.WholeSettings(
        enabled=True, networks=("vgg16",), groups={"vgg16": 2}, width_mult=0.125, reruns=2
    )
    data = TensorDataset(torch.randn(40, 3, 32, 32), torch.arange(40) % 4)
    ctx = ws.prepare_context(settings.network("vgg16"), data, 4, torch.device("cpu"), 0, False)
    raw = ws.run_whole_study({"vgg16": ctx}, settings, progress=False)
    assert list(raw["method"]) == ["snacs", "mint", "mint", "snacs"]  # alternating order
    snacs = raw[raw["method"] == "snacs"]
    parts = snacs[["acmi_seconds", "constraint_seconds", "sensitivity_seconds"]].sum(axis=1)
    assert (parts <= snacs["seconds"] + 1e-6).all() and (snacs["step_seconds"] > 0).all()
    assert raw[raw["method"] == "mint"]["constraint_seconds"].isna().all()
    assert set(raw["samples"]) == {40} and set(raw["threads"]) == {torch.get_num_threads()}
    assert (raw["cpu_seconds"] > 0).all()


def test_benchmark_script_writes_the_json_it_promises(tmp_path):
    out = tmp_path / "whole.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "whole_scoring.py"),
            "--quick",
            "--networks",
            "vgg16",
            "--threads",
            "1",
            "--no-progress",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "Whole ratio" in result.stdout
    payload = json.loads(out.read_text())
    assert set(payload) == {"vgg16"}
    entry = payload["vgg16"]
    assert entry["ratio"] == pytest.approx(entry["mint_s"] / entry["snacs_s"])
    assert set(entry["snacs_parts_s"]) == {"acmi", "constraint", "sensitivity"}
    assert entry["reruns"] == 2
    assert entry["cpu"]["scope"] == "whole_cpu" and entry["cpu"]["ratio"] > 0
