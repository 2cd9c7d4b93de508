"""The claims panel: one verdict per claim of the paper and benchmark, with its reason.

Every row has ``claim, benchmark, paper, measured, verdict, reason``; ``verdict`` is
``holds``, ``does not hold`` or ``inconclusive``. The rules, in words:

* **speed** ("over 17x faster than the nearest comparable method"): MINT's seconds over
  SNACS's, per group count, with a 95 % bootstrap interval over the reruns. Holds when
  the interval's lower end is above 17 at every group count, does not hold when its upper
  end is below 17 at some group count, otherwise (or with fewer than two reruns, so no
  interval) inconclusive. Judged for the estimator step (the paper's own measurement)
  and for the whole pruner (scoring of the full network, from the pruning runs).
* **state of the art** (single-shot pruning): SNACS against every other pruner of the
  benchmark at matched budget, i.e. both accuracy-vs-FLOPs curves interpolated at every
  budget where both were run. A gap counts when its seed interval (t, 95 %) excludes
  zero, or, with one seed, when it exceeds the selection tolerance.
* **criterion quality at one-shot**: SNACS's accuracy right after pruning (BatchNorm
  re-estimated, no fine-tuning) against every other pruner at the same target and
  against its own controls at the same per-layer counts. A gap counts like a state of
  the art one (t interval over seeds, or the tolerance with one seed). Judged at every
  scale but on synthetic images: it depends on the dense model, not on a recipe.
* **compression** at the paper's selection rule: SNACS's most compressed run within the
  tolerance of the dense accuracy against the published MINT row of the benchmark.
* **estimator accuracy**: the ACMI estimator's MSE on Gaussian data against the values of
  the paper's figure at the same settings.

State of the art and compression are judged twice, once per count: on masked counts
(zeroed weights and the weights they leave dead), as the paper reports them, and on slim
counts, what removing dead channels saves (the deployable model). SNACS as published
prunes connections, which leave few whole channels dead, so its slim model can cost
almost what the dense one does; a slim row says so as its reason rather than judging.

Accuracy after fine-tuning and compression depend on the training recipe and data, so
below paper scale (``scale`` in the config) they are always inconclusive, with the
numbers still shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from snacs.config import methods_for, pruner_name
from snacs.io import write_text
from snacs.pruning.target import COUNTS, Count
from snacs.report.controls import pruner_rows
from snacs.report.manifest import ReportManifest
from snacs.report.tables import (
    COUNT_WORDS,
    SLIM_SAVING_PCT,
    load_timings,
    one_per_scoring,
    reduction_column,
)
from snacs.studies.speed import MINT
from snacs.tabular import markdown_table

HOLDS, FAILS, UNCLEAR = "holds", "does not hold", "inconclusive"
VERDICTS = (HOLDS, FAILS, UNCLEAR)
COLUMNS = ["claim", "benchmark", "paper", "measured", "verdict", "reason"]
SPEED_COLUMNS = [
    "network",
    "scope",
    "groups",
    "snacs_s",
    "mint_s",
    "ratio",
    "ratio_low",
    "ratio_high",
    "reruns",
]
CLAIMED_SPEEDUP = 17.0
#: the paper timed 16x16 to 256x256 groups; smaller counts say nothing about its claim
PAPER_MIN_GROUPS = 16
SPEED_CLAIM = "over 17x faster than the nearest comparable method (MINT)"
SOTA_CLAIM = "state of the art single-shot pruning (accuracy vs FLOPs)"
COMPRESSION_CLAIM = "more compression than MINT at the paper's selection rule"
ESTIMATOR_CLAIM = "accurate ACMI estimates (MSE on Gaussian data)"
SNACS = "snacs"


@dataclass(frozen=True)
class Claim:
    claim: str
    benchmark: str
    paper: str
    measured: str
    verdict: str
    reason: str

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")


@dataclass(frozen=True)
class Scale:
    """How far a config is from the paper's setting, in words, from the config itself."""

    label: str
    seeds: int
    benchmarks: Mapping[str, str]

    @property
    def paper(self) -> bool:
        return self.label == "paper"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Scale:
        seeds = len(config["seeds"])
        words = {}
        for name, bench in config["benchmarks"].items():
            data = "synthetic images" if bench["dataset"].get("synthetic") else None
            if bench["dataset"].get("verify") == "layout":
                data = f"an unverified {bench['dataset']['name']} copy (layout checked, no md5)"
            published = bench.get("dense", {}).get("source") == "pretrained"
            source = "published checkpoint" if published else None
            epochs = bench.get("finetune", {}).get("recipe", {}).get("epochs")
            tune = "no fine-tune" if epochs == 0 else epochs and f"{epochs}-epoch fine-tune"
            parts = [p for p in (source, data, tune) if p]
            words[name] = ", ".join([*parts, f"{seeds} seed{'s' if seeds > 1 else ''}"])
        return cls(label=config.get("scale", "custom"), seeds=seeds, benchmarks=words)

    def describe(self, benchmark: str | None = None) -> str:
        detail = self.benchmarks.get(benchmark, "") if benchmark else ""
        return f"{self.label} scale" + (f": {detail}" if detail else "")


# ---------------------------------------------------------------------------- speed


def bootstrap_ratio(
    mint: Sequence[float], snacs: Sequence[float], draws: int = 4000, seed: int = 0
) -> tuple[float, float, float]:
    """Ratio of mean seconds and its 95 % percentile bootstrap interval over reruns.

    Each side is resampled with replacement on its own; with fewer than two reruns on
    either side there is no interval (NaN ends).
    """
    mint_s, snacs_s = np.asarray(mint, float), np.asarray(snacs, float)
    ratio = float(mint_s.mean() / snacs_s.mean())
    if len(mint_s) < 2 or len(snacs_s) < 2:
        return ratio, math.nan, math.nan
    rng = np.random.default_rng(seed)
    mint_means = rng.choice(mint_s, (draws, len(mint_s))).mean(axis=1)
    snacs_means = rng.choice(snacs_s, (draws, len(snacs_s))).mean(axis=1)
    low, high = np.percentile(mint_means / snacs_means, [2.5, 97.5])
    return ratio, float(low), float(high)


def speed_rows(
    samples: pd.DataFrame, network: str, scope: str, snacs: str, mint: str = MINT
) -> pd.DataFrame:
    """Speed summary rows (:data:`SPEED_COLUMNS`) from raw seconds.

    ``samples`` has columns method, groups, seconds (one row per rerun); ``snacs`` names
    the SNACS method to compare (the slowest variant, when several, is the fair pick).
    """
    rows = []
    for groups, block in samples.groupby("groups", sort=True):
        mint_s = block.loc[block["method"] == mint, "seconds"]
        snacs_s = block.loc[block["method"] == snacs, "seconds"]
        if mint_s.empty or snacs_s.empty:
            continue
        ratio, low, high = bootstrap_ratio(mint_s, snacs_s)
        rows.append(
            [network, scope, groups, snacs_s.mean(), mint_s.mean(), ratio, low, high]
            + [min(len(mint_s), len(snacs_s))]
        )
    return pd.DataFrame(rows, columns=SPEED_COLUMNS)


def step_speed_rows(raw: pd.DataFrame) -> pd.DataFrame:
    """The speed study's raw CSV (one layer pair) as speed rows of scope ``step``.

    Of several SNACS variants (phi), the one with the larger mean time at each group
    count is compared, as the paper annotates the smaller of its speed-ups.
    """
    first = raw.iloc[0]
    network = f"{first.get('parent_layer', '?')} -> {first.get('child_layer', '?')} pair"
    snacs = raw[raw["method"].str.startswith("snacs")]
    slowest = snacs.groupby(["groups", "method"])["seconds"].mean().reset_index()
    picks = slowest.loc[slowest.groupby("groups")["seconds"].idxmax()]
    keep = set(zip(picks["groups"], picks["method"], strict=True))
    chosen = snacs[[(g, m) in keep for g, m in zip(snacs["groups"], snacs["method"], strict=True)]]
    samples = pd.concat([raw[raw["method"] == MINT], chosen.assign(method=SNACS)])
    return speed_rows(samples, network, "step", SNACS)


def whole_speed_rows(timings: pd.DataFrame, config: Mapping[str, Any]) -> pd.DataFrame:
    """Scoring seconds of the full network from the pruning runs, as speed rows ``whole``.

    ``timings`` is :func:`snacs.report.tables.load_timings`'s frame (one row per run).
    The targets of a method and seed are planned from one scoring, so a rerun is another
    scoring (another seed), never another target of the same one.
    """
    frames = []
    for bench in config["benchmarks"]:
        snacs, mint = _subject(config, bench), _method_of(config, bench, MINT)
        block = timings[timings["benchmark"] == bench]
        if snacs is None or mint is None or block.empty:
            continue
        samples = one_per_scoring(block[block["method"].isin([snacs, mint])]).rename(
            columns={"score_seconds": "seconds"}
        )
        groups = config["methods"][snacs].get("groups", "default")
        samples = samples.assign(groups=str(groups))
        frames.append(speed_rows(samples, bench, "whole", snacs, mint))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SPEED_COLUMNS)


def _ratio_text(row: pd.Series) -> str:
    interval = (
        f" [{row['ratio_low']:.1f}, {row['ratio_high']:.1f}]"
        if not math.isnan(row["ratio_low"])
        else " (no interval)"
    )
    return f"{row['ratio']:.1f}x{interval} at {row['groups']} groups"


def speed_verdict(block: pd.DataFrame) -> tuple[str, str]:
    """The verdict on the speed claim, with its reason, from one (network, scope)'s rows.

    The one rule for "over 17x faster" (module docstring), used by the claims panel and
    by the speed study's own tables, so the two never disagree.
    """
    below = block[block["ratio_high"] < CLAIMED_SPEEDUP]
    in_range = pd.to_numeric(block["groups"], errors="coerce") >= PAPER_MIN_GROUPS
    if block.empty:
        return UNCLEAR, "no group count was timed for both MINT and SNACS"
    if not in_range.any():
        return UNCLEAR, (
            f"no group count in the paper's range ({PAPER_MIN_GROUPS} to 256 per layer), "
            "where the claim was measured"
        )
    if not below.empty:
        return FAILS, f"ratio interval below 17x at {_ratio_text(below.iloc[0])}"
    if block["ratio_low"].isna().any():
        return UNCLEAR, "fewer than two reruns: no interval for the ratio"
    if (block["ratio_low"] > CLAIMED_SPEEDUP).all():
        return HOLDS, "ratio interval above 17x at every measured group count"
    return UNCLEAR, "ratio interval contains 17x at some group count"


def speed_claims(
    rows: pd.DataFrame, scale: Scale, paper_mint: Mapping[int, float] | None = None
) -> list[Claim]:
    """One claim per (network, scope) of :data:`SPEED_COLUMNS` rows."""
    claims = []
    for (network, scope), block in rows.groupby(["network", "scope"], sort=False):
        worst = block.loc[block["ratio"].idxmin()]
        reruns = int(block["reruns"].min())
        what = {
            "step": "estimator step (one layer pair)",
            "whole_cpu": "whole pruner (scoring), CPU seconds over all threads",
        }.get(scope, "whole pruner (scoring)")
        measured = (
            f"{what}: smallest MINT/SNACS ratio {_ratio_text(worst)}; "
            f"{len(block)} group count(s), {reruns} rerun(s) at least"
        )
        verdict, why = speed_verdict(block)
        basis = "basis: our MINT against our SNACS on the same machine"
        ours = block.set_index("groups")["mint_s"]
        if scope == "step" and paper_mint:
            common = [g for g in ours.index if g in paper_mint]
            if common:
                g = common[0]
                basis += (
                    f" (our MINT {ours[g]:.1f} s at {g}x{g} groups, the paper's "
                    f"{paper_mint[g]:.1f} s)"
                )
        claims.append(
            Claim(
                claim=f"speed, {scope}: {SPEED_CLAIM}",
                benchmark=str(network),
                paper="over 17x (smallest speed-up, at 64x64 groups, estimator step, 10 reruns)",
                measured=measured,
                verdict=verdict,
                reason=f"{why}; {basis}; {scale.describe()}",
            )
        )
    return claims


# -------------------------------------------------------------- state of the art


def _method_of(config: Mapping[str, Any], bench: str, pruner: str) -> str | None:
    """The benchmark's method running ``pruner``: the one named like it, else the first."""
    methods = [m for m in methods_for(config, bench) if pruner_name(config, m) == pruner]
    return pruner if pruner in methods else (methods[0] if methods else None)


def _subject(config: Mapping[str, Any], bench: str) -> str | None:
    return _method_of(config, bench, SNACS)


def _on_count(claim: str, count: Count) -> str:
    """A claim's text with the count it is judged on, so a reader sees which row is which."""
    return f"{claim}, on {COUNT_WORDS[count]}"


def _resource_words(resource: str) -> str:
    return "FLOPs" if resource == "flops" else resource


def saves_little(saved_pct: float, resource: str, granularity: str, where: str) -> str | None:
    """Why a slim row cannot judge SNACS, in words, when its deployable model saves under
    :data:`SLIM_SAVING_PCT` of ``resource``; None when it saves more.

    ``where`` says which runs ``saved_pct`` is the most of (all of SNACS's, or those within
    the tolerance).
    """
    if saved_pct >= SLIM_SAVING_PCT:
        return None
    cause = ": connection pruning removes few whole channels" if granularity == "connection" else ""
    return (
        f"SNACS's slim model saves {saved_pct:.1f} % {_resource_words(resource)} {where}{cause}, "
        "so there is no deployable saving to compare"
    )


def _curve(block: pd.DataFrame, x: str) -> pd.DataFrame:
    curve = block[[x, "pruned_top1_mean", "pruned_top1_std", "seeds"]].sort_values(x)
    return curve.rename(columns={x: "x", "pruned_top1_mean": "acc", "pruned_top1_std": "sd"})


def compare_curves(
    subject: pd.DataFrame, other: pd.DataFrame, tolerance_pp: float, axis: str
) -> tuple[str, str]:
    """(outcome, words) of the subject's accuracy minus the other's at matched budgets.

    Both curves (columns x, acc, sd, seeds) are interpolated at every budget of either
    inside their common range. Outcome: ``ahead`` (every gap's interval above zero),
    ``behind`` (some gap's interval below zero), ``level`` or ``no overlap``. With one
    seed a gap counts only beyond ``tolerance_pp``. ``axis`` names the budget in the
    words, e.g. ``slim FLOPs ↓``.
    """
    low, high = max(subject["x"].min(), other["x"].min()), min(subject["x"].max(), other["x"].max())
    points = sorted({x for x in [*subject["x"], *other["x"]] if low <= x <= high})
    if not points:
        return "no overlap", (
            f"no common budget (SNACS {subject['x'].min():.1f}-{subject['x'].max():.1f} %, "
            f"other {other['x'].min():.1f}-{other['x'].max():.1f} %)"
        )
    gaps = []
    for x in points:
        a = np.interp(x, subject["x"], subject["acc"])
        b = np.interp(x, other["x"], other["acc"])
        n = min(subject["seeds"].min(), other["seeds"].min())
        if n > 1:
            sd_a = np.interp(x, subject["x"], subject["sd"])
            sd_b = np.interp(x, other["x"], other["sd"])
            half = stats.t.ppf(0.975, n - 1) * math.sqrt((sd_a**2 + sd_b**2) / n)
        else:
            half = tolerance_pp
        gaps.append((x, a - b, half))
    worst = min(gaps, key=lambda g: g[1])
    if n > 1:
        spread = f"± {worst[2]:.2f} (t, 95 %)"
    else:
        spread = f"1 seed, no interval; tolerance {tolerance_pp:.2f}"
    words = f"{worst[1]:+.2f} pp ({spread}) at {worst[0]:.1f} % {axis}"
    if any(gap + half < 0 for _, gap, half in gaps):
        return "behind", words
    if all(gap - half > 0 for _, gap, half in gaps):
        return "ahead", words
    return "level", words


def sota_measured(
    outcomes: Mapping[str, tuple[str, str]],
    mine: pd.DataFrame,
    block: pd.DataFrame,
    x: str,
    axis: str,
) -> str:
    """The comparisons in words; pruners with no common budget are named once, together."""
    parts = [f"vs {m}: {o} ({words})" for m, (o, words) in outcomes.items() if o != "no overlap"]
    apart = [m for m, (o, _) in outcomes.items() if o == "no overlap"]
    if apart:
        theirs = block[block["method"].isin(apart)][x]
        parts.append(
            f"no common {axis} with {', '.join(apart)} (SNACS {mine['x'].min():.1f}-"
            f"{mine['x'].max():.1f} %, theirs {theirs.min():.1f}-{theirs.max():.1f} %)"
        )
    return "; ".join(parts)


def sota_claims(
    summary: pd.DataFrame, config: Mapping[str, Any], scale: Scale, tolerance_pp: float
) -> list[Claim]:
    """Per benchmark and count: SNACS against every other configured pruner at matched FLOPs."""
    return [
        sota_claim(
            summary[summary["benchmark"] == bench], config, bench, count, scale, tolerance_pp
        )
        for bench in config["benchmarks"]
        for count in COUNTS
    ]


def sota_claim(
    block: pd.DataFrame,
    config: Mapping[str, Any],
    bench: str,
    count: Count,
    scale: Scale,
    tolerance_pp: float,
) -> Claim:
    """One benchmark's state of the art row, the FLOPs of every curve read on ``count``."""
    claim = _on_count(SOTA_CLAIM, count)
    subject = _subject(config, bench)
    others = [
        m
        for m in methods_for(config, bench)
        if pruner_name(config, m) != SNACS and m in set(block["method"])
    ]
    paper = "SNACS ahead of the compared single-shot pruners at equal compression"
    if subject is None or subject not in set(block["method"]) or not others:
        missing = "SNACS was not run" if subject is None else "no other pruner to compare"
        if subject is not None and subject not in set(block["method"]):
            missing = "SNACS has no finished run"
        return Claim(claim, bench, paper, "–", UNCLEAR, missing)
    x, axis = reduction_column("flops", count), f"{count} FLOPs ↓"
    own = block[block["method"] == subject]
    mine = _curve(own, x)
    outcomes = {
        other: compare_curves(mine, _curve(block[block["method"] == other], x), tolerance_pp, axis)
        for other in others
    }
    measured = sota_measured(outcomes, mine, block, x, axis)
    behind = [m for m, (o, _) in outcomes.items() if o == "behind"]
    compared = [m for m, (o, _) in outcomes.items() if o != "no overlap"]
    little = (
        saves_little(mine["x"].max(), "flops", own["granularity"].iloc[0], "at most")
        if count == "slim"
        else None
    )
    gap_rule = (
        "gap counted beyond its t interval over seeds"
        if scale.seeds > 1
        else f"1 seed: gap counted beyond the {tolerance_pp} pp tolerance"
    )
    if little:
        verdict, why = UNCLEAR, little + ("" if scale.paper else f"; {scale.describe(bench)}")
    elif not scale.paper:
        verdict, why = UNCLEAR, f"{scale.describe(bench)}; not the paper's setting"
    elif not compared:
        verdict, why = UNCLEAR, "no budget where SNACS and another pruner both ran"
    elif behind:
        verdict, why = FAILS, f"SNACS behind {', '.join(behind)}; {gap_rule}"
    elif all(outcomes[m][0] == "ahead" for m in compared):
        verdict, why = HOLDS, f"SNACS ahead of every compared pruner; {gap_rule}"
    else:
        level = [m for m in compared if outcomes[m][0] == "level"]
        verdict, why = UNCLEAR, f"level with {', '.join(level)}; {gap_rule}"
    return Claim(claim, bench, paper, measured, verdict, why)


# ---------------------------------------------------------------------- one-shot

ONE_SHOT_CLAIM = (
    "criterion quality at one-shot: SNACS ahead of every other pruner at the same target "
    "and of its own controls at the same per-layer counts, right after pruning"
)


def _one_shot_gap(mine: pd.Series, other: pd.Series, tolerance_pp: float) -> tuple[float, float]:
    """(gap, half-width): SNACS's one-shot top-1 minus the other's, and what the gap must
    exceed to count: the 95 % t interval over seeds, or with one seed ``tolerance_pp``."""
    gap = mine["one_shot_top1_mean"] - other["one_shot_top1_mean"]
    n = min(mine["seeds"], other["seeds"])
    if n < 2:
        return gap, tolerance_pp
    spread = mine["one_shot_top1_std"] ** 2 / mine["seeds"]
    spread += other["one_shot_top1_std"] ** 2 / other["seeds"]
    return gap, float(stats.t.ppf(0.975, n - 1) * math.sqrt(spread))


def one_shot_claims(
    summary: pd.DataFrame, config: Mapping[str, Any], scale: Scale, tolerance_pp: float
) -> list[Claim]:
    """Per benchmark: does SNACS's ranking beat the others' before any fine-tuning?

    ``summary`` is the main table with its control rows. SNACS's one-shot top-1 is set
    against every other pruner's at each target both ran, and against each of its
    controls (same per-layer counts chosen at random, by magnitude, or by its inverted
    ranking). A comparison is ``ahead``/``behind`` when every/some gap clears its spread
    (:func:`_one_shot_gap`), else ``level``. Judged at every scale but on synthetic images,
    where no criterion has a signal to find; the reason names the scale.
    """
    claims = []
    paper = "SNACS's scores choose what to keep (the paper reports fine-tuned accuracy only)"
    for bench in config["benchmarks"]:
        block = summary[summary["benchmark"] == bench]
        controls = block["control"].astype("string").fillna("")
        subject = _subject(config, bench)
        mine = block[(block["method"] == subject) & (controls == "")].set_index("target")
        if subject is None or mine.empty:
            missing = "SNACS was not run" if subject is None else "SNACS has no finished run"
            claims.append(Claim(ONE_SHOT_CLAIM, bench, paper, "–", UNCLEAR, missing))
            continue
        rivals = {
            method: block[(block["method"] == method) & (controls == "")]
            for method in methods_for(config, bench)
            if pruner_name(config, method) != SNACS
        }
        rivals |= {
            f"{kind} control": block[(block["method"] == subject) & (controls == kind)]
            for kind in sorted(set(controls[block["method"] == subject]) - {""})
        }
        outcomes, words = {}, []
        for name, rows in rivals.items():
            gaps = [
                (target, *_one_shot_gap(mine.loc[target], row, tolerance_pp))
                for target, row in rows.set_index("target").iterrows()
                if target in mine.index
            ]
            if not gaps:
                continue
            if any(gap + half < 0 for _, gap, half in gaps):
                outcomes[name] = "behind"
            elif all(gap - half > 0 for _, gap, half in gaps):
                outcomes[name] = "ahead"
            else:
                outcomes[name] = "level"
            target, gap, _ = min(gaps, key=lambda g: g[1])
            where = f" at {target}" if len(mine) > 1 else ""
            words.append(f"vs {name} {gap:+.2f} pp{where}")
        dense = mine["one_shot_baseline_top1_mean"].iloc[0]
        own = ", ".join(f"{top1:.2f} % at {t}" for t, top1 in mine["one_shot_top1_mean"].items())
        seeds = int(mine["seeds"].min())
        spread = (
            f"gap counted beyond its t interval over {seeds} seeds"
            if seeds > 1
            else f"1 seed, no interval: gap counted beyond the {tolerance_pp} pp tolerance"
        )
        measured = (
            f"SNACS one-shot top-1 {own} (dense model under the same BatchNorm re-estimation "
            f"{dense:.2f} %); " + ("; ".join(words) or "nothing to compare")
        )
        behind = [n for n, o in outcomes.items() if o == "behind"]
        level = [n for n, o in outcomes.items() if o == "level"]
        if config["benchmarks"][bench]["dataset"].get("synthetic"):
            verdict, why = UNCLEAR, "synthetic images: no criterion has a signal to find"
        elif not outcomes:
            verdict, why = UNCLEAR, "no other pruner at SNACS's targets and no control of SNACS"
        elif behind:
            verdict, why = FAILS, f"SNACS behind {', '.join(behind)}; {spread}"
        elif level:
            verdict, why = UNCLEAR, f"level with {', '.join(level)}; {spread}"
        else:
            verdict, why = HOLDS, f"SNACS ahead of every pruner and control; {spread}"
        reason = f"{why}; {scale.describe(bench)}"
        claims.append(Claim(ONE_SHOT_CLAIM, bench, paper, measured, verdict, reason))
    return claims


# -------------------------------------------------------------------- compression


def compression_claims(
    selected: pd.DataFrame,
    published: pd.DataFrame,
    config: Mapping[str, Any],
    scale: Scale,
    tolerance_pp: float,
    compression: str,
) -> list[Claim]:
    """Per benchmark and count: SNACS's selected operating point on that count (the
    selected table's rows of that ``count``) beside the published MINT row."""
    return [
        compression_claim(
            selected[(selected["benchmark"] == bench) & (selected["count"] == count)],
            published[published["benchmark"] == bench],
            config,
            bench,
            count,
            scale,
            tolerance_pp,
            compression,
        )
        for bench in config["benchmarks"]
        for count in COUNTS
    ]


def compression_claim(
    selected: pd.DataFrame,
    published: pd.DataFrame,
    config: Mapping[str, Any],
    bench: str,
    count: Count,
    scale: Scale,
    tolerance_pp: float,
    compression: str,
) -> Claim:
    """One benchmark's compression row: its picks on ``count``, the published rows of MINT.

    The published MINT number is the paper's own (masked) count whichever row reads it, as
    no slim count is published; the slim row's ``paper`` cell says so.
    """
    column = reduction_column(compression, count)
    published_column = f"{compression}_pruned_pct"
    theirs = published[published["method"] == "MINT"].dropna(subset=[published_column])
    paper = "–"
    if not theirs.empty:
        best = theirs.loc[theirs[published_column].idxmax()]
        paper = (
            f"MINT (published) {best[published_column]:.2f} % {compression} pruned at "
            f"{best['top1']:.2f} % top-1"
        )
        paper += "" if count == "masked" else " (a masked count: no slim count is published)"
    ours = selected[selected["method"] == _subject(config, bench)]
    mint = selected[selected["method"] == _method_of(config, bench, MINT)]
    measured = "no SNACS run within tolerance"
    little = None
    if not ours.empty:
        row = ours.iloc[0]
        measured = (
            f"SNACS {row[column]:.2f} % {count} {compression} pruned at "
            f"{row['pruned_top1_mean']:.2f} % top-1 ({row['target']}, baseline "
            f"{row['baseline_top1_mean']:.2f} %)"
        )
        if count == "slim":
            within = "at most within the tolerance"
            little = saves_little(row[column], compression, row["granularity"], within)
    if not mint.empty:
        measured += f"; our MINT {mint.iloc[0][column]:.2f} %"
    rule = f"selection rule: most compressed run within {tolerance_pp} pp of the dense top-1"
    if little:
        verdict, why = UNCLEAR, f"{little}; {rule}"
        why += "" if scale.paper else f"; {scale.describe(bench)}"
    elif not scale.paper:
        verdict, why = UNCLEAR, f"{scale.describe(bench)}; not the paper's setting"
    elif theirs.empty:
        verdict, why = UNCLEAR, "no published MINT row for this benchmark"
    elif ours.empty:
        verdict, why = FAILS, f"no SNACS run kept the accuracy; {rule}"
    elif ours.iloc[0][column] >= best[published_column]:
        verdict, why = HOLDS, f"SNACS compresses at least as much as published MINT; {rule}"
    else:
        verdict, why = FAILS, f"SNACS compresses less than published MINT; {rule}"
    return Claim(_on_count(COMPRESSION_CLAIM, count), bench, paper, measured, verdict, why)


# ---------------------------------------------------------------------- estimator


def estimator_claims(table: pd.DataFrame, scale: Scale) -> list[Claim]:
    """One claim: our MSE against the paper's at every setting the paper reports."""
    paired = table.dropna(subset=["paper_mse"])
    paper = "MSE of the paper's estimator figure (vs N and vs d)"
    if paired.empty:
        return [
            Claim(ESTIMATOR_CLAIM, "Gaussian data", paper, "–", UNCLEAR, "no setting in common")
        ]
    better = int((paired["mse"] <= paired["paper_mse"]).sum())
    worst = paired.loc[(paired["mse"] / paired["paper_mse"]).idxmax()]
    measured = (
        f"MSE at or below the paper's at {better} of {len(paired)} settings; worst: "
        f"{worst['mse']:.4f} vs {worst['paper_mse']:.4f} ({worst['sweep']} {worst['setting']}, "
        f"{worst['phi']})"
    )
    cases = int(table["cases"].min()) if "cases" in table else 0
    basis = f"{cases} random case(s) per setting; {scale.describe()}"
    if better == len(paired):
        verdict, why = HOLDS, "MSE at or below the paper's at every setting"
    elif better == 0:
        verdict, why = FAILS, "MSE above the paper's at every setting"
    else:
        verdict, why = UNCLEAR, "MSE below the paper's at some settings, above at others"
    return [Claim(ESTIMATOR_CLAIM, "Gaussian data", paper, measured, verdict, f"{why}; {basis}")]


# ------------------------------------------------------------------------ output


def claims_frame(claims: Sequence[Claim]) -> pd.DataFrame:
    return pd.DataFrame([asdict(c) for c in claims], columns=COLUMNS)


def claims_markdown(frame: pd.DataFrame, scale: Scale) -> str:
    banner = "" if scale.paper else f"> {banner_text(scale)}\n\n"
    rows = frame[COLUMNS].astype(str).values.tolist()
    return banner + markdown_table(COLUMNS, rows) + "\n"


def banner_text(scale: Scale) -> str:
    if scale.label == "pretrained":
        return (
            f"Published models on real data, not at paper scale ({scale.describe()}): the "
            "one-shot rows judge the pruners' criteria on a real model; the fine-tuned "
            "accuracy and compression rows do not follow the paper's protocol, and their "
            "verdicts stay inconclusive."
        )
    return (
        f"Not at paper scale ({scale.describe()}): the numbers show that the pipeline "
        "runs end to end; they are not findings about SNACS or the other pruners."
    )


def build_claims(
    config: Mapping[str, Any],
    manifest: ReportManifest,
    published: pd.DataFrame,
    paper_speed: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every claim row of a config, from the tables, records and study data it lists."""
    scale = Scale.from_config(config)
    selection = config["selection"]
    tolerance, compression = selection["tolerance_pp"], selection["compression"]
    summary = pruner_rows(pd.read_csv(manifest.table("main")))
    claims: list[Claim] = []
    speed = whole_speed_rows(load_timings(manifest.prune_records), config)
    if manifest.speed:
        speed = pd.concat([step_speed_rows(pd.read_csv(manifest.speed_raw)), speed])
    if manifest.whole_speed:
        whole = pd.read_csv(manifest.whole_speed_summary)
        missing = sorted(set(SPEED_COLUMNS) - set(whole.columns))
        if missing:
            raise ValueError(f"{manifest.whole_speed_summary} lacks columns {missing}")
        speed = pd.concat([whole[SPEED_COLUMNS], speed], ignore_index=True)
    paper_mint = None
    if paper_speed is not None:
        rows = paper_speed[paper_speed["method"] == MINT]
        paper_mint = dict(zip(rows["groups"], rows["seconds_mean"], strict=True))
    claims += speed_claims(speed, scale, paper_mint)
    claims += sota_claims(summary, config, scale, tolerance)
    claims += one_shot_claims(pd.read_csv(manifest.table("main")), config, scale, tolerance)
    claims += compression_claims(
        pd.read_csv(manifest.table("selected")), published, config, scale, tolerance, compression
    )
    if manifest.estimator:
        claims += estimator_claims(pd.read_csv(manifest.estimator_summary), scale)
    return claims_frame(claims)


def write_claims(frame: pd.DataFrame, config: Mapping[str, Any], manifest: ReportManifest) -> None:
    """claims.csv (every row) and claims.md (with the scale banner) in the tables folder."""
    write_text(manifest.table("claims"), frame.to_csv(index=False))
    write_text(manifest.table("claims", "md"), claims_markdown(frame, Scale.from_config(config)))
