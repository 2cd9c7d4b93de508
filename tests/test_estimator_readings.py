"""The estimator's readings on analytic cases: strong dependence, wide conditioning sets,
the (child group, parent group, other parents) shapes ACMI feeds it, and seed averaging."""

import numpy as np
import pytest
import torch
from scipy import stats

from snacs.algorithm.acmi import ScoreStability, seed_averaged_cmi
from snacs.estimators import EdgeOptions, edge_cmi
from snacs.estimators.gaussian import layer_shaped_cmi_case, random_gaussian_cmi_case
from snacs.estimators.residual import LayerPartialler, gaussian_copula
from snacs.estimators.second_pass import level_factor, second_pass_levels


def _strong_cases(count: int = 6):
    return [random_gaussian_cmi_case((1, 1, 2), 0.98, seed, 5000) for seed in range(count)]


def test_default_estimator_is_accurate_under_strong_dependence():
    """True CMI up to 1 bit: the reference EDGE (chain rule) has an MSE of about 0.05 here."""
    cases = _strong_cases()
    truths = np.array([truth for *_, truth in cases])
    assert truths.max() > 1.0
    errors = np.array([edge_cmi(x, y, z) for x, y, z, _ in cases]) - truths
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
    partialler = LayerPartialler(layer, child, ridge, copula=False)
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


def test_copula_transform_gives_normal_scores_and_keeps_the_order():
    values = torch.from_numpy(np.random.default_rng(0).exponential(size=(1000, 2)))
    scores = gaussian_copula(values)
    assert abs(float(scores.mean())) < 1e-9 and abs(float(scores.std()) - 1) < 0.01
    assert torch.equal(torch.argsort(scores[:, 0]), torch.argsort(values[:, 0]))


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
    assert residual >= 0.8
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
    options = EdgeOptions(seeds=3)
    cmi, retest = seed_averaged_cmi(
        child, child_ids, parent, parent_ids, options, torch.device("cpu")
    )
    single, none = seed_averaged_cmi(
        child, child_ids, parent, parent_ids, EdgeOptions(), torch.device("cpu")
    )
    assert none is None and cmi.shape == single.shape == (3, 4)
    assert 0.5 < retest <= 1.0
    assert not torch.equal(cmi, single)


def test_stability_is_the_connection_weighted_mean_of_layers():
    class Pair:
        def __init__(self, size: int, retest: float | None) -> None:
            self.cmi, self.retest = torch.zeros(size), retest

    stability = ScoreStability.of({"a": Pair(10, 0.5), "b": Pair(30, 0.9), "c": Pair(5, None)})
    assert stability.per_layer == {"a": 0.5, "b": 0.9}
    assert stability.overall == pytest.approx(0.8)
    assert ScoreStability.of({"c": Pair(5, None)}) is None
