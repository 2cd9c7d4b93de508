"""The estimator's readings on analytic cases: strong dependence, wide conditioning sets,
the (child group, parent group, other parents) shapes ACMI feeds it, and seed averaging."""

import dataclasses
import math
from collections import Counter

import numpy as np
import pytest
import torch
from scipy import stats

from snacs.algorithm.acmi import ScoreStability, seed_averaged_cmi
from snacs.estimators.edge import EdgeOptions, compiled, edge_cmi, edge_mi
from snacs.estimators.edge.estimates import pair_estimates
from snacs.estimators.edge.hashing import BlockCodes
from snacs.estimators.edge.residual import LayerPartialler
from snacs.estimators.edge.second_pass import level_factor, second_pass_levels
from snacs.studies.gaussian_cases import layer_shaped_cmi_case, random_gaussian_cmi_case


def _strong_cases(count: int = 6):
    return [random_gaussian_cmi_case((1, 1, 2), 0.98, seed, 5000) for seed in range(count)]


def test_residual_reading_is_accurate_under_strong_dependence():
    """True CMI up to 1 bit: the reference EDGE (chain rule) has an MSE of about 0.05 here,
    the published direct reading (the default) about 0.1."""
    cases = _strong_cases()
    truths = np.array([truth for *_, truth in cases])
    assert truths.max() > 1.0
    errors = np.array([edge_cmi(x, y, z, method="residual") for x, y, z, _ in cases]) - truths
    assert np.mean(errors**2) < 0.03
    assert abs(errors[np.argmax(truths)]) < 0.3  # the strongest case is not read as ~0.4


def test_second_pass_narrows_buckets_for_strong_and_widens_for_weak_dependence():
    levels = second_pass_levels(torch.tensor([1.5, 0.3, 0.01, -0.2]))
    factors = [level_factor(int(level)) for level in levels]
    assert factors[0] < 0.5 < factors[1] and factors[2] == factors[3] == 2.0**8
    x, y, z, truth = _strong_cases()[4]
    assert truth > 1.0
    once = edge_cmi(x, y, z, method="chain")
    twice = edge_cmi(x, y, z, method="chain", normalize_epsilon=True)
    assert abs(twice - truth) < abs(once - truth) - 0.3


def test_residual_partialling_equals_a_ridge_regression_on_the_other_columns():
    rng = np.random.default_rng(3)
    layer = torch.from_numpy(rng.normal(size=(300, 40)) @ rng.normal(size=(40, 40)))
    child = torch.from_numpy(rng.normal(size=(300, 5))) + layer[:, :5]
    ridge = 0.5
    partialler = LayerPartialler(layer, child, ridge)
    columns = torch.arange(8, 16)
    child_residual, parent_residual = partialler.residuals(columns)
    standard = (layer - layer.mean(0)) / layer.std(0, unbiased=False)
    rest = standard[:, [i for i in range(40) if i not in range(8, 16)]]
    penalty = ridge * 40 * torch.eye(rest.shape[1], dtype=torch.float64)

    def residual(target: torch.Tensor) -> torch.Tensor:
        target = target - target.mean(0)
        return target - rest @ torch.linalg.solve(rest.T @ rest + penalty, rest.T @ target)

    torch.testing.assert_close(parent_residual, residual(standard[:, 8:16]), atol=1e-6, rtol=0)
    torch.testing.assert_close(child_residual, residual(child), atol=1e-6, rtol=0)


@pytest.mark.parametrize(("child_dim", "rest_dim"), [(1, 56), (8, 248)])
def test_residual_ranks_conditional_mi_where_the_plain_mi_misranks_it(child_dim, rest_dim):
    """Layer-shaped cases: X a child group, Y a parent group of 8, Z the other parents."""
    rng = np.random.default_rng(rest_dim)
    cases = [
        layer_shaped_cmi_case(child_dim, rest_dim, rng.uniform(0, 0.6), rng.uniform(0.5, 3), k)
        for k in range(8)
    ]
    truth = [case[3] for case in cases]
    assert stats.spearmanr([case[4] for case in cases], truth).statistic < 0.8

    def rank_correlation(method: str) -> float:
        estimates = [edge_cmi(x, y, z, method=method) for x, y, z, *_ in cases]
        return stats.spearmanr(estimates, truth).statistic

    residual = rank_correlation("residual")
    assert residual >= 0.9
    assert residual > rank_correlation("direct") + 0.2
    assert residual > rank_correlation("chain") + 0.2


def test_seed_averaging_reports_retest_stability():
    rng = np.random.default_rng(1)
    parent = torch.from_numpy(rng.normal(size=(800, 32)))
    mixing = np.zeros((32, 24))  # child group c reads parent group c at strength c + 1
    for c in range(3):
        mixing[8 * c : 8 * c + 8, 8 * c : 8 * c + 8] = (c + 1) * rng.normal(size=(8, 8)) / 3
    noise = torch.from_numpy(rng.normal(size=(800, 24)))
    child = torch.relu(parent @ torch.from_numpy(mixing) + noise)
    child_ids, parent_ids = torch.arange(24) // 8, torch.arange(32) // 8
    options = EdgeOptions(method="residual", seeds=3)
    cmi, retest = seed_averaged_cmi(
        child, child_ids, parent, parent_ids, options, torch.device("cpu")
    )
    single, none = seed_averaged_cmi(
        child, child_ids, parent, parent_ids, EdgeOptions(method="residual"), torch.device("cpu")
    )
    assert none is None and cmi.shape == single.shape == (3, 4)
    assert 0.5 < retest <= 1.0
    assert not torch.equal(cmi, single)


def test_stability_is_the_connection_weighted_mean_of_layers():
    class Pair:
        def __init__(self, size: int, retest: float | None) -> None:
            self.cmi, self.retest = torch.zeros(size), retest

    pairs = {"a": Pair(10, 0.5), "b": Pair(30, 0.9), "c": Pair(5, None), "d": Pair(9, math.nan)}
    stability = ScoreStability.of(pairs)
    assert stability.per_layer == {"a": 0.5, "b": 0.9}
    assert stability.overall == pytest.approx(0.8)
    assert ScoreStability.of({"c": Pair(5, None)}) is None


@pytest.mark.parametrize("compiled_kernels", [True, False])
def test_pair_counts_equal_dictionary_counting_with_clipping(compiled_kernels, monkeypatch):
    if not compiled_kernels:
        monkeypatch.setattr(compiled, "COMPILED_DEVICE_TYPES", ())
    rng = np.random.default_rng(7)
    n_members, n_pairs, n = 3, 5, 400
    x_ids = rng.integers(0, 6, size=(n_members, n_pairs, n))
    y_ids = (x_ids + rng.integers(0, 3, size=x_ids.shape)) % 7  # dependent, some cells empty
    y_ids[:, 0] = rng.integers(0, 40, size=(n_members, n))  # sparse: terms hit the clip
    options = EdgeOptions(cap=1.5, debias=False)

    def codes(ids: np.ndarray) -> BlockCodes:
        tensor = torch.from_numpy(ids).to(torch.int32)
        return BlockCodes(tensor, torch.from_numpy(ids.max(axis=2) + 1), None)

    fast = pair_estimates(codes(x_ids), codes(y_ids), options).numpy()
    shuffled_null = pair_estimates(
        codes(x_ids), codes(y_ids), dataclasses.replace(options, debias=True)
    )
    assert (shuffled_null.numpy() < fast).all()
    for member in range(n_members):
        for pair in range(n_pairs):
            xs, ys = x_ids[member, pair], y_ids[member, pair]
            joint = Counter(zip(xs.tolist(), ys.tolist(), strict=True))
            nx, ny = Counter(xs.tolist()), Counter(ys.tolist())
            slow = sum(
                count * min(max(math.log2(count * n / (nx[a] * ny[b])), 0.001), 1.5)
                for (a, b), count in joint.items()
            )
            assert fast[member, pair] == pytest.approx(slow / n, rel=1e-12)


def test_canonical_pairs_recover_the_mutual_information_of_gaussian_blocks():
    """MI of 3 + 3 dims with canonical correlations 0.9, 0.6, 0 is a sum of 1-D terms."""
    rng = np.random.default_rng(11)
    rho = np.array([0.9, 0.6, 0.0])
    u = rng.normal(size=(5000, 3))
    v = rho * u + np.sqrt(1 - rho**2) * rng.normal(size=(5000, 3))
    x = u @ rng.normal(size=(3, 3))  # invertible mixing leaves the MI unchanged
    y = v @ rng.normal(size=(3, 3)) + 5.0
    truth = float(-0.5 * np.log2(1 - rho**2).sum())
    canonical = edge_mi(x, y, method="residual")
    joint = edge_mi(x, y, method="residual", residual_mi="joint")
    assert canonical == pytest.approx(truth, abs=0.2)
    assert abs(canonical - truth) < abs(joint - truth)
