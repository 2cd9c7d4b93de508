"""Outside probes of edge_mi / edge_cmi / edge_cmi_matrix on every reading.

Hard cases a user (or SNACS's activations) can feed: conditional independence under
strong marginal dependence, explaining away, identical variables, conditioning sets wider
than the sample, degenerate columns, extreme units, tiny samples and mixed input types.
"""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from snacs.estimators.edge import EdgeOptions, edge_cmi, edge_cmi_matrix, edge_mi

READINGS = ["direct", "chain", "residual"]


def _common_cause(n: int, seed: int, link: float = 1.0) -> tuple[np.ndarray, ...]:
    """X and Y share Z and (with weight ``link``) a term E that Z does not explain."""
    rng = np.random.default_rng(seed)
    z, shared = rng.standard_normal(n), rng.standard_normal(n)
    x = z + link * shared + 0.3 * rng.standard_normal(n)
    y = z + link * shared + 0.3 * rng.standard_normal(n)
    return x, y, z


@pytest.mark.parametrize("method", READINGS)
@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_estimates_do_not_depend_on_units(method, scale):
    x, y, z = _common_cause(800, seed=0)
    wide_x = np.c_[x, x[:, None] + np.random.default_rng(1).standard_normal((800, 7))]  # projected
    reference = edge_cmi(wide_x, y, z, method=method)
    assert reference > 0.1
    assert edge_cmi(wide_x * scale, y, z, method=method) == pytest.approx(reference, abs=0.02)
    assert edge_cmi(wide_x, y * scale, z, method=method) == pytest.approx(reference, abs=0.02)
    assert edge_cmi(wide_x, y, z * scale, method=method) == pytest.approx(reference, abs=0.02)


@pytest.mark.parametrize("method", ["direct", "residual"])
def test_conditional_independence_reads_far_below_the_strong_marginal_dependence(method):
    x, y, z = _common_cause(1000, seed=2, link=0.0)  # X ⊥ Y | Z, I(X;Y) about 1.3 bits
    assert edge_mi(x, y, method=method) > 0.8
    assert abs(edge_cmi(x, y, z, method=method)) < 0.1


def test_explaining_away_is_read_as_strong_conditional_dependence():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal(1000), rng.standard_normal(1000)
    z = x + y + 0.1 * rng.standard_normal(1000)  # true I(X;Y|Z) = 2.8 bits, I(X;Y) = 0
    assert abs(edge_mi(x, y)) < 0.05
    assert edge_cmi(x, y, z, method="residual") > 1.0
    # The published direct reading sees the dependence but, hashing Z's fine structure
    # into coarse buckets, reads well under the truth.
    assert edge_cmi(x, y, z) > 0.2


@pytest.mark.parametrize(("method", "floor"), [("direct", 1.0), ("chain", 0.3), ("residual", 1.0)])
def test_identical_variables_give_a_large_finite_estimate(method, floor):
    rng = np.random.default_rng(4)
    x, z = rng.standard_normal(600), rng.standard_normal((600, 3))
    value = edge_cmi(x, x, z, method=method)
    assert np.isfinite(value) and floor < value <= EdgeOptions().cap


@pytest.mark.parametrize("method", READINGS)
def test_degenerate_and_over_wide_inputs_stay_finite(method):
    rng = np.random.default_rng(5)
    n = 120
    x, y, z = _common_cause(n, seed=6)
    wide_z = np.c_[z, rng.standard_normal((n, 200)), np.ones(n), np.zeros(n), z]  # W > N
    relu_z = np.maximum(wide_z - 1.0, 0.0)  # mostly exact zeros, as ReLU layers give
    for values in (
        edge_cmi(x, y, wide_z, method=method),
        edge_cmi(np.c_[x, x, np.ones(n)], y, relu_z, method=method),
        edge_cmi(np.round(x * 2), np.round(y * 2), np.round(z * 2), method=method),
    ):
        assert np.isfinite(values)
    assert edge_cmi(np.full(n, 3.0), y, z, method=method) == pytest.approx(0.0, abs=0.01)


@pytest.mark.parametrize("method", READINGS)
def test_input_types_and_shapes_give_the_same_estimate(method):
    x, y, z = _common_cause(300, seed=7)
    as_numpy = edge_cmi(x, y, z, method=method)
    as_torch32 = edge_cmi(
        *(torch.tensor(v[:, None], dtype=torch.float32) for v in (x, y, z)), method=method
    )
    assert as_torch32 == pytest.approx(as_numpy, abs=0.02)
    assert edge_cmi(x, y, np.zeros((300, 0)), method=method) == edge_mi(x, y, method=method)
    assert np.isfinite(edge_cmi(x[:20], y[:20], z[:20], method=method))


@pytest.mark.parametrize("method", READINGS)
def test_estimates_rise_with_the_true_conditional_mi_and_are_symmetric(method):
    rng = np.random.default_rng(8)
    estimates, truths = [], []
    for rho in np.linspace(0.0, 0.95, 6):
        z, a = rng.standard_normal(800), rng.standard_normal(800)
        b = rho * a + np.sqrt(1 - rho**2) * rng.standard_normal(800)
        estimates.append(edge_cmi(a + z, b + z, z, method=method))
        truths.append(-0.5 * np.log2(1 - rho**2))
    assert spearmanr(estimates, truths)[0] >= 0.9
    x, y, z = _common_cause(800, seed=9)
    forward, backward = edge_cmi(x, y, z, method=method), edge_cmi(y, x, z, method=method)
    assert forward == pytest.approx(backward, abs=0.06)


@pytest.mark.parametrize("method", READINGS)
def test_matrix_entries_equal_scalar_calls_and_repeat_exactly(method):
    rng = np.random.default_rng(10)
    child, parent = rng.standard_normal((400, 4)), rng.standard_normal((400, 9)) * 1e-5
    child[:, :2] = 1e5 * parent[:, :1] + 0.3 * child[:, :2]  # group 0 reads parent column 0
    options = EdgeOptions(method=method)
    matrix = edge_cmi_matrix(child, [0, 0, 1, 1], parent, [0, 0, 0, 1, 1, 1, 2, 2, 2], options)
    assert np.isfinite(matrix).all()
    again = edge_cmi_matrix(child, [0, 0, 1, 1], parent, [0] * 3 + [1] * 3 + [2] * 3, options)
    assert np.array_equal(matrix, again)
    scalar = edge_cmi(child[:, :2], parent[:, :3], parent[:, 3:], options)
    assert matrix[0, 0] == pytest.approx(scalar, rel=1e-9, abs=1e-12)
    assert matrix[0, 0] > matrix[1, 0] + 0.1


def test_second_pass_of_the_direct_reading_keeps_conditioning_on_z():
    """Narrowing Z's buckets with X's and Y's left about one sample per Z bucket."""
    rng = np.random.default_rng(11)
    x, z = rng.standard_normal(1000), rng.standard_normal((1000, 3))
    noisy = x + 0.3 * rng.standard_normal(1000)  # true I(X; Y | Z) = 1.9 bits
    once = edge_cmi(x, noisy, z, method="direct")
    twice = edge_cmi(x, noisy, z, method="direct", normalize_epsilon=True)
    assert twice > 0.6 * once > 0.4
    assert edge_cmi(x, x, z, method="direct", normalize_epsilon=True) > once


@pytest.mark.parametrize("cap", [10.0, 2.0])
def test_residual_reading_sum_over_pairs_stays_under_the_cap(cap):
    rng = np.random.default_rng(12)
    x, z = rng.standard_normal((400, 8)), rng.standard_normal((400, 3))
    value = edge_cmi(x, x, z, method="residual", cap=cap)  # 8 identical pairs
    assert 0.8 * cap < value <= cap
