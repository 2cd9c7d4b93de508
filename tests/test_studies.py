"""Side studies (speed, estimator accuracy, per-layer compression) on tiny fixtures."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from record_fixtures import dense_record, prune_record
from scipy import stats

from snacs.errors import ConfigError
from snacs.estimators.edge import EdgeOptions
from snacs.layout import ResultsLayout, StudyTables
from snacs.models import build_model
from snacs.pruning.activations import Activations
from snacs.pruning.records import DenseRecord
from snacs.report.claims import Scale, speed_claims, step_speed_rows
from snacs.report.speed import claim_note, speed_cells, write_speed_tables
from snacs.report.study_figures import (
    estimator_figure,
    layer_compression_figure,
    speed_figure,
)
from snacs.studies import estimator_accuracy as est
from snacs.studies import speed
from snacs.studies.gaussian_cases import random_gaussian_cmi_case
from snacs.studies.layer_compression import layer_compression
from snacs.tabular import latex

PAPER_SPEED = pd.DataFrame(
    {
        "groups": [16, 16, 16, 64, 64, 64],
        "method": ["mint", "snacs_phi_one", "snacs_phi_weight"] * 2,
        "seconds_mean": [1161.51, 45.56, 46.56, 14517.92, 839.93, 832.46],
        "seconds_std": [9.0, None, None, 4049.0, None, None],
        "source": "paper",
    }
)


def _raw_speed() -> pd.DataFrame:
    rows = [
        ("mint", 16, 0, 10.0),
        ("mint", 16, 1, 12.0),
        ("snacs_phi_one", 16, 0, 0.5),
        ("snacs_phi_one", 16, 1, 0.5),
        ("snacs_phi_weight", 16, 0, 0.4),
        ("snacs_phi_weight", 16, 1, 0.6),
        ("snacs_phi_one", 32, 0, 1.0),
        ("snacs_phi_weight", 32, 0, 1.0),
    ]
    return pd.DataFrame(rows, columns=speed.RAW_COLUMNS)


def test_measurement_plan_interleaves_reruns_and_can_skip_mint():
    settings = speed.SpeedSettings(groups=(16, 32), mint_groups=(16,), reruns=2, mint_reruns=1)
    plan = speed.measurement_plan(settings)
    assert [(m.method, m.groups, m.rerun) for m in plan] == [
        ("snacs_phi_one", 16, 0),
        ("snacs_phi_weight", 16, 0),
        ("mint", 16, 0),
        ("snacs_phi_one", 32, 0),
        ("snacs_phi_weight", 32, 0),
        ("snacs_phi_one", 16, 1),
        ("snacs_phi_weight", 16, 1),
        ("snacs_phi_one", 32, 1),
        ("snacs_phi_weight", 32, 1),
    ]
    no_mint = speed.SpeedSettings(groups=(8,), mint_groups=(8,), reruns=1, mint_reruns=0)
    assert {m.method for m in speed.measurement_plan(no_mint)} == {
        "snacs_phi_one",
        "snacs_phi_weight",
    }


def test_speedup_table_ratios_of_means_beside_the_paper():
    table = speed.speedup_table(speed.summarise_speed(_raw_speed()), PAPER_SPEED)
    assert list(table["groups"]) == [16, 32, 64]
    row16 = table.iloc[0]
    assert row16["mint_mean"] == pytest.approx(11.0)
    assert row16["mint_std"] == pytest.approx(np.std([10.0, 12.0], ddof=1))
    assert row16["speedup_one"] == pytest.approx(22.0)
    assert row16["speedup_weight"] == pytest.approx(22.0)
    assert row16["paper_speedup_one"] == pytest.approx(1161.51 / 45.56)
    assert row16["paper_min_speedup"] == pytest.approx(1161.51 / 46.56)
    assert np.isnan(table.iloc[1]["speedup_one"]), "no MINT time at 32 groups: no ratio"
    assert table.iloc[1]["snacs_phi_one_runs"] == 1
    assert table.iloc[2]["mint_runs"] == 0 and table.iloc[2]["paper_mint_mean"] == 14517.92
    assert "the claim holds: ratio interval above 17x" in claim_note(_raw_speed(), table)
    slow = _raw_speed().assign(seconds=lambda f: np.where(f["method"] == "mint", 1.0, 0.5))
    slow_table = speed.speedup_table(speed.summarise_speed(slow), PAPER_SPEED)
    assert "does not hold: ratio interval below 17x" in claim_note(slow, slow_table)


def test_the_speed_note_and_the_claims_panel_give_one_verdict():
    """One rerun: every ratio is above 17x, but without an interval the claim is open."""
    raw = _raw_speed()
    once = raw[raw["rerun"] == 0]
    table = speed.speedup_table(speed.summarise_speed(once), PAPER_SPEED)
    assert table["min_speedup"].min() > 17
    (claim,) = speed_claims(step_speed_rows(once), Scale("ci", 1, {}))
    assert claim.verdict == "inconclusive"
    assert f"the claim {claim.verdict}: fewer than two reruns" in claim_note(once, table)


def _check_latex(text: str, columns: int) -> None:
    assert text.count(r"\begin{tabular}") == text.count(r"\end{tabular}") >= 1
    assert text.count(r"\begin{table}") == text.count(r"\end{table}")
    body = [line for line in text.splitlines() if line.endswith(r"\\")]
    assert body and all(len(re.findall(r"(?<!\\)&", line)) == columns - 1 for line in body)
    code = "\n".join(line for line in text.splitlines() if not line.startswith("%"))
    assert not re.search(r"(?<!\\)[_%#]", code.replace(r"\_", "").replace(r"\%", "")), code
    assert "±" not in code and "φ" not in code and "w̄" not in code


def test_speed_tables_and_figure_files(tmp_path):
    raw = _raw_speed().assign(
        child_layer="features.27",
        parent_layer="features.24",
        child_width=512,
        parent_width=512,
        samples=2000,
        device="cpu",
        threads=2,
        snacs_workers=2,
        mint_mst="prim",
        activations="random init",
    )
    raw.to_csv(tmp_path / "speed.csv", index=False)
    PAPER_SPEED.to_csv(tmp_path / "paper.csv", index=False)
    out = StudyTables(*(str(tmp_path / name) for name in ("summary.csv", "s.md", "s.tex")))
    table, note = write_speed_tables(tmp_path / "speed.csv", tmp_path / "paper.csv", out)
    markdown = (tmp_path / "s.md").read_text()
    assert "| 16×16 | 11.0 ± 1.4 | 0.500 ± 0.000 | 0.500 ± 0.141 | 22.0× | 22.0× |" in markdown
    assert "N = 2000" in markdown and "2 torch threads" in markdown
    assert note in markdown
    headers, _ = speed_cells(table)
    _check_latex((tmp_path / "s.tex").read_text(), len(headers))
    assert r"$\varphi$ = $\bar{w}$" in (tmp_path / "s.tex").read_text()
    assert pd.read_csv(tmp_path / "summary.csv")["speedup_one"].iloc[0] == 22.0
    figures = [tmp_path / "speed.png", tmp_path / "speed.pdf"]
    speed_figure(table, figures)
    assert figures[0].read_bytes()[:4] == b"\x89PNG" and figures[1].read_bytes()[:4] == b"%PDF"


def test_latex_escapes_and_rejects_ragged_rows():
    assert latex.escape("snacs_filter 50% & #1") == r"snacs\_filter 50\% \& \#1"
    assert latex.escape("Δ top-1 ± 2 (φ = w̄²)") == (
        r"$\Delta$ top-1 $\pm$ 2 ($\varphi$ = $\bar{w}$$^{2}$)"
    )
    with pytest.raises(ValueError, match="cells"):
        latex.tabular(["a", "b"], [["1"]])


def test_study_benchmark_and_weight_source():
    vgg = {"model": {"arch": "vgg16_cifar", "options": {}}, "name": "v"}
    narrow = {"model": {"arch": "vgg16_cifar", "options": {"width_mult": 0.125}}, "name": "n"}
    assert speed.weights_source("auto", vgg) == "trained"
    assert speed.weights_source("auto", narrow) == "random"
    with pytest.raises(ConfigError, match="full-width"):
        speed.weights_source("trained", narrow)
    config = {
        "benchmarks": {"mlp": {"model": {"arch": "mlp_mnist"}}, "v": vgg},
        "studies": {"speed": {"benchmark": None}},
    }
    assert speed.speed_benchmark(config) == "v"
    config["studies"]["speed"]["benchmark"] = "mlp"
    assert speed.speed_benchmark(config) == "mlp"
    del config["benchmarks"]["v"]
    config["studies"]["speed"]["benchmark"] = None
    with pytest.raises(ConfigError, match="vgg16_cifar"):
        speed.speed_benchmark(config)


def test_balanced_rows_takes_the_first_samples_of_each_class():
    labels = torch.tensor([0, 1, 0, 1, 0, 1, 2, 2])
    assert speed.balanced_rows(labels, 2).tolist() == [0, 1, 2, 3, 6, 7]
    with pytest.raises(ConfigError, match="class 2"):
        speed.balanced_rows(labels, 3)


def test_speed_study_times_both_methods_on_a_small_pair():
    torch.manual_seed(0)
    model = build_model("vgg16_cifar", 10, width_mult=0.125)
    node = speed.find_child(model, 9)
    assert (node.name, node.parents) == ("features.27", ("features.24",))
    parent = torch.randn(60, 64)
    child = torch.relu(parent @ torch.randn(64, 64) / 8 + 0.5 * torch.randn(60, 64))
    activations = Activations(
        {"features.24": parent, "features.27": child}, torch.arange(60) % 10, 0.0
    )
    pair = speed._pair(model, node, activations, "test")
    settings = speed.SpeedSettings(groups=(2, 4), mint_groups=(2,), reruns=2, mint_reruns=1)
    raw = speed.run_speed_study(pair, settings, torch.device("cpu"), progress=False)
    assert len(raw) == 9 and (raw["seconds"] > 0).all()
    assert set(raw["method"]) == {"mint", "snacs_phi_one", "snacs_phi_weight"}
    assert (raw["samples"] == 60).all() and (raw["child_width"] == 64).all()
    assert torch.get_num_threads() == 1, "the study restores the thread count"
    with pytest.raises(ConfigError, match="not in 2..15"):
        speed.find_child(model, 16)


def test_estimator_study_on_tiny_samples(tmp_path):
    settings = est.EstimatorSettings(
        sample_sizes=(500,),
        dims=(2,),
        dimension_samples=300,
        cases=3,
        strong_samples=400,
        layer_shapes=((2, 24),),
        layer_samples=300,
    )
    raw = est.run_estimator_study(settings, progress=False)
    # (N, d, strong, layer) settings x 3 cases x (3 readings + the weighted direct one)
    assert len(raw) == 4 * 3 * 4
    assert set(zip(raw["reading"], raw["phi"], strict=True)) == {
        ("direct", "one"),
        ("chain", "one"),
        ("residual", "one"),
        ("direct", "exp_act"),
    }
    first = raw[(raw["sweep"] == "samples") & (raw["case"] == 1)].iloc[0]
    assert first["truth_bits"] == pytest.approx(random_gaussian_cmi_case((1, 1, 2), 0.9, 1, 500)[3])
    assert raw["error_bits"].to_numpy() == pytest.approx(
        (raw["estimate_bits"] - raw["truth_bits"]).to_numpy()
    )
    layer = raw[raw["sweep"] == "layer"]
    assert (
        (layer["dim_x"] == 2).all() and (layer["dim_y"] == 8).all() and (layer["dim_z"] == 24).all()
    )
    assert (
        layer["truth_mi_bits"].notna().all()
        and raw[raw["sweep"] != "layer"]["truth_mi_bits"].isna().all()
    )
    paper = pd.DataFrame(
        {"sweep": ["samples"], "setting": [500], "phi": ["one"], "mse": [0.0139], "source": "p"}
    )
    raw.to_csv(tmp_path / "raw.csv", index=False)
    paper.to_csv(tmp_path / "paper.csv", index=False)
    out = ResultsLayout(str(tmp_path)).estimator.tables
    table = est.write_estimator_tables(tmp_path / "raw.csv", tmp_path / "paper.csv", out)
    samples = table[(table["sweep"] == "samples") & (table["phi"] == "one")].set_index("reading")
    rows = raw[(raw["sweep"] == "samples") & (raw["phi"] == "one") & (raw["reading"] == "chain")]
    errors = rows["error_bits"]
    assert samples.at["chain", "mse"] == pytest.approx(float((errors**2).mean()))
    assert samples.at["chain", "bias"] == pytest.approx(float(errors.mean()))
    expected = stats.spearmanr(rows["estimate_bits"], rows["truth_bits"]).statistic
    assert samples.at["chain", "spearman"] == pytest.approx(expected)
    assert samples.at["direct", "paper_mse"] == 0.0139  # the paper's reading only
    assert samples[["paper_mse"]].drop(index="direct").isna().all().all()
    assert table[table["sweep"] == "dimension"]["paper_mse"].isna().all()
    assert "| sample size | N = 500 | direct | 3 |" in Path(out.markdown).read_text()
    headers, _ = est.estimator_cells(table)
    _check_latex(Path(out.latex).read_text(), len(headers))
    estimator_figure(table, [tmp_path / "est.png"])
    assert (tmp_path / "est.png").read_bytes()[:4] == b"\x89PNG"
    assert est.dimension_strength(12, 0.8) == pytest.approx(0.4)
    chain = {("chain", "one"): EdgeOptions(method="chain")}
    named = est.run_estimator_study(settings, progress=False, variants=chain)
    assert set(named["reading"]) == {"chain"} and len(named) == 4 * 3


def test_collapse_is_stated_in_words_not_hidden_in_a_small_mse():
    table = pd.DataFrame(
        {
            "sweep": ["dimension", "dimension", "dimension"],
            "setting": [3, 30, 30],
            "reading": ["direct", "direct", "residual"],
            "phi": ["one", "one", "one"],
            "truth_mean": [0.5, 0.4, 0.4],
            "estimate_mean": [0.45, 0.01, 0.35],
        }
    )
    note = est.collapse_note(table)
    assert "direct (dimension, d = 30) reads at most 2% of the true CMI" in note
    assert "residual" not in note and "d = 3," not in note
    assert est.collapse_note(table.iloc[[0, 2]]) == ""


def _prune_run(root, method, target, seed, shares, reduction):
    path = root / f"{method}-{target}-{seed}.json"
    return prune_record(
        path, method, target, seed, benchmark="b", reduction=reduction, shares=shares
    )


def test_layer_compression_reads_the_chosen_runs_records(tmp_path):
    dense = DenseRecord.load(dense_record(tmp_path / "dense.json", benchmark="b"))
    paths = [
        _prune_run(tmp_path, "snacs", "share50-global", 0, {"fc2": 50.0}, 0.2),
        _prune_run(tmp_path, "snacs", "share50-global", 1, {"fc2": 40.0, "fc3": 2.0}, 0.2),
        _prune_run(tmp_path, "snacs", "share80-global", 0, {"fc3": 100.0}, 0.4),
        _prune_run(tmp_path, "mint", "share50-global", 0, {}, 0.1),
        _prune_run(tmp_path, "mint", "share80-global", 0, {"fc2": 50.0}, 0.3),
        _prune_run(tmp_path, "l1", "share80-global", 0, {"fc2": 50.0}, 0.3),
    ]
    selected = pd.DataFrame(  # the figure follows the masked pick, not the slim one
        {
            "benchmark": ["b", "b", "other"],
            "method": ["snacs", "snacs", "mint"],
            "target": ["share50-global", "share80-global", "share50-global"],
            "count": ["masked", "slim", "masked"],
        }
    )
    table = layer_compression(paths, selected, dense, ["snacs", "mint"])
    snacs = table[table["method"] == "snacs"]
    assert list(snacs["layer"]) == ["fc1", "fc2", "fc3"]
    assert list(snacs["pruned_pct"]) == pytest.approx([0.0, 45.0, 1.0])  # mean of 2 seeds
    assert set(snacs["seeds"]) == {2}
    assert set(snacs["selection"]) == {"selected operating point"}
    mint = table[table["method"] == "mint"]  # selected row is another benchmark's
    assert set(mint["target"]) == {"share80-global"}
    assert set(mint["selection"]) == {"most compressed (none within tolerance)"}
    assert "l1" not in set(table["method"])

    paper = pd.DataFrame(
        {"method": ["snacs"] * 3, "layer_index": [1, 2, 3], "pruned_pct": [0.0, 40.0, 10.0]}
    )
    for reference, name in ((paper, "with.png"), (None, "without.png")):
        layer_compression_figure(table, reference, "Bench", [tmp_path / name])
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "with.png").read_bytes() != (tmp_path / "without.png").read_bytes()
