"""Accuracy of the ACMI estimator on Gaussian data with a known CMI (docs/method.md).

The paper plots the MSE of its estimator against the number of samples (dims
(X, Y, Z) = (1, 1, 2)) and against the dimension d (N = 5000), for phi = 1 and for the
activation weight phi = exp(-||act||^2 / 2). It does not record its data distribution;
here every case is a random jointly Gaussian covariance
(:func:`snacs.studies.gaussian_cases.random_gaussian_cmi_case`), whose CMI has a closed form:

* sample-size sweep: dims (1, 1, 2), dependence ``strength``; case k uses seed k at every
  N, so the true values stay fixed and only the sample size changes;
* dimension sweep: dims (d, d, d) at ``dimension_samples``, with the strength falling as
  ``dimension_strength * sqrt(3 / d)`` so that the true CMI stays near 0.4-0.6 bits and
  the sweep isolates the effect of dimension rather than of a growing target.

* strong dependence: dims (1, 1, 2) at ``strong_samples`` with ``strong_strength`` near 1,
  so the true CMI reaches about 1 bit (where a one-pass hashed estimate reads far low);
* layer-shaped cases (:func:`snacs.studies.gaussian_cases.layer_shaped_cmi_case`): X a child
  group, Y a parent group of 8 channels, Z the other parents (``layer_shapes`` gives the
  child and Z widths), linear-Gaussian and built so that the plain MI I(X;Y) misranks the
  conditional one; what ACMI needs there is the ranking, so the study reports the
  Spearman correlation of estimate and truth over the cases of a setting.

Every reading in ``readings`` (direct, chain, residual) runs with phi = 1; the
activation weight phi = exp(-||act||^2 / 2) runs with the paper's reading (direct), whose
MSE the paper plots. The weighted variant estimates a *weighted* CMI, so its error
against the plain CMI measures a distance, as in the paper's figure.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from tqdm import tqdm

from snacs.estimators.edge import EdgeOptions, edge_cmi
from snacs.io import write_text
from snacs.layout import StudyTables
from snacs.options import build_options, known_fields
from snacs.studies.gaussian_cases import layer_shaped_cmi_case, random_gaussian_cmi_case
from snacs.tabular import latex, markdown_table, read_reference_csv

PHIS = {"one": None, "exp_act": "exp_act"}
PHI_LABELS = {"one": "φ = 1", "exp_act": "φ = exp(-act²/2)"}
SWEEPS = {"samples": "N", "dimension": "d", "strong": "N", "layer": "dim Z"}
SWEEP_LABELS = {
    "samples": "sample size",
    "dimension": "dimension",
    "strong": "strong dependence",
    "layer": "layer-shaped",
}
READINGS = ("direct", "chain", "residual")
PAPER_READING = EdgeOptions().method  # the published reading, whose MSE the paper plots
# Own-group and other-parents strengths of the layer-shaped cases are drawn from these
# ranges: the wide second range lets Z's share dominate the plain MI of some cases.
OWN_STRENGTH = (0.0, 0.6)
REST_STRENGTH = (0.5, 3.0)


@dataclass(frozen=True)
class EstimatorSettings:
    """The ``studies.estimator`` config section (schema documents every field)."""

    sample_sizes: tuple[int, ...] = (500, 1000, 5000, 10000, 15000, 20000, 25000)
    dims: tuple[int, ...] = (3, 10, 20, 30, 50)
    dimension_samples: int = 5000
    cases: int = 10
    strength: float = 0.9
    dimension_strength: float = 0.8
    strong_samples: int = 5000
    strong_strength: float = 0.98
    layer_shapes: tuple[tuple[int, int], ...] = ((1, 56), (4, 248), (8, 504))
    layer_samples: int = 2000
    readings: tuple[str, ...] = READINGS
    # Every field but method and activation_phi, which each variant sets.
    estimator: EdgeOptions = field(default_factory=EdgeOptions)

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> EstimatorSettings:
        return build_options(cls, known_fields(cls, section))

    def variants(self) -> dict[tuple[str, str], EdgeOptions]:
        """(reading, phi) -> estimator: every reading with phi = 1, the paper's also weighted."""
        pairs = [(reading, "one") for reading in self.readings]
        if PAPER_READING in self.readings:
            pairs.append((PAPER_READING, "exp_act"))
        return {
            (reading, phi): dataclasses.replace(
                self.estimator, method=reading, activation_phi=PHIS[phi]
            )
            for reading, phi in pairs
        }


def dimension_strength(d: int, base: float) -> float:
    """Strength at dims (d, d, d): ``base`` at d <= 3, falling as sqrt(3 / d) beyond."""
    return base * math.sqrt(min(1.0, 3.0 / d))


@dataclass(frozen=True)
class Setting:
    sweep: str  # a key of SWEEPS
    value: int  # N, d or the width of Z
    dims: tuple[int, int, int]
    strength: float  # random-covariance strength (unused by layer-shaped cases)
    samples: int

    def case(self, case: int) -> tuple[Any, Any, Any, float, float]:
        """(x, y, z, true I(X;Y|Z), true I(X;Y)) of one case (the MI only for layer shapes)."""
        if self.sweep == "layer":
            rng = np.random.default_rng([self.value, case])
            own, rest = rng.uniform(*OWN_STRENGTH), rng.uniform(*REST_STRENGTH)
            return layer_shaped_cmi_case(
                self.dims[0], self.dims[2], own, rest, case, self.samples, self.dims[1]
            )
        x, y, z, truth = random_gaussian_cmi_case(self.dims, self.strength, case, self.samples)
        return x, y, z, truth, float("nan")


def study_settings(settings: EstimatorSettings) -> list[Setting]:
    """Every (sweep, value) of the study with its dims, strength and sample size."""
    by_samples = [
        Setting("samples", n, (1, 1, 2), settings.strength, n) for n in settings.sample_sizes
    ]
    by_dimension = [
        Setting(
            "dimension",
            d,
            (d, d, d),
            dimension_strength(d, settings.dimension_strength),
            settings.dimension_samples,
        )
        for d in settings.dims
    ]
    strong = [
        Setting(
            "strong",
            settings.strong_samples,
            (1, 1, 2),
            settings.strong_strength,
            settings.strong_samples,
        )
    ]
    layer = [
        Setting("layer", rest, (child, 8, rest), 0.0, settings.layer_samples)
        for child, rest in settings.layer_shapes
    ]
    return by_samples + by_dimension + strong + layer


RAW_COLUMNS = [
    "sweep",
    "setting",
    "dim_x",
    "dim_y",
    "dim_z",
    "samples",
    "strength",
    "case",
    "reading",
    "phi",
    "truth_bits",
    "truth_mi_bits",
    "estimate_bits",
    "error_bits",
]


def run_estimator_study(
    settings: EstimatorSettings,
    progress: bool = True,
    variants: Mapping[tuple[str, str], EdgeOptions] | None = None,
) -> pd.DataFrame:
    """One row per (setting, case, variant): the true CMI, the estimate and their difference.

    ``variants`` maps (reading, phi) labels to the estimators to compare; by default every
    configured reading with phi = 1 and the paper's reading also exp-weighted.
    """
    variants = settings.variants() if variants is None else variants
    rows = []
    jobs = [(s, case) for s in study_settings(settings) for case in range(settings.cases)]
    for setting, case in tqdm(jobs, desc="estimator study", disable=not progress, leave=False):
        x, y, z, truth, truth_mi = setting.case(case)
        for (reading, phi), options in variants.items():
            estimate = edge_cmi(x, y, z, options)
            rows.append(
                [
                    setting.sweep,
                    setting.value,
                    *setting.dims,
                    setting.samples,
                    setting.strength,
                    case,
                    reading,
                    phi,
                    truth,
                    truth_mi,
                    estimate,
                    estimate - truth,
                ]
            )
    return pd.DataFrame(rows, columns=RAW_COLUMNS)


def read_paper_accuracy(path: str | Path) -> pd.DataFrame:
    """The paper's MSE values (``paper_figures/estimator_accuracy_paper.csv``)."""
    return read_reference_csv(path, ["sweep", "setting", "phi", "mse", "source"])


KEYS = ["sweep", "setting", "reading", "phi"]


def _spearman(block: pd.DataFrame, column: str) -> float:
    truth, values = block["truth_bits"].to_numpy(), block[column].to_numpy()
    if len(block) < 3 or np.ptp(truth) == 0 or np.ptp(values) == 0:
        return float("nan")
    return float(stats.spearmanr(values, truth).statistic)


def summarise_estimator(raw: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """Per (sweep, setting, reading, phi): cases, mean truth and estimate, bias, MSE,
    Spearman of estimate and truth over the cases, and the paper's MSE (paper reading).

    ``mi_spearman`` is the Spearman of the true plain MI I(X;Y) with the true CMI, i.e.
    how an estimator that ignored Z perfectly would rank (layer-shaped cases only).
    """
    grouped = raw.groupby(KEYS, sort=False)
    summary = pd.concat(
        [
            grouped["case"].count().rename("cases"),
            grouped["truth_bits"].mean().rename("truth_mean"),
            grouped["estimate_bits"].mean().rename("estimate_mean"),
            grouped["error_bits"].mean().rename("bias"),
            grouped["error_bits"].apply(lambda e: float((e**2).mean())).rename("mse"),
            grouped.apply(_spearman, "estimate_bits", include_groups=False).rename("spearman"),
            grouped.apply(_spearman, "truth_mi_bits", include_groups=False).rename("mi_spearman"),
        ],
        axis=1,
    ).reset_index()
    reference = paper.set_index(["sweep", "setting", "phi"])["mse"].rename("paper_mse")
    summary = summary.join(reference, on=["sweep", "setting", "phi"])
    summary.loc[summary["reading"] != PAPER_READING, "paper_mse"] = float("nan")
    return summary


def _value(value: float, digits: int = 4) -> str:
    return "–" if pd.isna(value) else f"{value:.{digits}f}"


def variant_label(reading: str, phi: str) -> str:
    return reading if phi == "one" else f"{reading}, {PHI_LABELS[phi]}"


def estimator_cells(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """One row per (sweep, setting, estimator): bias, MSE and Spearman beside the paper's MSE."""
    headers = [
        "Sweep",
        "Setting",
        "Estimator",
        "Cases",
        "True CMI (bits)",
        "Mean estimate",
        "Bias",
        "MSE",
        "Spearman",
        "Spearman of true MI",
        "Paper MSE",
    ]
    rows = []
    for row in table.itertuples(index=False):
        rows.append(
            [
                SWEEP_LABELS[row.sweep],
                f"{SWEEPS[row.sweep]} = {row.setting}",
                variant_label(row.reading, row.phi),
                str(row.cases),
                _value(row.truth_mean, 3),
                _value(row.estimate_mean, 3),
                f"{row.bias:+.4f}",
                _value(row.mse, 5),
                _value(row.spearman, 2),
                _value(row.mi_spearman, 2),
                _value(row.paper_mse, 6),
            ]
        )
    return headers, rows


NOTE = (
    "Bias (bits), MSE (bits²) and Spearman rank correlation over the cases of the estimator "
    "against the closed-form CMI of jointly Gaussian cases: sample-size sweep at dims "
    "(1, 1, 2), dimension sweep at dims (d, d, d) and fixed N, strong dependence at dims "
    "(1, 1, 2) with true CMI up to about 1 bit, and layer-shaped cases (X a child group, "
    "Y a parent group of 8 channels, Z the other parents) where the plain MI misranks the "
    "CMI ('Spearman of true MI'). The weighted variant estimates a weighted CMI, so its "
    "error is a distance to the plain CMI. The paper's data distribution is not recorded; "
    "its MSE is compared with the paper's reading (direct)."
)
# An estimator whose mean estimate is below this share of the mean true CMI has collapsed.
COLLAPSED_SHARE = 0.25


def collapse_note(table: pd.DataFrame) -> str:
    """Which estimators collapse towards 0 at which settings, in words ('' when none)."""
    sentences = []
    dependent = table[table["truth_mean"] > 0.05]
    for (sweep, reading, phi), block in dependent.groupby(["sweep", "reading", "phi"], sort=False):
        collapsed = block[block["estimate_mean"] < COLLAPSED_SHARE * block["truth_mean"]]
        if collapsed.empty:
            continue
        settings = ", ".join(str(v) for v in collapsed["setting"])
        share = max(0.0, float((collapsed["estimate_mean"] / collapsed["truth_mean"]).max()))
        sentences.append(
            f"{variant_label(reading, phi)} ({SWEEP_LABELS[sweep]}, {SWEEPS[sweep]} = {settings}) "
            f"reads at most {share:.0%} of the true CMI on average"
        )
    if not sentences:
        return ""
    return (
        "Collapse: "
        + "; ".join(sentences)
        + ". There the estimate has collapsed towards 0 bits and its MSE is about the true "
        "CMI squared: a small MSE at those settings means the true CMI is small, not that "
        "the estimator measures it."
    )


def estimator_note(table: pd.DataFrame) -> str:
    """The study's caption: what the table holds, then any collapse in words."""
    return f"{NOTE} {collapse_note(table)}".strip()


def write_estimator_tables(
    raw_csv: str | Path, paper_csv: str | Path, out: StudyTables
) -> pd.DataFrame:
    """The summary, Markdown and LaTeX tables of the raw estimates."""
    table = summarise_estimator(pd.read_csv(raw_csv), read_paper_accuracy(paper_csv))
    headers, rows = estimator_cells(table)
    write_text(out.summary, table.to_csv(index=False))
    note = estimator_note(table)
    write_text(out.markdown, f"{note}\n\n{markdown_table(headers, rows)}\n")
    tex = latex.table(
        headers,
        rows,
        caption="Bias, MSE and rank correlation of the ACMI estimator's readings on Gaussian "
        "data, beside the paper's MSE.",
        label="tab:estimator-accuracy",
    )
    write_text(out.latex, latex.document([tex], note))
    return table
