"""Bias, MSE and rank correlation of EDGE CMI readings against the Gaussian closed form.

A wider comparison than the workflow's estimator study (``snacs.studies.estimator_accuracy``)
on the same cases and sweeps: MSE versus N at dims (1, 1, 2) and versus d at dims
(d, d, d), strong dependence (dims (1, 1, 2), true CMI up to about 1 bit) and layer-shaped
cases (X a child group, Y a parent group of 8, Z the other parents, where the plain MI
misranks the CMI), for these estimators:

* the direct reading with its null correction (the published SNACS reading) and without;
* the chain-rule reading, with and without the reference's second bandwidth pass
  (``normalize_epsilon``);
* the residual reading (Z partialled out by ridge least squares, MI over canonical pairs)
  with its null correction, without it, with the second pass, and with the residuals
  hashed jointly instead of as canonical pairs;
* the exp-phi weighting of the direct reading (it estimates a weighted CMI, so its
  "error" is a distance to the CMI).

It prints bias / MSE / Spearman per setting, the CPU time per call of each estimator,
and a ranking check on a synthetic layer pair (planted parent of each child group) with
the test-retest Spearman between two estimator seeds.

    python benchmarks/estimator_accuracy.py
    python benchmarks/estimator_accuracy.py --cases 5 --sizes 500 5000 --dims 3 10
"""

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from snacs.algorithm.acmi import spearman
from snacs.estimators.edge import EdgeOptions, edge_cmi, edge_cmi_matrix
from snacs.studies.estimator_accuracy import (
    EstimatorSettings,
    read_paper_accuracy,
    run_estimator_study,
    study_settings,
    summarise_estimator,
)

PAPER_CSV = Path(__file__).resolve().parents[1] / "paper_figures" / "estimator_accuracy_paper.csv"

VARIANTS = {
    ("direct+null", "one"): EdgeOptions(method="direct"),
    ("direct, no null", "one"): EdgeOptions(method="direct", debias=False),
    ("chain", "one"): EdgeOptions(method="chain"),
    ("chain+2nd pass", "one"): EdgeOptions(method="chain", normalize_epsilon=True),
    ("residual+null", "one"): EdgeOptions(method="residual"),
    ("residual, no null", "one"): EdgeOptions(method="residual", debias=False),
    ("residual+null+2nd pass", "one"): EdgeOptions(method="residual", normalize_epsilon=True),
    ("residual joint", "one"): EdgeOptions(method="residual", residual_mi="joint"),
    ("direct+null", "exp_act"): EdgeOptions(method="direct", activation_phi="exp_act"),
}


def _name(key: tuple[str, str]) -> str:
    return key[0] if key[1] == "one" else f"{key[0]} exp-phi"


def print_sweeps(settings: EstimatorSettings) -> None:
    raw = run_estimator_study(settings, progress=True, variants=VARIANTS)
    table = summarise_estimator(raw, read_paper_accuracy(PAPER_CSV))
    for sweep in ("samples", "dimension", "strong", "layer"):
        block = table[table["sweep"] == sweep]
        if block.empty:
            continue
        print(f"\n{sweep}, {settings.cases} cases: bias (bits) / MSE (bits^2) / Spearman")
        print(
            f"{'setting':>8s} {'true':>6s} {'MI rho':>6s}  "
            + "  ".join(f"{_name(key):>24s}" for key in VARIANTS)
        )
        for setting, rows in block.groupby("setting", sort=False):
            by_key = rows.set_index(["reading", "phi"])
            first = rows.iloc[0]
            line = f"{setting:8d} {first['truth_mean']:6.3f} {first['mi_spearman']:6.2f}  "
            line += "  ".join(
                f"{by_key.at[key, 'bias']:+7.3f} {by_key.at[key, 'mse']:7.4f} "
                f"{by_key.at[key, 'spearman']:+5.2f}"
                for key in VARIANTS
            )
            print(line, flush=True)


def print_speed(settings: EstimatorSettings, repeats: int = 5) -> None:
    """CPU seconds per call of each estimator on the first case of some settings."""
    print("\nCPU ms per call (process time; single-threaded)")
    chosen = [s for s in study_settings(settings) if s.sweep in ("strong", "layer")]
    print(f"{'estimator':>24s}  " + "  ".join(f"{s.sweep}:{s.value:>5d}" for s in chosen))
    for key, options in VARIANTS.items():
        cells = []
        for setting in chosen:
            x, y, z, *_ = setting.case(0)
            edge_cmi(x, y, z, options)  # compile / warm caches
            started = time.process_time()
            for _ in range(repeats):
                edge_cmi(x, y, z, options)
            cells.append(f"{1e3 * (time.process_time() - started) / repeats:11.1f}")
        print(f"{_name(key):>24s}  " + "  ".join(cells), flush=True)


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
        "\nvariant                   argmax hit   AUC(planted > other)   Spearman(seed, seed+1)"
    )
    is_other = np.ones((groups, groups), dtype=bool)
    is_other[np.arange(groups), source] = False
    for key, options in VARIANTS.items():
        name = _name(key)
        scores = edge_cmi_matrix(child, ids, parent, ids, options)
        retest = edge_cmi_matrix(
            child, ids, parent, ids, dataclasses.replace(options, seed=options.seed + 1)
        )
        planted = scores[np.arange(groups), source]
        others = scores[is_other]
        auc = float(np.mean(planted[:, None] > others[None, :]))
        hit = float(np.mean(scores.argmax(axis=1) == source))
        stable = spearman(torch.from_numpy(scores), torch.from_numpy(retest))
        print(f"{name:24s} {hit:10.2f}   {auc:8.3f}   {stable:8.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10, help="random covariances per row")
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 5000, 10000, 20000])
    parser.add_argument("--dims", type=int, nargs="+", default=[3, 10, 20, 30, 50])
    parser.add_argument("--strength", type=float, default=0.9, help="N sweep, dims (1,1,2)")
    parser.add_argument("--strong-samples", type=int, default=5000)
    parser.add_argument("--skip-sweeps", action="store_true", help="only speed and ranking")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    settings = EstimatorSettings(
        sample_sizes=tuple(args.sizes),
        dims=tuple(args.dims),
        cases=args.cases,
        strength=args.strength,
        strong_samples=args.strong_samples,
    )
    if not args.skip_sweeps:
        print_sweeps(settings)
    print_speed(settings)
    print_ranking(2000, 16, 8, seed=0)
    print(f"\n# {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
