"""Table, figure and report builders on small hand-made result files."""

import json

import pandas as pd
import pytest

from snacs.report.figures import accuracy_vs_flops
from snacs.report.html import write_report
from snacs.report.tables import load_rows, select_operating_points, summarise, write_tables


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
