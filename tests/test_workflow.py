"""End-to-end: the whole Snakemake workflow on config/ci.yaml, then its tables' contents.

This is the test that proves the README's promise: from config to results/all on CPU,
with real loaders reading files in the real formats, every rule logging, and tables
regenerated from results without retraining anything.
"""

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from snacs.io import load_checkpoint
from tests.conftest import snakemake_command as workflow_command

REPO = Path(__file__).resolve().parents[1]


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    return workflow_command(workdir, REPO / "config" / "ci.yaml", "--cores", "2", *args)


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    command = snakemake_command(workdir, *args)
    return subprocess.run(command, capture_output=True, text=True, timeout=1800)


def planned_rules(workdir: Path, forced_rule: str) -> set[str]:
    """Rules a dry run of results/all plans after forcing ``forced_rule`` to rerun."""
    plan = snakemake(workdir, "results/all", "--forcerun", forced_rule, "--dry-run")
    assert plan.returncode == 0, plan.stderr[-2000:]
    rows = plan.stdout.split("Job stats:")[1].strip().splitlines()[2:]  # after the header
    planned = set()
    for row in rows:
        if not row.strip():
            break
        planned.add(row.split()[0])
    return planned


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    result = snakemake(workdir, "results/all")
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


@pytest.mark.slow
def test_tables_hold_every_run_with_sane_numbers(finished_run):
    everything = pd.read_csv(finished_run / "results/tables/main.csv")
    controls = everything[everything["control"].notna()]
    table = everything[everything["control"].isna()]
    assert set(table["benchmark"]) == {"synth_vgg", "digits_mlp"}
    # ci.yaml: snacs with random (1 seed) and inverted controls, l1 with magnitude
    assert sorted(zip(controls["method"], controls["control"], strict=True)) == sorted(
        [("snacs", "random"), ("snacs", "inverted"), ("l1", "magnitude")] * 2
    )
    assert table.loc[table["method"] == "snacs", "margin_over_random_pp"].notna().all()
    assert table.loc[table["method"] != "snacs", "margin_over_random_pp"].isna().all()
    every_pruner = {
        "snacs",
        "snacs_filter",
        "mint",
        "l1",
        "random",
        "nisp",
        "thinet",
        "hrank",
        "chip",
        "taylor",
    }
    assert set(table[table["benchmark"] == "digits_mlp"]["method"]) == every_pruner
    assert set(table[table["benchmark"] == "synth_vgg"]["method"]) == {"snacs", "l1", "random"}
    assert len(table) == 13 and (table["seeds"] == 1).all()
    filters = table[table["granularity"] == "filter"]
    assert filters["flops_reduction_pct_mean"].between(50, 60).all()
    assert filters["slim_flops_reduction_pct_mean"].between(50, 60).all()
    connections = table[table["granularity"] == "connection"]
    assert set(connections["method"]) == {"snacs", "mint"}
    assert connections["params_reduction_pct_mean"].between(1, 61).all()
    assert table["pruned_top1_mean"].between(0, 100).all()
    for _, block in table.groupby("benchmark"):
        assert block["baseline_top1_mean"].nunique() == 1
    # one-shot top-1 for every run and control, against one dense one-shot per benchmark
    for column in ("one_shot_top1_mean", "one_shot_top1_std", "one_shot_top1_ci"):
        assert everything[column].notna().all(), column
    assert everything["one_shot_top1_mean"].between(0, 100).all()
    for _, block in everything.groupby("benchmark"):
        assert block["one_shot_baseline_top1_mean"].nunique() == 1
    digits = table[table["benchmark"] == "digits_mlp"]
    assert (digits["baseline_top1_mean"] > 80).all(), "real digits data must be learnt"
    markdown = (finished_run / "results/tables/main.md").read_text()
    assert "### Digits (real, scikit-learn) MLP" in markdown and "| l1 | filter |" in markdown


@pytest.mark.slow
def test_every_output_and_log_exists(finished_run):
    results = finished_run / "results"
    for bench in ("synth_vgg", "digits_mlp"):
        for ext in ("png", "pdf"):
            assert (results / f"figures/{bench}_acc_vs_flops.{ext}").stat().st_size > 1000
        assert (results / f"logs/dense/{bench}.log").is_file()
        assert "plans one-shot in" in (results / f"logs/oneshot/{bench}.log").read_text()
        summary = json.loads((results / f"{bench}/dense/dense.json").read_text())
        assert summary["provenance"]["packages"]["torch"]
    report = (results / "all").read_text()
    assert (results / "report.html").read_text() == report
    assert report.startswith("<!DOCTYPE html>") and "data:image/png;base64," in report
    row = json.loads((results / "metrics/digits_mlp/l1/flops50-layerwise/seed0.json").read_text())
    assert row["pruned_top1"] == pytest.approx(row["slim_top1"], abs=1e-6)


@pytest.mark.slow
def test_regenerating_tables_reruns_no_training(finished_run):
    planned = planned_rules(finished_run, "tables")
    assert planned == {"tables", "claims", "figure", "layer_compression", "all", "total"}


@pytest.mark.slow
def test_side_studies_reach_the_report(finished_run):
    results = finished_run / "results"
    speed = pd.read_csv(results / "studies/speed.csv")
    assert set(speed["method"]) == {"mint", "snacs_phi_one", "snacs_phi_weight"}
    assert (speed["samples"] == 100).all() and (speed["child_width"] == 512).all()
    summary = pd.read_csv(results / "studies/speed_summary.csv")
    assert summary.loc[summary["groups"] == 4, "min_speedup"].notna().all()
    estimator = pd.read_csv(results / "studies/estimator_summary.csv")
    assert set(estimator["sweep"]) == {"samples", "dimension", "strong", "layer"}
    assert estimator["mse"].notna().all()
    layer_shaped = estimator[estimator["sweep"] == "layer"]
    assert set(layer_shaped["reading"]) >= {"direct", "chain", "residual"}
    assert layer_shaped["spearman"].dropna().between(-1, 1).all()
    layers = pd.read_csv(results / "studies/digits_mlp_layer_compression.csv")
    assert set(layers["method"]) == {"snacs", "mint"} and layers["pruned_pct"].between(0, 100).all()
    for name in ("speed", "estimator_accuracy", "synth_vgg_layer_compression"):
        assert (results / f"figures/{name}.png").stat().st_size > 1000
    for name in ("main", "selected", "reported", "timings"):
        assert (results / f"tables/{name}.tex").read_text().count(r"\begin{tabular}") >= 1
    assert "reported, not reproduced" in (results / "tables/reported.md").read_text()
    report = (results / "all").read_text()
    for heading in ("Speed study", "Estimator accuracy", "Compression per layer", "Pruner timings"):
        assert heading in report
    assert "Claims of the paper" in report and "Not at paper scale (ci scale" in report
    # The claims table reads the speed summary, so it is redone with the speed report.
    expected = {"speed_report", "claims", "all", "total"}
    assert planned_rules(finished_run, "speed_report") == expected


@pytest.mark.slow
def test_claims_table_has_a_verdict_and_reason_in_every_row(finished_run):
    claims = pd.read_csv(finished_run / "results/tables/claims.csv")
    assert list(claims.columns) == ["claim", "benchmark", "paper", "measured", "verdict", "reason"]
    assert set(claims["verdict"]) <= {"holds", "does not hold", "inconclusive"}
    assert claims["reason"].str.len().gt(0).all()
    kinds = {claim.split(":")[0] for claim in claims["claim"]}
    assert {"speed, step", "speed, whole"} <= kinds
    one_shot = claims[claims["claim"].str.startswith("criterion quality at one-shot")]
    assert sorted(one_shot["benchmark"]) == ["digits_mlp", "synth_vgg"]
    assert one_shot["measured"].str.contains("vs random control").all()
    synthetic = one_shot[one_shot["benchmark"] == "synth_vgg"].iloc[0]
    assert synthetic["verdict"] == "inconclusive" and synthetic["reason"].startswith("synthetic")
    sota = claims[claims["claim"].str.startswith("state of the art")]
    assert set(sota["benchmark"]) == {"synth_vgg", "digits_mlp"}
    assert (sota["verdict"] == "inconclusive").all() and sota["reason"].str.contains(
        "ci scale"
    ).all()


@pytest.mark.slow
def test_rerunning_a_prune_with_the_same_masks_keeps_the_fine_tune(finished_run):
    # Snakemake deletes the declared best.pt before rerunning the fine-tune but keeps
    # last.pt: the same plan (same masks, new timings) resumes the finished run and writes
    # best.pt again from last.pt instead of failing with a missing output or retraining.
    run = "digits_mlp/l1/flops50-layerwise/seed0"
    finetuned = finished_run / f"results/finetuned/{run}"
    before = load_checkpoint(finetuned / "best.pt")
    log = (finetuned / "log.csv").read_text()
    result = snakemake(
        finished_run, "results/all", "--forcerun", f"results/pruned/{run}/prune.json"
    )
    assert result.returncode == 0, result.stderr[-4000:]
    after = load_checkpoint(finetuned / "best.pt")
    assert after["epoch"] == before["epoch"] and (finetuned / "log.csv").read_text() == log
    assert "starting over" not in (finished_run / f"results/logs/finetune/{run}.log").read_text()


def test_snakemake_report_gathers_the_marked_outputs(finished_run):
    """`snakemake --report` works after a run (with or without --cores) and holds the
    outputs marked with report()."""
    result = snakemake(finished_run, "--report", "report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    without_cores = [arg for arg in snakemake_command(finished_run) if arg not in ("--cores", "2")]
    result = subprocess.run(
        [*without_cores, "--report", "report.html"], capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    page = (finished_run / "report.html").read_text()
    for shown in ("main.csv", "timings.csv", "synth_vgg_acc_vs_flops.png", "speed.png"):
        assert shown in page
    assert "results/report.html" in page


def test_make_demo_runs_a_snakemake_command_that_plans_the_demo(tmp_path):
    # the README's first command; a dry run of exactly what it calls must plan results/all
    recipe = subprocess.run(
        ["make", "-n", "demo"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    line = next(row for row in recipe.splitlines() if row.startswith("snakemake"))
    args = [*shlex.split(line)[1:], "--snakefile", str(REPO / "Snakefile")]
    args += ["--directory", str(tmp_path), "--dry-run"]
    plan = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert "speed_report" in plan.stdout and "finetune" in plan.stdout


@pytest.mark.slow
def test_stacked_fine_tunes_write_what_single_runs_wrote(finished_run, tmp_path):
    """``--config stack_k=3`` trains synth_vgg's three runs as one stacked job that writes
    each run's files where its single run wrote them, with the single run's numbers.

    Numbers, not bits: the grouped kernels sum in another order, and training a VGG carries
    last-bit differences on chaotically (tests/test_stack.py holds one stacked step to
    1e-4 and a ResNet's whole runs to 1e-4). Here every stacked member must land within 2 %
    of the distance its single run's fine-tune travelled from the dense weights, and its
    per-epoch losses within 1 %; a wrong batch order, learning rate or mask moves a member
    by a good share of that distance.
    """
    import shutil

    import torch

    copy = tmp_path / "stacked"
    shutil.copytree(finished_run, copy, symlinks=True)
    runs = [f"synth_vgg/{method}/flops50-layerwise/seed0" for method in ("l1", "random", "snacs")]
    for run in runs:
        shutil.rmtree(copy / f"results/finetuned/{run}")
    targets = [f"results/finetuned/{run}/best.pt" for run in runs]
    plan = snakemake(copy, *targets, "--config", "stack_k=3", "--dry-run", "-p")
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert "finetune_stack_synth_vgg_seed0_0" in plan.stdout
    members = plan.stdout.split("--members-plan ", 1)[1].split(" --", 1)[0].split()
    assert len(members) == 3 and "rule finetune:" not in plan.stdout
    done = snakemake(copy, *targets, "--config", "stack_k=3")
    assert done.returncode == 0, done.stderr[-4000:]
    dense = load_checkpoint(finished_run / "results/synth_vgg/dense/best.pt")["model"]
    for run in runs:
        single = load_checkpoint(finished_run / f"results/finetuned/{run}/best.pt")
        stacked = load_checkpoint(copy / f"results/finetuned/{run}/best.pt")
        assert stacked["epoch"] == single["epoch"]
        assert stacked["model"].keys() == single["model"].keys()
        apart = travelled = 0.0
        for name, tensor in single["model"].items():
            if tensor.is_floating_point():
                kept = tensor != 0  # pruned entries: zero in both runs
                mine = stacked["model"][name]
                assert torch.all(mine[~kept] == 0), name
                apart += float((mine - tensor)[kept].square().sum())
                travelled += float((tensor - dense[name])[kept].square().sum())
        assert apart**0.5 <= 0.02 * travelled**0.5, (run, apart**0.5, travelled**0.5)
        single_log = pd.read_csv(finished_run / f"results/finetuned/{run}/log.csv")
        stacked_log = pd.read_csv(copy / f"results/finetuned/{run}/log.csv")
        assert stacked_log["train_loss"].to_numpy() == pytest.approx(
            single_log["train_loss"].to_numpy(), rel=0.01
        )
