"""Table, figure and report builders on small hand-made result files."""

import json

import numpy as np
import pandas as pd
import pytest

from snacs.report.figures import accuracy_vs_flops
from snacs.report.html import StudyOutputs, write_report
from snacs.report.tables import (
    load_rows,
    select_operating_points,
    summarise,
    write_tables,
    write_timing_tables,
)


def _row(path, method, target, seed, top1, flops, params=None):
    row = {
        "benchmark": "b1",
        "title": "Bench One",
        "method": method,
        "granularity": "filter",
        "target": target,
        "seed": seed,
        "baseline_top1": 90.0,
        "pruned_top1": top1,
        "slim_top1": top1,
        "params_reduction_pct": params if params is not None else flops,
        "flops_reduction_pct": flops,
        "slim_params_reduction_pct": flops,
        "slim_flops_reduction_pct": flops,
        "timings": {"score_seconds": 0.5, "activation_seconds": 0.1},
    }
    path.write_text(json.dumps(row))
    return path


@pytest.fixture
def result_files(tmp_path):
    return [
        _row(tmp_path / "a.json", "l1", "flops30-layerwise", 0, 89.8, 30.0),
        _row(tmp_path / "b.json", "l1", "flops30-layerwise", 1, 89.6, 31.0),
        _row(tmp_path / "c.json", "l1", "flops60-layerwise", 0, 85.0, 60.0),
        _row(tmp_path / "d.json", "random", "flops30-layerwise", 0, 88.0, 30.0),
    ]


def test_summary_averages_seeds_and_reports_spread(result_files):
    summary = summarise(load_rows(result_files))
    l1 = summary[(summary["method"] == "l1") & (summary["target"] == "flops30-layerwise")].iloc[0]
    assert l1["seeds"] == 2
    assert l1["pruned_top1_mean"] == pytest.approx(89.7)
    assert l1["pruned_top1_std"] == pytest.approx(0.1414, abs=1e-4)
    assert l1["delta_top1_mean"] == pytest.approx(-0.3)
    assert len(summary) == 3


def test_selection_picks_most_compressed_run_within_tolerance(result_files):
    summary = summarise(load_rows(result_files))
    picked = select_operating_points(summary, tolerance_pp=0.5, compression="flops")
    assert list(picked["method"]) == ["l1"]  # random loses 2 pp, l1 at 60 % loses 5 pp
    assert picked.iloc[0]["target"] == "flops30-layerwise"
    loose = select_operating_points(summary, tolerance_pp=6.0, compression="flops")
    assert dict(zip(loose["method"], loose["target"], strict=True)) == {
        "l1": "flops60-layerwise",
        "random": "flops30-layerwise",
    }


def test_written_tables_figure_and_report(result_files, tmp_path):
    out = tmp_path / "tables"
    write_tables(result_files, out, tolerance_pp=0.5, compression="params")
    csv = pd.read_csv(out / "main.csv")
    assert {"pruned_top1_mean", "pruned_top1_std", "seeds"} <= set(csv.columns)
    markdown = (out / "main.md").read_text()
    assert "### Bench One" in markdown and "89.70 ± 0.14" in markdown
    figures = [tmp_path / "fig.png", tmp_path / "fig.pdf"]
    accuracy_vs_flops(csv, "b1", figures)
    assert figures[0].read_bytes()[:4] == b"\x89PNG" and figures[1].read_bytes()[:4] == b"%PDF"
    with pytest.raises(ValueError, match="no results"):
        accuracy_vs_flops(csv, "missing", figures)
    report = tmp_path / "all"
    write_report(
        report, out / "main.csv", out / "selected.csv", figures, {"seeds": [0]}, {"b1": {}}
    )
    page = report.read_text()
    assert "Selected operating points" in page and page.count("<table") == 2
    assert "data:image/png;base64," in page


def test_latex_tables_and_published_rows_beside_ours(result_files, tmp_path):
    published = tmp_path / "published.csv"
    published.write_text(
        "benchmark,method,params_pruned_pct,flops_pruned_pct,top1,baseline_top1,memory_mb,"
        "source,note\n"
        "b1,MINT,83.46,,93.43,93.98,9.020,MINT table,\n"
        "elsewhere,GAL,82.20,,93.42,,,MINT table,own baseline\n"
    )
    out = tmp_path / "tables"
    write_tables(result_files, out, tolerance_pp=0.5, compression="flops", published=published)
    tex = (out / "main.tex").read_text()
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") == 1
    assert r"flops30-layerwise" in tex and r"89.70 $\pm$ 0.14" in tex
    assert r"\caption{Bench One: every run.}" in tex and "_" not in tex.replace(r"\_", "")
    reported = pd.read_csv(out / "reported.csv")
    assert list(
        zip(reported["benchmark"], reported["method"], reported["status"], strict=True)
    ) == [
        ("b1", "l1", "reproduced (this run)"),
        ("b1", "MINT", "reported, not reproduced"),
        ("elsewhere", "GAL", "reported, not reproduced"),
    ]
    markdown = (out / "reported.md").read_text()
    assert "### Bench One" in markdown and "### elsewhere (not run here)" in markdown
    assert "| MINT | reported, not reproduced | – | 83.46 | – | 93.43 | 93.98 | 9.020 |" in markdown
    assert (out / "selected.tex").is_file() and (out / "reported.tex").is_file()


def _prune_json(root, benchmark, method, seed, score, parts=None):
    path = root / "pruned" / benchmark / method / "flops50-layerwise" / f"seed{seed}" / "prune.json"
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "method": method,
                "pruner": method,
                "granularity": "connection",
                "target": {"label": "flops50-layerwise"},
                "seed": seed,
                "timings": {"score_seconds": score, "activation_seconds": 2.0, "plan_seconds": 0.1},
                "provenance": {"hardware": {"device": "cpu", "torch_threads": 2}},
                "plan_info": {"score_timings": parts or {}},
            }
        )
    )
    return path


def test_timing_tables_per_benchmark_and_pruner(tmp_path):
    paths = [
        _prune_json(tmp_path, "b1", "snacs", 0, 1.0, {"acmi_seconds": 0.2, "svm_seconds": 0.8}),
        _prune_json(tmp_path, "b1", "snacs", 1, 3.0, {"acmi_seconds": 0.4, "svm_seconds": 2.6}),
        _prune_json(tmp_path, "b2", "mint", 0, 40.0),
    ]
    table = write_timing_tables(paths, tmp_path / "tables")
    snacs = table[table["method"] == "snacs"].iloc[0]
    assert (snacs["benchmark"], snacs["runs"]) == ("b1", 2)
    assert snacs["score_seconds_mean"] == pytest.approx(2.0)
    assert snacs["score_seconds_std"] == pytest.approx(np.sqrt(2.0))
    assert snacs["part_acmi_seconds"] == pytest.approx(0.3)
    assert np.isnan(table[table["method"] == "mint"].iloc[0]["part_acmi_seconds"])
    markdown = (tmp_path / "tables" / "timings.md").read_text()
    assert "| 0.100 ± 0.000 | acmi 0.300 · svm 1.700 | cpu | 2 |" in markdown
    assert "### b2" in markdown and "| mint | mint | connection | 1 | 40.000 | 2.000 |" in markdown
    assert "| 0.100 | – | cpu | 2 |" in markdown  # no parts timed
    tex = (tmp_path / "tables" / "timings.tex").read_text()
    assert tex.count(r"\begin{tabular}") == 2 and r"2.000 $\pm$ 1.414" in tex


def test_report_holds_every_study_section(result_files, tmp_path):
    out = tmp_path / "tables"
    write_tables(result_files, out)
    timings = write_timing_tables([_prune_json(tmp_path, "b1", "snacs", 0, 1.0)], out)
    assert len(timings) == 1
    speed_summary = tmp_path / "speed_summary.csv"
    pd.DataFrame(
        {
            "groups": [16],
            "mint_mean": [10.0],
            "mint_std": [1.0],
            "mint_runs": [2],
            "paper_mint_mean": [1161.51],
            "snacs_phi_one_mean": [0.5],
            "snacs_phi_one_std": [0.1],
            "snacs_phi_one_runs": [2],
            "paper_snacs_phi_one_mean": [45.56],
            "speedup_one": [20.0],
            "min_speedup": [20.0],
            "paper_speedup_one": [25.5],
            "paper_min_speedup": [25.5],
        }
    ).to_csv(speed_summary, index=False)
    estimator_summary = tmp_path / "estimator_summary.csv"
    pd.DataFrame(
        {
            "sweep": ["samples"],
            "setting": [500],
            "reading": ["direct"],
            "phi": ["one"],
            "cases": [3],
            "truth_mean": [0.4],
            "estimate_mean": [0.41],
            "bias": [0.01],
            "mse": [0.002],
            "spearman": [1.0],
            "mi_spearman": [float("nan")],
            "paper_mse": [0.013949],
        }
    ).to_csv(estimator_summary, index=False)
    figure = tmp_path / "fig.png"
    accuracy_vs_flops(pd.read_csv(out / "main.csv"), "b1", [figure])
    report = tmp_path / "all"
    studies = StudyOutputs(
        reported_csv=out / "reported.csv",
        timings_csv=out / "timings.csv",
        layer_figures=[figure],
        speed_summary_csv=speed_summary,
        speed_figure=figure,
        estimator_summary_csv=estimator_summary,
        estimator_figure=figure,
        run_provenance={"packages": {"torch": "2.x"}, "python": "3.11"},
    )
    write_report(
        report, out / "main.csv", out / "selected.csv", [figure], {}, {"b1": {}}, studies=studies
    )
    page = report.read_text()
    for heading in (
        "Reproduced beside published results",
        "Pruner timings",
        "Compression per layer",
        "Speed study",
        "Estimator accuracy",
        "Software and hardware",
    ):
        assert heading in page, heading
    assert "Report built with Python 3.11, torch 2.x" in page
    assert "Smallest measured speed-up of SNACS over MINT: 20.0×" in page
    assert "claim holds at every measured group count" in page
    assert page.count("data:image/png;base64,") == 4
    assert page.count("<table") == 6  # selected, all runs, reported, timings, speed, estimator
