"""Bias and MSE of the EDGE conditional MI estimator against the Gaussian closed form.

Mirrors the paper's estimator-accuracy figure (spec §9.4): MSE versus the number of
samples at dims (X, Y, Z) = (1, 1, 2), and versus the dimension d at N = 5000, for
phi = 1 and for the activation weight phi = exp(-||act||^2 / 2), printed next to the
paper's values. The paper does not record its data distribution; here each case is a
random correlation matrix blended with the identity (snacs.estimators.gaussian), with
``--strength`` for the N sweep. In the d sweep the dims are (d, d, d) and the strength
falls as 0.8 * sqrt(3 / d), which keeps the true CMI near 0.4-0.6 bits so that the sweep
isolates the effect of dimension rather than of a growing target.

Rows: the default estimator (direct reading with the null correction), the direct
reading without it (the estimator as the reference rules define it), the chain-rule
reading, and the exp-phi variant without and with the correction. The weighted variant
estimates a weighted CMI, not the CMI, so its "error" is a distance to the CMI.

A last table checks what ACMI needs, a ranking: in a synthetic layer pair each child
group depends on one parent group (planted, with strengths from weak to strong), and the
estimators score all (child, parent) groups; it reports how often the planted parent has
the highest score in its row and the AUC of planted versus other connections.

    python benchmarks/estimator_accuracy.py
    python benchmarks/estimator_accuracy.py --cases 5 --sizes 500 5000 --dims 3 10
"""

import argparse
import time

import numpy as np
import torch

from snacs.estimators import EdgeOptions, edge_cmi, edge_cmi_matrix, random_gaussian_cmi_case

# Paper's MSE values (spec §9.4): {setting: (phi = 1, phi = exp(-||act||^2 / 2))}.
PAPER_MSE_BY_SAMPLES = {
    500: (0.013949, 0.010517),
    1000: (0.011235, 0.007542),
    5000: (0.012011, 0.005638),
    10000: (0.009772, 0.003906),
    15000: (0.009533, 0.003648),
    20000: (0.008856, 0.003243),
    25000: (0.008773, 0.003036),
}
PAPER_MSE_BY_DIMENSION = {
    3: (0.082392, 0.033571),
    10: (0.196301, 0.047066),
    20: (0.257731, 0.062571),
    30: (0.301595, 0.076653),
    50: (0.329420, 0.080025),
}

VARIANTS = {
    "direct+null (default)": EdgeOptions(),
    "direct, no null": EdgeOptions(debias=False),
    "chain": EdgeOptions(method="chain"),
    "exp-phi, no null": EdgeOptions(activation_phi="exp_act", debias=False),
    "exp-phi+null": EdgeOptions(activation_phi="exp_act"),
}


def evaluate(
    dims: tuple[int, int, int], strength: float, n_samples: int, cases: int
) -> tuple[float, dict[str, tuple[float, float]]]:
    """(mean true CMI, {variant: (bias, MSE)}) over ``cases`` random covariances."""
    draws = [random_gaussian_cmi_case(dims, strength, seed, n_samples) for seed in range(cases)]
    truth = np.array([draw[3] for draw in draws])
    results = {}
    for name, options in VARIANTS.items():
        estimates = np.array([edge_cmi(x, y, z, options) for x, y, z, _ in draws])
        errors = estimates - truth
        results[name] = (float(errors.mean()), float(np.mean(errors**2)))
    return float(truth.mean()), results


def print_table(
    title: str,
    label: str,
    rows: list[tuple[int, float, dict[str, tuple[float, float]]]],
    paper: dict[int, tuple[float, float]],
) -> None:
    print(f"\n{title}")
    print("bias / MSE in bits, bits^2; paper columns are MSE (phi = 1, phi = exp)")
    header = f"{label:>6s} {'true':>6s}"
    for name in VARIANTS:
        header += f" | {name:>22s}"
    print(header + " | paper phi=1  paper exp")
    for setting, true_mean, results in rows:
        line = f"{setting:6d} {true_mean:6.3f}"
        for bias, mse in results.values():
            line += f" | {bias:+10.4f} {mse:10.5f} "
        reference = paper.get(setting)
        if reference:
            line += f" | {reference[0]:11.6f} {reference[1]:10.6f}"
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

    by_samples = [(n, *evaluate((1, 1, 2), args.strength, n, args.cases)) for n in args.sizes]
    print_table(
        f"MSE vs samples, dims (1,1,2), strength {args.strength}, {args.cases} cases",
        "N",
        by_samples,
        PAPER_MSE_BY_SAMPLES,
    )
    by_dimension = [
        (d, *evaluate((d, d, d), 0.8 * min(1.0, 3.0 / d) ** 0.5, 5000, args.cases))
        for d in args.dims
    ]
    print_table(
        f"MSE vs dimension, dims (d,d,d), N=5000, {args.cases} cases",
        "d",
        by_dimension,
        PAPER_MSE_BY_DIMENSION,
    )
    print_ranking(2000, 16, 8, seed=0)
    print(f"\n# {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
