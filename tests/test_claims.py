"""The claims panel's verdict rules on small hand-made tables, one test per branch."""

import math

import numpy as np
import pandas as pd
import pytest

from snacs.report import claims as c

FAILS, HOLDS, UNCLEAR = c.FAILS, c.HOLDS, c.UNCLEAR


def _config(scale="paper", seeds=(0,), methods=("snacs", "mint", "l1"), synthetic=False):
    dataset = {"name": "cifar10", **({"synthetic": {"format": "cifar10"}} if synthetic else {})}
    bench = {"dataset": dataset, "finetune": {"recipe": {"epochs": 2}}}
    return {
        "scale": scale,
        "seeds": list(seeds),
        "benchmarks": {"b1": bench},
        "methods": {m: {} for m in methods},
        "selection": {"tolerance_pp": 0.5, "compression": "params"},
    }


def _speed(ratios, lows, highs, reruns=3, scope="step"):
    n = len(ratios)
    return pd.DataFrame(
        {
            "network": ["conv8 -> conv9 pair"] * n,
            "scope": [scope] * n,
            "groups": [16 * 2**i for i in range(n)],
            "snacs_s": [1.0] * n,
            "mint_s": ratios,
            "ratio": ratios,
            "ratio_low": lows,
            "ratio_high": highs,
            "reruns": [reruns] * n,
        }
    )


def test_scale_is_described_from_the_config():
    scale = c.Scale.from_config(_config("demo", seeds=(0,), synthetic=True))
    assert not scale.paper
    assert scale.describe("b1") == "demo scale: synthetic images, 2-epoch fine-tune, 1 seed"
    assert c.Scale.from_config(_config(seeds=(0, 1))).describe("b1").endswith("2 seeds")
    assert c.Scale.from_config({**_config(), "scale": "custom"}).paper is False


def test_bootstrap_interval_surrounds_the_ratio_and_needs_two_reruns():
    ratio, low, high = c.bootstrap_ratio([20.0, 22.0, 18.0], [1.0, 1.1, 0.9])
    assert ratio == pytest.approx(20.0)
    assert low < ratio < high
    assert c.bootstrap_ratio([20.0, 20.0], [1.0, 1.0])[1:] == (20.0, 20.0)
    ratio, low, high = c.bootstrap_ratio([20.0], [1.0, 1.1])
    assert ratio == pytest.approx(20.0 / 1.05) and math.isnan(low) and math.isnan(high)


@pytest.mark.parametrize(
    ("lows", "highs", "reruns", "verdict", "why"),
    [
        ([18.0, 20.0], [25.0, 30.0], 3, HOLDS, "above 17x at every"),
        ([10.0, 20.0], [15.0, 30.0], 3, FAILS, "below 17x at 12.0x"),
        ([15.0, 20.0], [19.0, 30.0], 3, UNCLEAR, "contains 17x"),
        ([math.nan, 20.0], [math.nan, 30.0], 1, UNCLEAR, "fewer than two reruns"),
    ],
)
def test_speed_verdicts(lows, highs, reruns, verdict, why):
    rows = _speed([12.0 if verdict == FAILS else 17.5, 25.0], lows, highs, reruns)
    scale = c.Scale.from_config(_config("demo"))
    (claim,) = c.speed_claims(rows, scale, paper_mint={16: 1161.5})
    assert claim.verdict == verdict and why in claim.reason
    assert "our MINT" in claim.reason and "the paper's 1161.5 s" in claim.reason
    assert f"{reruns} rerun(s)" in claim.measured and "demo scale" in claim.reason


def test_step_rows_compare_the_slowest_snacs_variant_and_whole_rows_use_runs():
    raw = pd.DataFrame(
        {
            "method": ["mint", "mint", "snacs_phi_one", "snacs_phi_one", "snacs_phi_weight"] * 1
            + ["snacs_phi_weight"],
            "groups": [16] * 6,
            "rerun": [0, 1, 0, 1, 0, 1],
            "seconds": [20.0, 22.0, 1.0, 1.0, 2.0, 2.0],
            "parent_layer": ["conv8"] * 6,
            "child_layer": ["conv9"] * 6,
        }
    )
    (row,) = c.step_speed_rows(raw).itertuples()
    assert (row.scope, row.network, row.reruns) == ("step", "conv8 -> conv9 pair", 2)
    assert row.ratio == pytest.approx(10.5)  # against phi = weight, the slower one
    # Seed 0 planned two targets from one scoring: one measurement; seed 1 is a rerun.
    shared, alone = "flops30-layerwise flops50-layerwise", "flops30-layerwise"
    timings = pd.DataFrame(
        {
            "benchmark": ["b1"] * 7,
            "method": ["snacs"] * 3 + ["mint"] * 3 + ["l1"],
            "seed": [0, 0, 1, 0, 0, 1, 0],
            "scoring": [shared, shared, alone, shared, shared, alone, alone],
            "score_seconds": [2.0, 2.0, 4.0, 60.0, 60.0, 90.0, 0.1],
        }
    )
    (row,) = c.whole_speed_rows(timings, _config()).itertuples()
    assert (row.scope, row.network, row.reruns, row.ratio) == ("whole", "b1", 2, 25.0)


def _curve(xs, accs, sd=0.0, seeds=1):
    n = len(xs)
    return pd.DataFrame({"x": xs, "acc": accs, "sd": [sd] * n, "seeds": [seeds] * n})


@pytest.mark.parametrize(
    ("other", "outcome"),
    [
        (_curve([20.0, 60.0], [88.0, 80.0]), "ahead"),
        (_curve([20.0, 60.0], [92.0, 90.0]), "behind"),
        (_curve([30.0, 50.0], [90.3, 85.8]), "level"),
        (_curve([70.0, 90.0], [50.0, 40.0]), "no overlap"),
    ],
)
def test_curves_are_compared_at_matched_budgets(other, outcome):
    snacs = _curve([30.0, 50.0], [90.0, 86.0])
    assert c.compare_curves(snacs, other, 0.5, "slim FLOPs ↓")[0] == outcome


def test_seed_intervals_decide_a_gap_when_there_are_seeds():
    snacs = _curve([30.0, 50.0], [90.0, 86.0], sd=1.0, seeds=3)
    close = _curve([30.0, 50.0], [89.0, 85.0], sd=1.0, seeds=3)
    assert c.compare_curves(snacs, close, 0.5, "slim FLOPs ↓")[0] == "level"  # 1 pp within t
    tight = _curve([30.0, 50.0], [89.0, 85.0], sd=0.05, seeds=3)
    snacs_tight = _curve([30.0, 50.0], [90.0, 86.0], sd=0.05, seeds=3)
    outcome, words = c.compare_curves(snacs_tight, tight, 0.5, "masked FLOPs ↓")
    assert outcome == "ahead" and "+1.00 pp" in words and "t, 95 %" in words
    assert words.endswith("at 30.0 % masked FLOPs ↓")


def test_one_seed_gap_is_not_worded_as_an_interval():
    """With one seed the tolerance decides the gap, and the words say there is no interval."""
    snacs = _curve([30.0, 50.0], [90.0, 86.0])
    other = _curve([30.0, 50.0], [92.0, 90.0])
    outcome, words = c.compare_curves(snacs, other, 0.5, "slim FLOPs ↓")
    assert outcome == "behind" and "1 seed, no interval" in words and "±" not in words


def _summary(rows):
    """Main-table rows from (method, FLOPs ↓, top-1[, slim FLOPs ↓]): without a slim
    figure the run is a filter pruner's, whose slim count is its masked one."""
    records = []
    for method, flops, top1, *slim in rows:
        granularity = "connection" if slim else "filter"
        records.append((method, granularity, flops, slim[0] if slim else flops, top1))
    columns = ["method", "granularity", "flops_reduction_pct_mean"]
    columns += ["slim_flops_reduction_pct_mean", "pruned_top1_mean"]
    frame = pd.DataFrame(records, columns=columns)
    return frame.assign(benchmark="b1", pruned_top1_std=0.0, seeds=1)


MASKED_SOTA = "state of the art single-shot pruning (accuracy vs FLOPs), on masked counts"
SLIM_SOTA = "state of the art single-shot pruning (accuracy vs FLOPs), on slim counts"


@pytest.mark.parametrize(
    ("l1", "mint", "scale", "verdict", "why"),
    [
        ([88.0, 80.0], [87.0, 79.0], "paper", HOLDS, "ahead of every"),
        ([91.0, 88.0], [87.0, 79.0], "paper", FAILS, "behind l1"),
        ([90.1, 86.2], [87.0, 79.0], "paper", UNCLEAR, "level with l1"),
        ([88.0, 80.0], [87.0, 79.0], "demo", UNCLEAR, "demo scale"),
    ],
)
def test_state_of_the_art_verdicts(l1, mint, scale, verdict, why):
    summary = _summary(
        [("snacs", 30.0, 90.0), ("snacs", 50.0, 86.0)]
        + [("l1", x, a) for x, a in zip((30.0, 50.0), l1, strict=True)]
        + [("mint", x, a) for x, a in zip((30.0, 50.0), mint, strict=True)]
    )
    config = _config(scale)
    masked, slim = c.sota_claims(summary, config, c.Scale.from_config(config), 0.5)
    assert masked.claim.startswith(MASKED_SOTA) and slim.claim.startswith(SLIM_SOTA)
    for claim in (masked, slim):  # filter-pruner counts: both rows read the same curves
        assert (claim.verdict, claim.benchmark) == (verdict, "b1") and why in claim.reason
        assert "vs l1:" in claim.measured and "vs mint:" in claim.measured
    assert "masked FLOPs ↓" in masked.measured and "slim FLOPs ↓" in slim.measured


def test_state_of_the_art_without_a_finished_snacs_run():
    summary = _summary([("l1", 30.0, 88.0)])
    config = _config()
    claims = c.sota_claims(summary, config, c.Scale.from_config(config), 0.5)
    assert [claim.claim.split(", on ")[1].split(" ")[0] for claim in claims] == ["masked", "slim"]
    for claim in claims:
        assert claim.verdict == UNCLEAR and claim.reason == "SNACS has no finished run"


@pytest.mark.parametrize(
    ("snacs", "masked_verdict", "masked_why"),
    [
        ([90.0, 86.0], HOLDS, "ahead of every compared pruner"),
        ([87.0, 78.0], FAILS, "behind mint, l1"),
    ],
)
def test_a_connection_pruner_judged_on_masked_counts_and_structurally_not_on_slim(
    snacs, masked_verdict, masked_why
):
    """SNACS as published: its masked FLOPs ↓ meets the targets, its slim model saves
    0.2-0.4 %. The masked row judges at paper scale; the slim row cannot, even though
    MINT's slim curve (also a connection pruner's) overlaps SNACS's at tiny budgets."""
    summary = _summary(
        [("snacs", 30.0, snacs[0], 0.2), ("snacs", 50.0, snacs[1], 0.4)]
        + [("l1", 30.0, 88.0), ("l1", 50.0, 80.0)]
        + [("mint", 30.0, 87.0, 0.1), ("mint", 50.0, 79.0, 0.3)]
    )
    config = _config()
    masked, slim = c.sota_claims(summary, config, c.Scale.from_config(config), 0.5)
    assert masked.verdict == masked_verdict and masked_why in masked.reason
    assert "vs l1:" in masked.measured and "% masked FLOPs ↓)" in masked.measured
    assert slim.verdict == UNCLEAR
    assert slim.reason == (
        "SNACS's slim model saves 0.4 % FLOPs at most: connection pruning removes few whole "
        "channels, so there is no deployable saving to compare"
    )
    assert "vs mint:" in slim.measured and "no common slim FLOPs ↓ with l1" in slim.measured
    demo = _config("demo")
    _, slim = c.sota_claims(summary, demo, c.Scale.from_config(demo), 0.5)
    assert slim.reason.startswith("SNACS's slim model saves 0.4 %") and "demo scale" in slim.reason


def test_a_slim_curve_that_saves_enough_is_judged_like_a_masked_one():
    """A SNACS whose slim model saves more than 1 % gets the ordinary verdict on slim."""
    summary = _summary(
        [("snacs", 30.0, 90.0, 20.0), ("snacs", 50.0, 86.0, 40.0)]
        + [("l1", 20.0, 89.0), ("l1", 40.0, 80.0)]
    )
    config = _config(methods=("snacs", "l1"))
    masked, slim = c.sota_claims(summary, config, c.Scale.from_config(config), 0.5)
    assert slim.verdict == HOLDS and "at 20.0 % slim FLOPs ↓" in slim.measured
    assert masked.verdict == HOLDS and "30.0 % masked FLOPs ↓" in masked.measured


PUBLISHED = pd.DataFrame(
    {
        "benchmark": ["b1", "b1", "b1"],
        "method": ["MINT", "MINT", "GAL"],
        "params_pruned_pct": [52.4, 57.0, 90.0],
        "top1": [93.47, 93.02, 93.0],
    }
)


def _selected(snacs_params=None):
    """The selected table with one pick per count; filter-pruner-like, slim = masked."""
    rows = [("mint", 40.0)] + ([("snacs", snacs_params)] if snacs_params is not None else [])
    frame = pd.DataFrame(rows, columns=["method", "params_reduction_pct_mean"])
    frame = frame.assign(
        benchmark="b1",
        granularity="filter",
        slim_params_reduction_pct_mean=frame["params_reduction_pct_mean"],
        pruned_top1_mean=93.0,
        baseline_top1_mean=93.2,
        target="share60-global",
    )
    return pd.concat([frame.assign(count=count) for count in ("masked", "slim")])


@pytest.mark.parametrize(
    ("snacs", "published", "scale", "verdict", "why"),
    [
        (60.0, PUBLISHED, "paper", HOLDS, "at least as much"),
        (50.0, PUBLISHED, "paper", FAILS, "less than published"),
        (None, PUBLISHED, "paper", FAILS, "no SNACS run kept"),
        (60.0, PUBLISHED.iloc[2:], "paper", UNCLEAR, "no published MINT row"),
        (60.0, PUBLISHED, "ci", UNCLEAR, "ci scale"),
    ],
)
def test_compression_verdicts(snacs, published, scale, verdict, why):
    config = _config(scale)
    masked, slim = c.compression_claims(
        _selected(snacs), published, config, c.Scale.from_config(config), 0.5, "params"
    )
    assert masked.claim.endswith("on masked counts, as the paper reports them")
    assert slim.claim.endswith(
        "on slim counts: what removing dead channels saves, the deployable model"
    )
    for claim in (masked, slim):
        assert claim.verdict == verdict and why in claim.reason
        assert "our MINT 40.00 %" in claim.measured
        if not published[published["method"] == "MINT"].empty:
            assert claim.paper.startswith("MINT (published) 57.00 % params")
    if snacs is not None:
        assert f"SNACS {snacs:.2f} % masked params" in masked.measured
        assert f"SNACS {snacs:.2f} % slim params" in slim.measured


def _connection_summary():
    """Main-table rows of a connection-pruner SNACS whose masked and slim picks differ.

    share80 is the most compressed run on masked counts, share60 on slim ones (its cuts
    leave more channels dead), share90 saves the most of either but loses 2 pp.
    """
    rows = [
        ("snacs", "connection", "share60-global", 60.0, 5.0, 93.1),
        ("snacs", "connection", "share80-global", 80.0, 2.0, 92.9),
        ("snacs", "connection", "share90-global", 90.0, 9.0, 91.2),
        ("mint", "connection", "share60-global", 55.0, 0.6, 93.0),
        ("mint", "connection", "share80-global", 70.0, 0.3, 92.0),
    ]
    columns = ["method", "granularity", "target", "params_reduction_pct_mean"]
    columns += ["slim_params_reduction_pct_mean", "pruned_top1_mean"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.assign(benchmark="b1", title="Bench One", baseline_top1_mean=93.2)


def test_masked_and_slim_selections_pick_different_runs_and_are_judged_apart():
    from snacs.report.tables import select_per_count

    selected = select_per_count(_connection_summary(), 0.5, "params")
    picks = list(zip(selected["count"], selected["method"], selected["target"], strict=True))
    assert picks == [
        ("masked", "snacs", "share80-global"),
        ("masked", "mint", "share60-global"),
        ("slim", "snacs", "share60-global"),
        ("slim", "mint", "share60-global"),
    ]
    config = _config()
    masked, slim = c.compression_claims(
        selected, PUBLISHED, config, c.Scale.from_config(config), 0.5, "params"
    )
    assert masked.verdict == HOLDS  # 80 % masked against MINT's published 57 %
    assert masked.measured.startswith("SNACS 80.00 % masked params pruned at 92.90 % top-1")
    assert "(share80-global" in masked.measured and "our MINT 55.00 %" in masked.measured
    assert slim.verdict == FAILS and "less than published MINT" in slim.reason
    assert slim.measured.startswith("SNACS 5.00 % slim params pruned at 93.10 % top-1")
    assert "(share60-global" in slim.measured and "our MINT 0.60 %" in slim.measured
    assert slim.paper.endswith("(a masked count: no slim count is published)")
    assert not masked.paper.endswith("published)")


def test_a_slim_pick_that_saves_almost_nothing_is_inconclusive_with_the_reason():
    summary = _connection_summary()
    summary["slim_params_reduction_pct_mean"] = [0.4, 0.2, 0.9, 0.1, 0.1]
    from snacs.report.tables import select_per_count

    config = _config()
    masked, slim = c.compression_claims(
        select_per_count(summary, 0.5, "params"),
        PUBLISHED,
        config,
        c.Scale.from_config(config),
        0.5,
        "params",
    )
    assert masked.verdict == HOLDS
    assert slim.verdict == UNCLEAR
    assert slim.reason.startswith(
        "SNACS's slim model saves 0.4 % params at most within the tolerance: connection "
        "pruning removes few whole channels, so there is no deployable saving to compare; "
        "selection rule"
    )


@pytest.mark.parametrize(
    ("ours", "verdict"),
    [([0.01, 0.01], HOLDS), ([0.02, 0.03], FAILS), ([0.01, 0.03], UNCLEAR)],
)
def test_estimator_verdicts(ours, verdict):
    table = pd.DataFrame(
        {
            "sweep": ["samples", "samples", "dimension"],
            "setting": [500, 1000, 3],
            "phi": ["one", "one", "one"],
            "cases": [5, 5, 5],
            "mse": [*ours, 0.5],
            "paper_mse": [0.0139, 0.0112, np.nan],
        }
    )
    (claim,) = c.estimator_claims(table, c.Scale.from_config(_config()))
    assert claim.verdict == verdict and "5 random case(s)" in claim.reason
    assert "of 2 settings" in claim.measured


def test_claims_table_has_its_columns_and_refuses_unknown_verdicts(tmp_path):
    scale = c.Scale.from_config(_config("demo"))
    frame = c.claims_frame([c.Claim("x", "b1", "p", "m", UNCLEAR, "r")])
    assert list(frame.columns) == ["claim", "benchmark", "paper", "measured", "verdict", "reason"]
    assert c.claims_markdown(frame, scale).startswith("> Not at paper scale (demo scale)")
    assert not c.claims_markdown(frame, c.Scale.from_config(_config())).startswith(">")
    with pytest.raises(ValueError, match="verdict"):
        c.Claim("x", "b1", "p", "m", "maybe", "r")


def test_pruners_without_a_common_budget_are_named_together():
    summary = _summary(
        [("snacs", 10.0, 90.0), ("snacs", 20.0, 88.0)] + [("l1", 50.0, 85.0), ("mint", 60.0, 80.0)]
    )
    config = _config()
    for claim, count in zip(
        c.sota_claims(summary, config, c.Scale.from_config(config), 0.5),
        ("masked", "slim"),
        strict=True,
    ):
        assert claim.verdict == UNCLEAR and "no budget where SNACS" in claim.reason
        assert claim.measured == (
            f"no common {count} FLOPs ↓ with mint, l1 (SNACS 10.0-20.0 %, theirs 50.0-60.0 %)"
        )


def test_speed_below_the_papers_group_counts_is_inconclusive():
    rows = _speed([1.1], [0.6], [1.9]).assign(groups=[4])
    (claim,) = c.speed_claims(rows, c.Scale.from_config(_config("ci")))
    assert claim.verdict == UNCLEAR and "paper's range" in claim.reason


# ---------------------------------------------------------------- one-shot quality


def _one_shot_summary(tmp_path, rows, dense=84.95):
    """The main table (with control rows) of run records built from (method, control,
    seed, one-shot top-1[, target]) tuples, through the tables' own loading."""
    from record_fixtures import run_record

    from snacs.report.tables import load_rows, summarise

    paths = []
    for i, (method, control, seed, top1, *target) in enumerate(rows):
        path = tmp_path / f"{i}.json"
        label = target[0] if target else "flops30-layerwise"
        paths.append(
            run_record(
                path,
                method,
                label,
                seed,
                80.0,
                30.0,
                one_shot=top1,
                one_shot_baseline=dense,
                control=control,
            )
        )
    return summarise(load_rows(paths))


#: the issue's first real numbers (ResNet56, 30 % FLOPs, one seed)
PUBLISHED_CHECKPOINT = [
    ("snacs", "", 0, 48.1),
    ("l1", "", 0, 80.0),
    ("snacs", "random", 0, 39.3),
    ("snacs", "magnitude", 0, 78.9),
    ("snacs", "inverted", 0, 16.2),
]


def test_one_shot_row_names_every_gap_and_fails_when_snacs_is_behind(tmp_path):
    summary = _one_shot_summary(tmp_path, PUBLISHED_CHECKPOINT)
    (claim,) = c.one_shot_claims(
        summary, _config("pretrained"), c.Scale.from_config(_config("pretrained")), 0.5
    )
    assert claim.claim.startswith("criterion quality at one-shot")
    assert claim.verdict == FAILS
    assert claim.reason.startswith("SNACS behind l1, magnitude control; 1 seed, no interval")
    assert "pretrained scale" in claim.reason
    assert "SNACS one-shot top-1 48.10 % at flops30-layerwise" in claim.measured
    assert "same BatchNorm re-estimation 84.95 %" in claim.measured
    for words in (
        "vs l1 -31.90 pp",
        "vs random control +8.80 pp",
        "vs inverted control +31.90 pp",
        "vs magnitude control -30.80 pp",
    ):
        assert words in claim.measured, words
    assert "vs mint" not in claim.measured  # configured, never run: not compared


@pytest.mark.parametrize(
    "rows, verdict, why",
    [
        # two seeds each, well apart: ahead of everything
        (
            [
                ("snacs", "", 0, 70.0),
                ("snacs", "", 1, 71.0),
                ("l1", "", 0, 60.0),
                ("l1", "", 1, 61.0),
                ("snacs", "random", 0, 40.0),
                ("snacs", "random", 1, 42.0),
            ],
            HOLDS,
            "SNACS ahead of every pruner and control; gap counted beyond its t interval",
        ),
        # a 2 pp lead inside a seed spread of 10 pp: level
        (
            [
                ("snacs", "", 0, 60.0),
                ("snacs", "", 1, 74.0),
                ("l1", "", 0, 60.0),
                ("l1", "", 1, 70.0),
            ],
            UNCLEAR,
            "level with l1",
        ),
        # one seed: a gap within the tolerance does not count
        ([("snacs", "", 0, 60.3), ("l1", "", 0, 60.0)], UNCLEAR, "level with l1; 1 seed"),
        # nothing at SNACS's target
        (
            [("snacs", "", 0, 60.0), ("l1", "", 0, 50.0, "flops70-layerwise")],
            UNCLEAR,
            "no other pruner at SNACS's targets",
        ),
        ([("l1", "", 0, 60.0)], UNCLEAR, "SNACS has no finished run"),
    ],
)
def test_one_shot_verdicts(tmp_path, rows, verdict, why):
    config = _config("pretrained", seeds=(0, 1))
    (claim,) = c.one_shot_claims(
        _one_shot_summary(tmp_path, rows), config, c.Scale.from_config(config), 0.5
    )
    assert (claim.verdict, why in claim.reason) == (verdict, True), claim.reason


def test_one_shot_on_synthetic_images_is_inconclusive_with_the_numbers_shown(tmp_path):
    config = _config("ci", synthetic=True)
    summary = _one_shot_summary(tmp_path, PUBLISHED_CHECKPOINT)
    (claim,) = c.one_shot_claims(summary, config, c.Scale.from_config(config), 0.5)
    assert claim.verdict == UNCLEAR and claim.reason.startswith("synthetic images")
    assert "ci scale: synthetic images" in claim.reason and "vs l1 -31.90 pp" in claim.measured
