"""Tests of the EDGE hashed (conditional) mutual-information estimator."""

import dataclasses
import math
from collections import Counter

import numpy as np
import pytest
import torch

from snacs.errors import ConfigError
from snacs.estimators.edge import (
    EdgeOptions,
    compiled,
    edge_cmi,
    edge_cmi_groups,
    edge_cmi_matrix,
    edge_mi,
)
from snacs.estimators.edge.bandwidth import knn_order, mean_knn_distance, query_indices
from snacs.estimators.edge.estimates import (
    _random_order,
    _shuffle_within_buckets,
    conditional_estimates,
)
from snacs.estimators.edge.hashing import BlockCodes, dense_bucket_ids
from snacs.estimators.edge.projection import LayerProjector, Stream, projected_width
from snacs.studies.gaussian_cases import gaussian_cmi_bits, random_gaussian_cmi_case


@pytest.fixture(params=["compiled", "torch"])
def backend(request, monkeypatch):
    """Run a test with the compiled CPU kernels and again with the torch passes."""
    if request.param == "torch":
        monkeypatch.setattr(compiled, "COMPILED_DEVICE_TYPES", ())
    return request.param


def _conditionally_independent(n: int, seed: int):
    """X and Y both driven by Z (dependent marginally), independent given Z."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    x = z[:, :1] + 0.5 * z[:, 1:] + rng.normal(size=(n, 1))
    y = z[:, :1] - 0.5 * z[:, 1:] + rng.normal(size=(n, 1))
    return x, y, z


def _with_conditional_link(strength: float, n: int, seed: int):
    """Like the above plus a shared term U: I(X;Y|Z) grows with ``strength``."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    u = rng.normal(size=(n, 1))
    x = z[:, :1] + strength * u + 0.5 * rng.normal(size=(n, 1))
    y = z[:, 1:] + strength * u + 0.5 * rng.normal(size=(n, 1))
    return x, y, z


def _layer_pair(n: int = 400, seed: int = 0):
    """Parent [n, 32] and child [n, 24] activations with real dependence."""
    rng = np.random.default_rng(seed)
    parent = rng.normal(size=(n, 32))
    child = np.maximum(parent @ rng.normal(size=(32, 24)) / 4 + 0.3 * rng.normal(size=(n, 24)), 0)
    return child, parent


# ----------------------------------------------------------------------------- statistics


def test_near_zero_under_conditional_independence_although_marginally_dependent():
    x, y, z = _conditionally_independent(3000, seed=1)
    assert edge_mi(x, y) > 0.05  # X and Y share Z (true MI 0.11 bits)
    assert abs(edge_cmi(x, y, z)) < 0.04
    assert edge_cmi(x, y, z, method="chain") < 0.05


def test_increases_with_dependence_strength():
    estimates = [edge_cmi(*_with_conditional_link(s, 3000, seed=2)) for s in (0.0, 0.5, 1.0, 2.0)]
    assert all(b > a for a, b in zip(estimates, estimates[1:], strict=False)), estimates
    assert estimates[-1] > 0.5


def test_mi_of_correlated_gaussians_is_close_to_the_closed_form():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5000, 1))
    y = 0.8 * x + 0.6 * rng.normal(size=(5000, 1))  # correlation 0.8
    truth = -0.5 * math.log2(1 - 0.8**2)
    assert edge_mi(x, y) == pytest.approx(truth, abs=0.2)


def test_mse_on_gaussian_cases_matches_the_reference_accuracy():
    """Dims (1,1,2), N=5000: the reference EDGE (chain rule) reaches an MSE of about 0.03."""
    cases = [random_gaussian_cmi_case((1, 1, 2), 0.9, seed, 5000) for seed in range(5)]
    errors = [edge_cmi(x, y, z, method="direct") - truth for x, y, z, truth in cases]
    assert np.mean(np.square(errors)) < 0.03
    raw = [edge_cmi(x, y, z, method="direct", debias=False) - truth for x, y, z, truth in cases]
    assert np.mean(raw) > np.mean(errors)  # the null correction removes upward bias


def test_chain_reading_is_never_negative():
    x, y, z = _conditionally_independent(1000, seed=4)
    assert edge_cmi(x, y, z, method="chain") >= 0.0


def test_activation_phi_variants_change_the_estimate():
    x, y, z = _with_conditional_link(1.0, 2000, seed=5)
    plain = edge_cmi(x, y, z, method="direct", debias=False)
    weighted = {
        phi: edge_cmi(x, y, z, method="direct", activation_phi=phi, debias=False)
        for phi in ("act", "exp_act")
    }
    assert all(math.isfinite(v) for v in weighted.values())
    assert 0 < weighted["exp_act"] < plain  # weights exp(-p^2/2) are at most 1
    assert weighted["act"] != pytest.approx(plain)


# ------------------------------------------------------------------- determinism, invariance


def test_deterministic_for_a_seed_and_seed_matters_for_projected_blocks():
    x, y, z = _with_conditional_link(1.0, 1500, seed=6)
    wide_z = np.hstack([z, np.random.default_rng(0).normal(size=(1500, 8))])
    first = edge_cmi(x, y, wide_z, seed=11)
    assert edge_cmi(x, y, wide_z, seed=11) == first
    assert edge_cmi(x, y, wide_z, seed=12) != first


def test_approximately_invariant_to_permuting_samples():
    x, y, z = _with_conditional_link(1.0, 3000, seed=7)
    perm = np.random.default_rng(8).permutation(3000)
    assert edge_cmi(x[perm], y[perm], z[perm]) == pytest.approx(edge_cmi(x, y, z), abs=0.05)


def test_accepts_torch_tensors_and_numpy_alike():
    x, y, z = _with_conditional_link(1.0, 800, seed=9)
    as_tensors = edge_cmi(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(z))
    assert as_tensors == edge_cmi(x, y, z)
    assert edge_cmi(x[:, 0], y[:, 0], z) == edge_cmi(x, y, z)  # 1-D inputs are columns


# ------------------------------------------------------------------------------ batched API


@pytest.mark.parametrize(
    ("child_width", "parent_width", "options"),
    [
        (3, 8, EdgeOptions()),
        (8, 4, EdgeOptions(method="chain")),
        (1, 16, EdgeOptions(method="direct", activation_phi="exp_act")),
        (8, 8, EdgeOptions(combine="average", ensemble_size=3, debias=False)),
        (3, 8, EdgeOptions(method="direct", normalize_epsilon=True)),
        (8, 4, EdgeOptions(method="chain", normalize_epsilon=True)),
        (8, 8, EdgeOptions(method="residual", normalize_epsilon=True, residual_mi="joint")),
    ],
)
def test_matrix_columns_equal_per_group_calls_exactly(child_width, parent_width, options):
    child, parent = _layer_pair()
    child_ids, parent_ids = np.arange(24) // child_width, np.arange(32) // parent_width
    matrix = edge_cmi_matrix(child, child_ids, parent, parent_ids, options)
    assert matrix.shape == (24 // child_width, 32 // parent_width)
    for g in range(matrix.shape[1]):
        column = edge_cmi_groups(child, child_ids, parent, parent_ids, g, options)
        np.testing.assert_array_equal(matrix[:, g], column)


@pytest.mark.parametrize("method", ["direct", "chain", "residual"])
def test_scalar_call_equals_the_entry_of_a_layers_first_group(method):
    # edge_cmi treats [Y | Z] as the layer, so a first group with narrow child blocks
    # (projected the same way in both calls) gives bit-identical estimates
    child, parent = _layer_pair()
    child_ids, parent_ids = np.arange(24) // 3, np.arange(32) // 8
    options = EdgeOptions(method=method)
    matrix = edge_cmi_matrix(child, child_ids, parent, parent_ids, options)
    for c in range(matrix.shape[0]):
        x = child[:, child_ids == c]
        scalar = edge_cmi(x, parent[:, :8], parent[:, 8:], options)
        if method == "residual":  # pair tables sized by the batch: sums in another order
            assert matrix[c, 0] == pytest.approx(scalar, rel=1e-12, abs=1e-15)
        else:
            assert matrix[c, 0] == scalar


@pytest.mark.parametrize(
    "options",
    [
        EdgeOptions(),
        EdgeOptions(method="chain"),
        EdgeOptions(method="direct", activation_phi="act"),
        EdgeOptions(method="direct", activation_phi="act_sq", debias=False, combine="average"),
        EdgeOptions(method="direct", normalize_epsilon=True),
        EdgeOptions(method="residual", debias=True),
    ],
)
def test_compiled_kernels_and_torch_passes_give_the_same_matrix(options, monkeypatch):
    child, parent = _layer_pair()
    child_ids, parent_ids = np.arange(24) // 8, np.arange(32) // 4
    fast = edge_cmi_matrix(child, child_ids, parent, parent_ids, options)
    monkeypatch.setattr(compiled, "COMPILED_DEVICE_TYPES", ())
    reference = edge_cmi_matrix(child, child_ids, parent, parent_ids, options)
    np.testing.assert_allclose(fast, reference, rtol=0, atol=1e-6)  # torch sums float32 logs


def test_single_column_and_index_list_groups_match_the_matrix():
    child, parent = _layer_pair()
    child_ids, parent_ids = np.arange(24) // 8, np.arange(32) // 8
    matrix = edge_cmi_matrix(child, child_ids, parent, parent_ids)
    as_lists = [list(range(8 * i, 8 * i + 8)) for i in range(3)]
    column = edge_cmi_groups(child, as_lists, parent, parent_ids, 2)
    np.testing.assert_array_equal(column, matrix[:, 2])


def test_matrix_finds_the_parent_group_each_child_group_depends_on():
    rng = np.random.default_rng(10)
    n, groups, width = 1500, 4, 8
    parent = rng.normal(size=(n, groups * width))
    source = [2, 0, 3, 1]
    child = np.hstack(
        [
            np.maximum(parent[:, g * width : (g + 1) * width] @ rng.normal(size=(width, width)), 0)
            + 0.5 * rng.normal(size=(n, width))
            for g in source
        ]
    )
    ids = np.arange(groups * width) // width
    matrix = edge_cmi_matrix(child, ids, parent, ids)
    assert list(matrix.argmax(axis=1)) == source


def test_parallel_workers_give_identical_results():
    child, parent = _layer_pair()
    ids_c, ids_p = np.arange(24) // 8, np.arange(32) // 4
    serial = edge_cmi_matrix(child, ids_c, parent, ids_p)
    np.testing.assert_array_equal(edge_cmi_matrix(child, ids_c, parent, ids_p, workers=3), serial)


def test_single_parent_group_reduces_to_mutual_information():
    child, parent = _layer_pair()
    matrix = edge_cmi_matrix(child, np.zeros(24, dtype=int), parent[:, :5], np.zeros(5, dtype=int))
    assert matrix[0, 0] == edge_mi(child, parent[:, :5])


def test_explicit_cpu_device_and_cuda_when_available():
    child, parent = _layer_pair(n=300)
    ids_c, ids_p = np.arange(24) // 8, np.arange(32) // 8
    on_cpu = edge_cmi_matrix(child, ids_c, parent, ids_p, device="cpu")
    if torch.cuda.is_available():
        on_gpu = edge_cmi_matrix(child, ids_c, parent, ids_p, device="cuda")
        np.testing.assert_allclose(on_gpu, on_cpu, atol=1e-6)
    assert on_cpu.dtype == np.float64


# ------------------------------------------------------------------------------- internals


def test_projection_is_used_for_blocks_wider_than_six():
    options = EdgeOptions()
    values = torch.from_numpy(np.random.default_rng(11).normal(size=(2000, 140)))
    assert projected_width(6, 2000, options) == 6
    assert projected_width(7, 2000, options) == 7  # floor(log2(2000 / 10)) = 7
    assert projected_width(500, 2000, options) == 7
    projector = LayerProjector(values, Stream.REST, options)
    narrow = projector.block(torch.arange(6))
    assert torch.equal(narrow, values[:, :6])
    wide = projector.block(torch.arange(7))
    assert wide.shape == (2000, 7) and not torch.allclose(wide, values[:, :7])
    assert projector.block(torch.arange(140)).shape == (2000, 7)
    assert torch.equal(projector.complement(torch.arange(134)), values[:, 134:])
    assert projector.complement(torch.arange(140)) is None


def test_complement_projection_equals_projecting_the_other_columns():
    # the layer-wide product minus a group's part is the direct projection of the rest
    values = torch.from_numpy(np.random.default_rng(16).normal(size=(500, 40)) * 3 + 1)
    projector = LayerProjector(values, Stream.REST, EdgeOptions())
    group = torch.arange(10, 18)
    others = torch.cat([torch.arange(10), torch.arange(18, 40)])
    torch.testing.assert_close(projector.complement(group), projector.block(others))


def test_null_correction_removes_the_sparse_cell_bias_of_wide_blocks():
    rng = np.random.default_rng(12)
    x, independent = rng.normal(size=(2000, 20)), rng.normal(size=(2000, 20))
    assert edge_mi(x, independent, method="direct", debias=False) > 0.5  # sparse cells
    assert abs(edge_mi(x, independent, method="direct")) < 0.02
    assert edge_mi(x, x, method="direct") > 0.1


def test_knn_distance_matches_brute_force_including_ties():
    rng = np.random.default_rng(13)
    columns = np.round(rng.normal(size=(3, 600)), 1)  # many ties
    queries = query_indices(600, 50, seed=1)
    k = knn_order(600, 1)
    fast = mean_knn_distance(torch.from_numpy(columns), k, torch.from_numpy(queries)).numpy()
    gaps = np.abs(columns[:, queries, None] - columns[:, None, :])
    brute = np.sort(gaps, axis=2)[:, :, k - 1].mean(axis=1)
    np.testing.assert_allclose(fast, brute, rtol=0, atol=1e-12)
    np.testing.assert_allclose(compiled.knn_widths(columns, k, queries), brute, atol=1e-12)


def test_compiled_bucket_ids_partition_samples_like_the_bucket_vectors():
    rng = np.random.default_rng(17)
    values = rng.normal(size=(2, 400, 3))
    eps = rng.uniform(0.3, 1.0, size=(2, 2, 3))
    shift = eps * rng.uniform(size=(2, 2, 3))
    ids, sizes, norms = compiled.bucket_ids(values, eps, shift, True)
    for member in range(2):
        for block in range(2):
            vectors = np.floor((values[block] + shift[member, block]) / eps[member, block])
            _, expected = np.unique(vectors, axis=0, return_inverse=True)
            assert sizes[member, block] == expected.max() + 1
            # same partition: the id maps one-to-one onto the bucket vector
            assert (
                len(set(zip(ids[member, block], expected.ravel(), strict=True)))
                == sizes[member, block]
            )
            np.testing.assert_allclose(norms[member, block], np.linalg.norm(vectors, axis=1))


def test_dense_bucket_ids_are_exact_when_coordinates_span_huge_ranges():
    rng = np.random.default_rng(14)
    buckets = rng.integers(-3, 3, size=(2, 500, 4))
    buckets[:, :, 1] *= 10**17  # forces renumbering between coordinates
    ids, sizes = dense_bucket_ids(torch.from_numpy(buckets))
    for block in range(2):
        _, expected = np.unique(buckets[block], axis=0, return_inverse=True)
        assert sizes[block] == expected.max() + 1
        np.testing.assert_array_equal(ids[block].numpy(), expected.ravel())


# ----------------------------------------------------------------------- gaussian, options


def test_gaussian_cmi_closed_form():
    rho = 0.6
    cov = np.array([[1.0, rho, 0.0], [rho, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert gaussian_cmi_bits(cov, (1, 1, 1)) == pytest.approx(-0.5 * math.log2(1 - rho**2))
    assert gaussian_cmi_bits(cov[:2, :2], (1, 1, 0)) == pytest.approx(-0.5 * math.log2(1 - rho**2))
    chain = np.array([[1.0, 0.7, 0.7], [0.7, 1.0, 0.49], [0.7, 0.49, 1.0]])  # Y - X - Z
    assert gaussian_cmi_bits(chain[[1, 2, 0]][:, [1, 2, 0]], (1, 1, 1)) == pytest.approx(0.0)


def test_random_gaussian_case_is_reproducible_and_scales_with_strength():
    first = random_gaussian_cmi_case((1, 1, 2), 0.5, seed=3, n_samples=100)
    second = random_gaussian_cmi_case((1, 1, 2), 0.5, seed=3, n_samples=100)
    assert all(np.array_equal(a, b) for a, b in zip(first[:3], second[:3], strict=True))
    assert [part.shape for part in first[:3]] == [(100, 1), (100, 1), (100, 2)]
    assert random_gaussian_cmi_case((1, 1, 2), 0.0, seed=3)[3] == pytest.approx(0.0)
    assert random_gaussian_cmi_case((2, 2, 2), 0.9, seed=3)[3] > 0.1


def test_invalid_options_and_inputs_are_rejected_clearly():
    with pytest.raises(ConfigError, match="method"):
        EdgeOptions(method="mst")
    with pytest.raises(ConfigError, match="combine"):
        EdgeOptions(combine="optimal_weights")
    with pytest.raises(TypeError):
        edge_mi(np.zeros(10), np.zeros(10), bandwidth=3)
    with pytest.raises(ValueError, match="same number of samples"):
        edge_mi(np.zeros(10), np.zeros(11))
    with pytest.raises(ValueError, match="NaN"):
        edge_mi(np.full(10, np.nan), np.zeros(10))
    child, parent = _layer_pair(n=50)
    with pytest.raises(ValueError, match="outside"):
        edge_cmi_matrix(child, [[0, 1, 99]], parent, np.zeros(32, dtype=int))


def _brute_force_estimates(x_ids, y_ids, z_ids, cap: float, phi=None) -> np.ndarray:
    """Per-member, per-child (1/N) sum over cells of phi N_xyz clip(log2 ratio), by dicts.

    With ``phi`` the bucket-vector norms are taken to be the ids themselves.
    """
    n_members, n_children, n = x_ids.shape
    out = np.zeros((n_members, n_children))
    for member in range(n_members):
        for child in range(n_children):
            triples = list(zip(x_ids[member, child], y_ids[member], z_ids[member], strict=True))
            cells = Counter(triples)
            xz = Counter((a, c) for a, _, c in triples)
            yz = Counter((b, c) for _, b, c in triples)
            zs = Counter(c for _, _, c in triples)
            total = sum(
                count
                * np.clip(np.log2(count * zs[c] / (xz[a, c] * yz[b, c])), 0.001, cap)
                * (1.0 if phi is None else phi(float(a * b * c)))
                for (a, b, c), count in cells.items()
            )
            out[member, child] = total / n
    return out


def _codes(ids: np.ndarray) -> BlockCodes:
    """Codes whose bucket-vector norms equal the ids (enough to check the phi weighting)."""
    ids = torch.from_numpy(ids if ids.ndim == 3 else ids[:, None, :])
    return BlockCodes(ids.to(torch.int32), ids.amax(dim=2) + 1, ids.to(torch.float64))


def test_counting_equals_dictionary_counting(backend):
    rng = np.random.default_rng(15)
    n_members, n_children, n = 3, 4, 300
    x_ids = rng.integers(0, 6, size=(n_members, n_children, n))
    y_ids = rng.integers(0, 4, size=(n_members, n))
    z_ids = rng.integers(0, 25, size=(n_members, n))
    x_ids[:, 0] = y_ids  # one child strongly tied to Y
    x, y, z = _codes(x_ids), _codes(y_ids), _codes(z_ids)
    options = EdgeOptions(method="direct", ensemble_size=n_members, debias=False)
    fast = conditional_estimates(x, y, z, options).numpy()
    slow = _brute_force_estimates(x_ids, y_ids, z_ids, options.cap)
    np.testing.assert_allclose(fast, slow, rtol=1e-5)  # float32 logs
    plain_mi = conditional_estimates(x, y, None, options).numpy()
    slow_mi = _brute_force_estimates(x_ids, y_ids, 1 + 0 * z_ids, options.cap)
    np.testing.assert_allclose(plain_mi, slow_mi, rtol=1e-5)
    weighted = dataclasses.replace(options, activation_phi="exp_act")
    np.testing.assert_allclose(
        conditional_estimates(x, y, z, weighted).numpy(),
        _brute_force_estimates(x_ids, y_ids, z_ids, options.cap, lambda p: math.exp(-p * p / 2)),
        rtol=1e-5,
    )


def test_null_shuffle_only_exchanges_samples_within_a_z_bucket():
    z_ids = torch.from_numpy(np.random.default_rng(16).integers(0, 30, size=(4, 500)))
    source = _shuffle_within_buckets(z_ids, seed=3)
    assert torch.equal(z_ids.gather(1, source), z_ids)
    assert torch.equal(torch.sort(source, dim=1).values, torch.arange(500).expand(4, 500))
    assert (source != torch.arange(500)).float().mean() > 0.5
    random_order = _random_order(3, 4, 500).numpy()
    for member in range(4):
        kernel = compiled._within_bucket_source(z_ids[member].numpy(), random_order[member])
        np.testing.assert_array_equal(kernel, source[member].numpy())
