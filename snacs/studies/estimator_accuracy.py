"""Accuracy of the ACMI estimator on Gaussian data with a known CMI (spec §9.4).

The paper plots the MSE of its estimator against the number of samples (dims
(X, Y, Z) = (1, 1, 2)) and against the dimension d (N = 5000), for phi = 1 and for the
activation weight phi = exp(-||act||^2 / 2). It does not record its data distribution;
here every case is a random jointly Gaussian covariance
(:func:`snacs.estimators.gaussian.random_gaussian_cmi_case`), whose CMI has a closed form:

* sample-size sweep: dims (1, 1, 2), dependence ``strength``; case k uses seed k at every
  N, so the true values stay fixed and only the sample size changes;
* dimension sweep: dims (d, d, d) at ``dimension_samples``, with the strength falling as
  ``dimension_strength * sqrt(3 / d)`` so that the true CMI stays near 0.4-0.6 bits and
  the sweep isolates the effect of dimension rather than of a growing target.

Both phi variants run the estimator the SNACS pruner uses (``EdgeOptions`` defaults plus
``estimator`` overrides). The weighted variant estimates a *weighted* CMI, so its error
against the plain CMI measures a distance, as in the paper's figure.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from snacs.errors import ConfigError
from snacs.estimators.edge import edge_cmi
from snacs.estimators.edge_options import EdgeOptions
from snacs.estimators.gaussian import random_gaussian_cmi_case
from snacs.io import write_text
from snacs.tabular import latex, markdown_table, read_reference_csv

PHIS = {"one": None, "exp_act": "exp_act"}
PHI_LABELS = {"one": "φ = 1", "exp_act": "φ = exp(-act²/2)"}
SWEEPS = {"samples": "N", "dimension": "d"}
SWEEP_LABELS = {"samples": "sample size", "dimension": "dimension"}


@dataclass(frozen=True)
class EstimatorSettings:
    """The ``studies.estimator`` config section (schema documents every field)."""

    sample_sizes: tuple[int, ...] = (500, 1000, 5000, 10000, 15000, 20000, 25000)
    dims: tuple[int, ...] = (3, 10, 20, 30, 50)
    dimension_samples: int = 5000
    cases: int = 10
    strength: float = 0.9
    dimension_strength: float = 0.8
    estimator: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> EstimatorSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in section.items() if k in known}
        for key in ("sample_sizes", "dims"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    def variants(self) -> dict[str, EdgeOptions]:
        """The estimator of each phi: the configured options, unweighted or exp-weighted."""
        values = dict(self.estimator)
        if "bandwidth_range" in values:
            values["bandwidth_range"] = tuple(values["bandwidth_range"])
        values.pop("activation_phi", None)
        try:
            return {name: EdgeOptions(**values, activation_phi=phi) for name, phi in PHIS.items()}
        except TypeError as exc:
            valid = [f.name for f in dataclasses.fields(EdgeOptions)]
            raise ConfigError(f"studies.estimator.estimator: {exc}; valid keys: {valid}") from None


def dimension_strength(d: int, base: float) -> float:
    """Strength at dims (d, d, d): ``base`` at d <= 3, falling as sqrt(3 / d) beyond."""
    return base * math.sqrt(min(1.0, 3.0 / d))


@dataclass(frozen=True)
class Setting:
    sweep: str  # "samples" or "dimension"
    value: int  # N or d
    dims: tuple[int, int, int]
    strength: float
    samples: int


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
    return by_samples + by_dimension


RAW_COLUMNS = [
    "sweep",
    "setting",
    "dim_x",
    "dim_y",
    "dim_z",
    "samples",
    "strength",
    "case",
    "phi",
    "truth_bits",
    "estimate_bits",
    "error_bits",
]


def run_estimator_study(
    settings: EstimatorSettings,
    progress: bool = True,
    variants: Mapping[str, EdgeOptions] | None = None,
) -> pd.DataFrame:
    """One row per (setting, case, variant): the true CMI, the estimate and their difference.

    ``variants`` names the estimators to compare (column ``phi``); by default the two phi
    variants of the configured estimator.
    """
    variants = settings.variants() if variants is None else variants
    rows = []
    jobs = [(s, case) for s in study_settings(settings) for case in range(settings.cases)]
    for setting, case in tqdm(jobs, desc="estimator study", disable=not progress, leave=False):
        x, y, z, truth = random_gaussian_cmi_case(
            setting.dims, setting.strength, case, setting.samples
        )
        for phi, options in variants.items():
            estimate = edge_cmi(x, y, z, options)
            rows.append(
                [
                    setting.sweep,
                    setting.value,
                    *setting.dims,
                    setting.samples,
                    setting.strength,
                    case,
                    phi,
                    truth,
                    estimate,
                    estimate - truth,
                ]
            )
    return pd.DataFrame(rows, columns=RAW_COLUMNS)


def read_paper_accuracy(path: str | Path) -> pd.DataFrame:
    """The paper's MSE values (``paper_figures/estimator_accuracy_paper.csv``)."""
    return read_reference_csv(path, ["sweep", "setting", "phi", "mse", "source"])


def summarise_estimator(raw: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """Per (sweep, setting, phi): cases, mean true CMI, bias, MSE, and the paper's MSE."""
    grouped = raw.groupby(["sweep", "setting", "phi"], sort=False)
    summary = pd.concat(
        [
            grouped["case"].count().rename("cases"),
            grouped["truth_bits"].mean().rename("truth_mean"),
            grouped["error_bits"].mean().rename("bias"),
            grouped["error_bits"].apply(lambda e: float((e**2).mean())).rename("mse"),
        ],
        axis=1,
    ).reset_index()
    reference = paper.set_index(["sweep", "setting", "phi"])["mse"].rename("paper_mse")
    return summary.join(reference, on=["sweep", "setting", "phi"])


def _value(value: float, digits: int = 4) -> str:
    return "–" if pd.isna(value) else f"{value:.{digits}f}"


def estimator_cells(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """One row per (sweep, setting) with bias and MSE of each phi beside the paper's MSE."""
    phis = [p for p in PHIS if p in set(table["phi"])]
    headers = ["Sweep", "Setting", "Cases", "True CMI (bits)"]
    for phi in phis:
        headers += [f"Bias {PHI_LABELS[phi]}", f"MSE {PHI_LABELS[phi]}"]
    headers += [f"Paper MSE {PHI_LABELS[phi]}" for phi in phis]
    rows = []
    for (sweep, setting), block in table.groupby(["sweep", "setting"], sort=False):
        by_phi = block.set_index("phi")
        first = block.iloc[0]
        cells = [SWEEP_LABELS[sweep], f"{SWEEPS[sweep]} = {setting}", str(first["cases"])]
        cells.append(_value(first["truth_mean"], 3))
        for phi in phis:
            cells += [f"{by_phi.at[phi, 'bias']:+.4f}", _value(by_phi.at[phi, "mse"], 5)]
        cells += [_value(by_phi.at[phi, "paper_mse"], 6) for phi in phis]
        rows.append(cells)
    return headers, rows


NOTE = (
    "Bias (bits) and MSE (bits²) of the estimator against the closed-form CMI of random "
    "jointly Gaussian cases; the sample-size sweep uses dims (1, 1, 2), the dimension sweep "
    "dims (d, d, d) at fixed N. The weighted variant estimates a weighted CMI, so its error "
    "is a distance to the plain CMI. The paper's data distribution is not recorded."
)


def write_estimator_tables(
    raw_csv: str | Path, paper_csv: str | Path, out_dir: str | Path
) -> pd.DataFrame:
    """estimator_summary.csv, estimator.md and estimator.tex from the raw estimates."""
    table = summarise_estimator(pd.read_csv(raw_csv), read_paper_accuracy(paper_csv))
    headers, rows = estimator_cells(table)
    out_dir = Path(out_dir)
    write_text(out_dir / "estimator_summary.csv", table.to_csv(index=False))
    write_text(out_dir / "estimator.md", f"{NOTE}\n\n{markdown_table(headers, rows)}\n")
    tex = latex.table(
        headers,
        rows,
        caption="Bias and MSE of the ACMI estimator on Gaussian data, beside the paper's MSE.",
        label="tab:estimator-accuracy",
    )
    write_text(out_dir / "estimator.tex", latex.document([tex], NOTE))
    return table
