"""Bias and MSE of EDGE CMI readings against the Gaussian closed form, and their ranking.

A wider comparison than the workflow's estimator study (``snacs.studies.estimator_accuracy``,
spec §9.4), on the same random Gaussian cases and sweeps: MSE versus N at dims (1, 1, 2)
and versus d at dims (d, d, d), for five estimator variants, printed beside the paper's
MSE (``paper_figures/estimator_accuracy_paper.csv``):

* the default (direct reading with the null correction) and the direct reading without
  it (the estimator as the reference rules define it);
* the chain-rule reading;
* the exp-phi weighting without and with the correction (it estimates a weighted CMI,
  so its "error" is a distance to the CMI).

A last table checks what ACMI needs, a ranking: in a synthetic layer pair each child
group depends on one parent group (planted, with strengths from weak to strong), and the
variants score all (child, parent) groups; it reports how often the planted parent has
the highest score in its row and the AUC of planted versus other connections.

    python benchmarks/estimator_accuracy.py
    python benchmarks/estimator_accuracy.py --cases 5 --sizes 500 5000 --dims 3 10
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from snacs.estimators import EdgeOptions, edge_cmi_matrix
from snacs.studies.estimator_accuracy import (
    EstimatorSettings,
    read_paper_accuracy,
    run_estimator_study,
    summarise_estimator,
)

PAPER_CSV = Path(__file__).resolve().parents[1] / "paper_figures" / "estimator_accuracy_paper.csv"

VARIANTS = {
    "direct+null (default)": EdgeOptions(),
    "direct, no null": EdgeOptions(debias=False),
    "chain": EdgeOptions(method="chain"),
    "exp-phi, no null": EdgeOptions(activation_phi="exp_act", debias=False),
    "exp-phi+null": EdgeOptions(activation_phi="exp_act"),
}


def print_sweeps(settings: EstimatorSettings) -> None:
    raw = run_estimator_study(settings, progress=True, variants=VARIANTS)
    paper_rows = read_paper_accuracy(PAPER_CSV)
    table = summarise_estimator(raw, paper_rows)  # variant names match no paper row
    paper = paper_rows.pivot(index=["sweep", "setting"], columns="phi", values="mse")
    for sweep, label in (("samples", "N"), ("dimension", "d")):
        print(f"\n{sweep} sweep, {settings.cases} cases: bias (bits) / MSE (bits^2)")
        header = f"{label:>6s} {'true':>6s}"
        header += "".join(f" | {name:>22s}" for name in VARIANTS)
        print(header + " | paper phi=1  paper exp")
        for setting, block in table[table["sweep"] == sweep].groupby("setting", sort=False):
            by_variant = block.set_index("phi")
            line = f"{setting:6d} {block['truth_mean'].iloc[0]:6.3f}"
            for name in VARIANTS:
                bias, mse = by_variant.at[name, "bias"], by_variant.at[name, "mse"]
                line += f" | {bias:+10.4f} {mse:10.5f} "
            if (sweep, setting) in paper.index:
                reported = paper.loc[(sweep, setting)]
                line += f" | {reported['one']:11.6f} {reported['exp_act']:10.6f}"
            print(line, flush=True)


def planted_layer_pair(
    n_samples: int, groups: int, width: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(parent, child, source): child group c depends on parent group source[c] only.

    child_c = relu(s_c * parent_source[c] @ W_c + noise), strengths s_c from 0.2 to 2.
    """
    rng = np.random.default_rng(seed)
    parent = rng.standard_normal((n_samples, groups * width))
    source = rng.permutation(groups)
    child = np.empty_like(parent)
    for c, strength in enumerate(np.linspace(0.2, 2.0, groups)):
        own = parent[:, source[c] * width : (source[c] + 1) * width]
        mixed = own @ rng.standard_normal((width, width)) / np.sqrt(width)
        noise = rng.standard_normal((n_samples, width))
        child[:, c * width : (c + 1) * width] = np.maximum(strength * mixed + noise, 0)
    return parent, child, source


def print_ranking(n_samples: int, groups: int, width: int, seed: int) -> None:
    parent, child, source = planted_layer_pair(n_samples, groups, width, seed)
    ids = np.arange(groups * width) // width
    print(
        f"\nRanking planted connections: {groups}x{groups} groups of {width}, N={n_samples}"
        "\nvariant                   argmax hit   AUC(planted > other)"
    )
    is_other = np.ones((groups, groups), dtype=bool)
    is_other[np.arange(groups), source] = False
    for name, options in VARIANTS.items():
        scores = edge_cmi_matrix(child, ids, parent, ids, options)
        planted = scores[np.arange(groups), source]
        others = scores[is_other]
        auc = float(np.mean(planted[:, None] > others[None, :]))
        hit = float(np.mean(scores.argmax(axis=1) == source))
        print(f"{name:24s} {hit:10.2f}   {auc:8.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10, help="random covariances per row")
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 5000, 10000, 20000])
    parser.add_argument("--dims", type=int, nargs="+", default=[3, 10, 20, 30, 50])
    parser.add_argument("--strength", type=float, default=0.9, help="N sweep, dims (1,1,2)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    settings = EstimatorSettings(
        sample_sizes=tuple(args.sizes),
        dims=tuple(args.dims),
        cases=args.cases,
        strength=args.strength,
    )
    print_sweeps(settings)
    print_ranking(2000, 16, 8, seed=0)
    print(f"\n# {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
