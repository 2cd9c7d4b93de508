"""Table, figure and report builders on small hand-made result files."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from record_fixtures import dense_record, prune_record, reference_record, run_record

from snacs.layout import TableStems
from snacs.report.claims import build_claims, write_claims
from snacs.report.figures import accuracy_vs_flops
from snacs.report.html import write_report
from snacs.report.manifest import ReportManifest
from snacs.report.tables import (
    load_rows,
    read_published,
    reported_beside_reproduced,
    select_operating_points,
    summarise,
    to_markdown,
    write_tables,
    write_timing_tables,
)


def _row(path, method, target, seed, top1, flops, params=None):
    return run_record(path, method, target, seed, top1, flops, params=params)


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
    picked = select_operating_points(summary, 0.5, "flops", "masked")
    assert list(picked["method"]) == ["l1"]  # random loses 2 pp, l1 at 60 % loses 5 pp
    assert picked.iloc[0]["target"] == "flops30-layerwise"
    loose = select_operating_points(summary, 6.0, "flops", "masked")
    assert dict(zip(loose["method"], loose["target"], strict=True)) == {
        "l1": "flops60-layerwise",
        "random": "flops30-layerwise",
    }


def _stems(folder: Path) -> TableStems:
    return TableStems(folder / "main", folder / "selected", folder / "reported")


def test_written_tables_figure_and_report(result_files, tmp_path):
    out = tmp_path / "tables"
    write_tables(result_files, _stems(out), tolerance_pp=0.5, compression="params")
    csv = pd.read_csv(out / "main.csv")
    assert {"pruned_top1_mean", "pruned_top1_std", "seeds"} <= set(csv.columns)
    markdown = (out / "main.md").read_text()
    assert "### Bench One" in markdown and "89.70 ± 1.27" in markdown
    figures = [tmp_path / "fig.png", tmp_path / "fig.pdf"]
    accuracy_vs_flops(csv, "b1", figures)
    assert figures[0].read_bytes()[:4] == b"\x89PNG" and figures[1].read_bytes()[:4] == b"%PDF"
    with pytest.raises(ValueError, match="no results"):
        accuracy_vs_flops(csv, "missing", figures)


def test_latex_tables_and_published_rows_beside_ours(result_files, tmp_path):
    published = tmp_path / "published.csv"
    published.write_text(
        "benchmark,method,params_pruned_pct,flops_pruned_pct,top1,baseline_top1,memory_mb,"
        "source,note\n"
        "b1,MINT,83.46,,93.43,93.98,9.020,MINT table,\n"
        "elsewhere,GAL,82.20,,93.42,,,MINT table,own baseline\n"
    )
    out = tmp_path / "tables"
    write_tables(
        result_files, _stems(out), tolerance_pp=0.5, compression="flops", published=published
    )
    tex = (out / "main.tex").read_text()
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") == 1
    assert r"flops30-layerwise" in tex and r"89.70 $\pm$ 1.27" in tex
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
    selected = pd.read_csv(out / "selected.csv")  # one pick per count; reported: the masked
    assert list(zip(selected["count"], selected["method"], strict=True)) == [
        ("masked", "l1"),
        ("slim", "l1"),
    ]
    markdown = (out / "selected.md").read_text()
    assert "### Bench One: masked counts, as the paper reports them" in markdown
    assert "### Bench One: slim counts: what removing dead channels saves" in markdown
    labels = re.findall(r"\\label\{([^}]*)\}", (out / "selected.tex").read_text())
    assert len(labels) == len(set(labels)) == 2 and labels[1].endswith("-b1-slim")


def _prune_json(root, benchmark, method, seed, score, parts=None):
    path = root / f"{benchmark}-{method}-{seed}.json"  # the record names its benchmark
    return prune_record(
        path, method, "flops50-layerwise", seed, benchmark=benchmark, score=score, parts=parts
    )


def test_targets_planned_from_one_scoring_count_it_once(tmp_path):
    """Seed 0's two targets share one scoring (1 s, copied in both records); seed 1 is a
    rerun (3 s). Scoring is summarised over the two scorings, planning over the three runs."""
    shared = ("flops30-layerwise", "flops50-layerwise")
    paths = [
        prune_record(tmp_path / f"{t}-0.json", "snacs", t, 0, plan=p, scored_with=shared)
        for t, p in zip(shared, (0.1, 0.3), strict=True)
    ]
    paths.append(prune_record(tmp_path / "alone-1.json", "snacs", shared[0], 1, score=3.0))
    (row,) = write_timing_tables(paths, tmp_path / "timings").itertuples()
    assert (row.runs, row.scorings) == (3, 2)
    assert row.score_seconds_mean == pytest.approx(2.0)
    assert row.score_seconds_std == pytest.approx(np.sqrt(2.0))
    assert row.plan_seconds_mean == pytest.approx(0.5 / 3)
    markdown = (tmp_path / "timings.md").read_text()
    assert "| snacs | snacs | connection | 3 | 2 | 2.000 ± 1.414 |" in markdown
    assert "planned from that scoring" in markdown


def test_timing_tables_per_benchmark_and_pruner(tmp_path):
    paths = [
        _prune_json(tmp_path, "b1", "snacs", 0, 1.0, {"acmi_seconds": 0.2, "svm_seconds": 0.8}),
        _prune_json(tmp_path, "b1", "snacs", 1, 3.0, {"acmi_seconds": 0.4, "svm_seconds": 2.6}),
        _prune_json(tmp_path, "b2", "mint", 0, 40.0),
    ]
    table = write_timing_tables(paths, tmp_path / "tables" / "timings")
    snacs = table[table["method"] == "snacs"].iloc[0]
    assert (snacs["benchmark"], snacs["runs"]) == ("b1", 2)
    assert snacs["score_seconds_mean"] == pytest.approx(2.0)
    assert snacs["score_seconds_std"] == pytest.approx(np.sqrt(2.0))
    assert snacs["part_acmi_seconds"] == pytest.approx(0.3)
    assert np.isnan(table[table["method"] == "mint"].iloc[0]["part_acmi_seconds"])
    markdown = (tmp_path / "tables" / "timings.md").read_text()
    assert "| 0.100 ± 0.000 | acmi 0.300 · svm 1.700 | cpu | 2 |" in markdown
    assert "### b2" in markdown
    assert "| mint | mint | connection | 1 | 1 | 40.000 | 2.000 |" in markdown
    assert "| 0.100 | – | cpu | 2 |" in markdown  # no parts timed
    tex = (tmp_path / "tables" / "timings.tex").read_text()
    assert tex.count(r"\begin{tabular}") == 2 and r"2.000 $\pm$ 1.414" in tex


def _manifest(results: Path, **studies) -> ReportManifest:
    return ReportManifest(
        results_dir=str(results),
        formats=("png",),
        run_records=[],
        prune_records=[],
        dense_records=[str(dense_record(results / "b1" / "dense" / "dense.json"))],
        reference_records=[
            str(reference_record(results / f"ref{seed}.json", seed, top1))
            for seed, top1 in ((0, 90.5), (1, 90.7))
        ],
        layer_benchmarks=["b1"],
        layer_methods=["snacs"],
        benchmarks=["b1"],
        **studies,
    )


def _write_whole_study(manifest: ReportManifest) -> None:
    """One rerun of each method on VGG16: MINT 300 s, SNACS 20 s (10 s of it ACMI), SNACS
    keeping both cores busy."""
    from snacs.report.speed import write_whole_tables
    from snacs.studies.whole_speed import RAW_COLUMNS

    rows = [
        ["vgg16", "snacs", 0, 20.0, 10.0, 40.0, 10.0, 9.9, 0.1],
        ["vgg16", "mint", 0, 300.0, 300.0, 300.0, None, None, None],
    ]
    raw = pd.DataFrame(rows, columns=RAW_COLUMNS).assign(
        groups=64, description="VGG16", width_mult=1.0, samples=2000, threads=2, device="cpu"
    )
    Path(manifest.whole_speed_raw).parent.mkdir(parents=True, exist_ok=True)
    raw.to_csv(manifest.whole_speed_raw, index=False)
    write_whole_tables(manifest.whole_speed_raw, manifest.layout.speed.whole_tables)


def test_report_holds_every_study_section(result_files, tmp_path):
    manifest = _manifest(tmp_path / "results", speed=True, whole_speed=True, estimator=True)
    layout = manifest.layout
    write_tables(result_files, layout.run_tables)
    timings = write_timing_tables(
        [_prune_json(tmp_path, "b1", "snacs", 0, 1.0)], layout.table_stem("timings")
    )
    assert len(timings) == 1
    Path(layout.studies).mkdir(parents=True)
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
    ).to_csv(manifest.speed_summary, index=False)
    setup = {
        "parent_layer": "conv8",
        "child_layer": "conv9",
        "parent_width": 512,
        "child_width": 512,
        "samples": 1000,
        "activations": "trained",
        "device": "cpu",
        "threads": 2,
        "snacs_workers": 1,
        "mint_mst": "scipy",
    }
    pd.DataFrame([{"method": "mint", "groups": 16, "rerun": 0, "seconds": 10.0, **setup}]).to_csv(
        manifest.speed_raw, index=False
    )
    _write_whole_study(manifest)
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
    ).to_csv(manifest.estimator_summary, index=False)
    figures = [
        *manifest.accuracy_figures,
        *manifest.layer_figures,
        manifest.layout.speed_figure(),
        manifest.layout.estimator_figure(),
    ]
    for figure in figures:
        accuracy_vs_flops(pd.read_csv(layout.table("main")), "b1", [figure])
    config = {
        "scale": "demo",
        "seeds": [0, 1],
        "benchmarks": {"b1": {"dataset": {"name": "digits"}}},
        "methods": {"l1": {}, "random": {}},
        "selection": {"tolerance_pp": 0.5, "compression": "params"},
    }
    claims = build_claims(config, manifest, read_published(None))
    write_claims(claims, config, manifest)
    report = tmp_path / "all"
    write_report(report, manifest, config, {"packages": {"torch": "2.x"}, "python": "3.11"})
    page = report.read_text()
    assert page.index('class="banner"') < page.index("<h1>") < page.index("Claims of the paper")
    assert "Not at paper scale (demo scale)" in page
    assert page.count("<figcaption>") == 4 and "one line per method" in page
    assert "Why no run qualified" in page
    assert "Dense (fine-tuned) reference" in page and "90.60 ± 1.27" in page
    assert "reaches 88.00 %, 2.00 pp below the dense model" in page
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
    assert 'verdict on "over 17x faster"' in page  # one verdict: the claims panel
    assert page.count("data:image/png;base64,") == 4
    whole = page[page.index("Whole-network scoring") :]
    assert "Step ratio (ACMI)" in whole and "Whole ratio, CPU seconds" in whole
    assert "30.0× [30.0, 30.0]" in whole and "15.0× [15.0, 15.0]" in whole  # step, CPU
    selected = page[page.index("<h2 id='selected'>") : page.index("<h2 id='runs'>")]
    assert "Bench One: masked counts, as the paper reports them</h3>" in selected
    assert "Bench One: slim counts: what removing dead channels saves" in selected
    # claims, selected (masked, slim), misses, reference, all runs, reported, timings, speed,
    # whole, estimator
    assert page.count("<table") == 11


def test_every_method_keeps_one_style_and_unknown_names_get_a_stable_one():
    from snacs.pruning.pruner import PRUNERS, load_pruner_modules
    from snacs.report.style import STYLES, style_of

    load_pruner_modules()
    for name in PRUNERS.names():  # a pruner's style is the one it declares
        pruner = PRUNERS.get(name)
        if pruner.color is not None:
            assert (style_of(name).color, style_of(name).marker) == (pruner.color, pruner.marker)
    figure_methods = [m for m in STYLES if not m.startswith("snacs_phi")] + PRUNERS.names()
    pairs = {(style_of(m).color, style_of(m).marker) for m in figure_methods}
    assert len(pairs) == len(figure_methods)  # no two methods look alike
    assert style_of("my_new_pruner") == style_of("my_new_pruner")
    assert style_of("my_new_pruner").color.startswith("#")


def test_figure_marks_missed_targets_and_names_them_in_the_caption(tmp_path):
    paths = [
        run_record(tmp_path / f"{m}{t}.json", m, f"flops{t}", 0, 90 - t / 10, t, target_met=met)
        for m, met in (("l1", True), ("mint", False))
        for t in (30, 60)
    ]
    summary = summarise(load_rows(paths))
    assert summary.loc[summary["method"] == "mint", "target_met"].eq(False).all()
    caption = accuracy_vs_flops(summary, "b1", [tmp_path / "f.png"])
    assert "(2 here)" in caption and "One seed, so no error bars" in caption
    assert "| MISSED |" in to_markdown(summary)


def test_one_shot_columns_for_runs_and_controls(tmp_path):
    paths = [
        run_record(
            tmp_path / "a.json",
            "snacs",
            "flops50",
            0,
            80.0,
            50.0,
            one_shot=40.0,
            one_shot_baseline=84.0,
            granularity="connection",
            slim_flops=0.4,
            target_met=True,
        ),
        run_record(
            tmp_path / "b.json",
            "snacs",
            "flops50",
            1,
            80.0,
            50.0,
            one_shot=44.0,
            one_shot_baseline=84.0,
            granularity="connection",
            slim_flops=0.4,
            target_met=True,
        ),
        run_record(
            tmp_path / "c.json",
            "snacs",
            "flops50",
            0,
            70.0,
            50.0,
            one_shot=20.0,
            one_shot_baseline=84.0,
            control="random",
            control_seed=0,
        ),
        run_record(
            tmp_path / "d.json",
            "l1",
            "flops50",
            0,
            80.0,
            50.0,
            one_shot=60.0,
            one_shot_baseline=84.0,
            target_met=True,
        ),
    ]
    out = tmp_path / "tables"
    summary = write_tables(paths, _stems(out), tolerance_pp=20.0)
    csv = pd.read_csv(out / "main.csv")
    for stem in ("one_shot_top1", "one_shot_baseline_top1"):
        assert {f"{stem}_{s}" for s in ("mean", "std", "ci")} <= set(csv.columns)
    assert "no_finetune_top1_mean" not in csv.columns  # one name for one number
    snacs = summary[(summary["method"] == "snacs") & (summary["control"] == "")].iloc[0]
    assert snacs["one_shot_top1_mean"] == pytest.approx(42.0)
    assert snacs["one_shot_top1_std"] == pytest.approx(2 * np.sqrt(2))
    assert snacs["one_shot_top1_ci"] > snacs["one_shot_top1_std"]  # t interval, 2 seeds
    control = summary[summary["control"] == "random"].iloc[0]
    assert (control["one_shot_top1_mean"], control["one_shot_baseline_top1_mean"]) == (20.0, 84.0)
    markdown = (out / "main.md").read_text()
    assert "One-shot top-1 (%)" in markdown and "Dense one-shot top-1 (%)" in markdown
    # a met target that deploys at almost the dense cost says so; a filter pruner's does not
    assert "| yes (FLOPs ↓ masked 50.0 %, slim only 0.4 %) |" in markdown
    assert "| l1 | filter | flops50 | yes |" in markdown


def test_nothing_selected_and_nothing_published_is_an_empty_table(result_files):
    """No run within the tolerance and no published row: an empty table, not a crash."""
    summary = summarise(load_rows(result_files))
    nothing = select_operating_points(summary, 0.5, "params", "masked").iloc[0:0]
    table = reported_beside_reproduced(nothing, read_published(None))
    assert table.empty and "status" in table.columns
