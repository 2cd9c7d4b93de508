"""Tests of MINT's conditional geometric MI estimator (Friedman-Rafsky, NN bootstrap)."""

import numpy as np
import pytest
import torch

from snacs.estimators.geometric import (
    _pairwise_sq_dists,
    fr_conditional_gmi,
    gmi_matrix,
    hp_divergence,
    mst_cross_edges,
)

SEEDS = range(6)


def _dependent_triple(strength: float, num_samples: int, seed: int):
    """X = strength * Y + Z_0 + noise, Y independent of Z: I(X; Y | Z) grows with strength."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(num_samples, 2))
    y = rng.normal(size=(num_samples, 1))
    x = strength * y + z[:, :1] + 0.5 * rng.normal(size=(num_samples, 1))
    return x, y, z


def _mean_gmi(make_triple, num_samples: int = 450) -> float:
    return float(np.mean([fr_conditional_gmi(*make_triple(num_samples, s), seed=s) for s in SEEDS]))


def _grouped_activations(num_samples: int, seed: int):
    """Child activations that depend on parent group 1 only; 3 child and 3 parent groups."""
    rng = np.random.default_rng(seed)
    parent = rng.normal(size=(num_samples, 6))
    child = 0.3 * rng.normal(size=(num_samples, 6))
    child[:, 2:4] += 2.0 * parent[:, 2:4]
    return child, np.repeat([0, 1, 2], 2), parent, np.repeat([0, 1, 2], 2)


def test_near_zero_for_independent_gaussians():
    def independent(num_samples, seed):
        rng = np.random.default_rng(seed)
        return (rng.normal(size=(num_samples, d)) for d in (2, 1, 2))

    assert _mean_gmi(independent) < 0.08


def test_conditionally_independent_scores_far_below_strong_dependence():
    def common_cause(num_samples, seed):  # X and Y both follow Z, so X is independent of Y given Z
        rng = np.random.default_rng(seed)
        z = rng.normal(size=(num_samples, 1))
        return z + 0.3 * rng.normal(size=(num_samples, 1)), z + 0.3 * rng.normal(size=z.shape), z

    conditional = _mean_gmi(common_cause)
    strong = _mean_gmi(lambda n, s: _dependent_triple(3.0, n, s))
    assert conditional < 0.12
    assert strong > 0.3
    assert strong > conditional + 0.2


def test_increases_with_dependence_strength():
    weak, medium, strong = (
        _mean_gmi(lambda n, s, a=a: _dependent_triple(a, n, s)) for a in (0.0, 1.0, 3.0)
    )
    assert weak + 0.05 < medium
    assert medium + 0.05 < strong


def test_is_deterministic_for_a_seed_and_depends_on_it():
    x, y, z = _dependent_triple(1.0, 300, seed=7)
    assert fr_conditional_gmi(x, y, z, seed=3) == fr_conditional_gmi(x, y, z, seed=3)
    values = {fr_conditional_gmi(x, y, z, seed=s) for s in range(5)}
    assert len(values) > 1
    assert all(0.0 <= v <= 1.0 for v in values)


def test_matrix_entries_equal_the_per_pair_estimator():
    child, child_ids, parent, parent_ids = _grouped_activations(240, seed=1)
    scores = gmi_matrix(child, child_ids, parent, parent_ids, seed=5)
    assert scores.shape == (3, 3)
    for c in range(3):
        x = child[:, child_ids == c]
        for g in range(3):
            y, z = parent[:, parent_ids == g], parent[:, parent_ids != g]
            assert scores[c, g] == pytest.approx(fr_conditional_gmi(x, y, z, seed=5), abs=1e-9)
    assert np.array_equal(scores, gmi_matrix(child, child_ids, parent, parent_ids, seed=5))


def test_matrix_finds_the_connected_parent_group():
    child, child_ids, parent, parent_ids = _grouped_activations(450, seed=2)
    scores = gmi_matrix(child, child_ids, parent, parent_ids, seed=0)
    assert scores[1, 1] > 0.3
    assert scores[1, 1] > scores[1, [0, 2]].max() + 0.2


def test_matrix_orders_groups_by_id_and_accepts_uneven_groups():
    child, _, parent, _ = _grouped_activations(180, seed=3)
    child_ids = np.array([7, 7, 7, 2, 2, 9])
    parent_ids = np.array([4, 1, 1, 1, 4, 4])
    scores = gmi_matrix(child, child_ids, parent, parent_ids, seed=1)
    assert scores.shape == (3, 2)
    x = child[:, child_ids == 9]
    y, z = parent[:, parent_ids == 1], parent[:, parent_ids == 4]
    assert scores[2, 0] == pytest.approx(fr_conditional_gmi(x, y, z, seed=1), abs=1e-9)


def test_single_parent_group_scores_without_conditioning():
    child, _, parent, _ = _grouped_activations(150, seed=4)
    scores = gmi_matrix(child[:, :2], [0, 0], parent[:, :2], [0, 0], seed=2)
    empty_z = np.empty((150, 0))
    assert scores[0, 0] == pytest.approx(
        fr_conditional_gmi(child[:, :2], parent[:, :2], empty_z, seed=2), abs=1e-9
    )


def test_duplicate_points_give_a_finite_score():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(20, 4))
    rows = rng.integers(0, 20, size=120)  # drawn with replacement, as MINT's subset
    child, parent = base[rows, :2], base[rows, 2:]
    value = fr_conditional_gmi(child, parent[:, :1], parent[:, 1:], seed=0)
    assert np.isfinite(value) and 0.0 <= value <= 1.0
    scores = gmi_matrix(child, [0, 1], parent, [0, 1], seed=0)
    assert np.isfinite(scores).all()
    constant = np.ones((60, 1))
    assert np.isfinite(fr_conditional_gmi(constant, constant, constant, seed=0))


@pytest.mark.parametrize("mst", ["prim", "scipy"])
def test_exact_copies_join_the_two_sets_through_zero_length_edges(mst):
    """Zero distances must stay edges (SciPy drops them): copies make the divergence exactly 0."""
    points = torch.as_tensor(np.random.default_rng(0).normal(size=(30, 3)))
    weights = _pairwise_sq_dists(torch.cat([points, points])).numpy()
    assert hp_divergence(weights, num_first=30, mst=mst) == 0.0


def _random_sq_dists(num_points: int, seed: int, duplicates: str = "none") -> np.ndarray:
    """Squared distances of Gaussian points; optionally drawn with replacement from few.

    ``within``: each half repeats its own few points, so copies never straddle the halves;
    ``shared``: both halves repeat the same few points.
    """
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(num_points, 4))
    half = num_points // 2
    if duplicates == "within":
        first = points[rng.integers(0, 15, size=half)]
        second = points[rng.integers(15, 30, size=num_points - half)]
        points = np.concatenate([first, second])
    elif duplicates == "shared":
        points = points[rng.integers(0, 30, size=num_points)]
    return _pairwise_sq_dists(torch.as_tensor(points)).numpy()


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("duplicates", ["none", "within"])
def test_prim_and_scipy_build_trees_with_the_same_cross_count(seed, duplicates):
    """Without copies straddling the halves, every minimum tree has the same R."""
    sq_dists = _random_sq_dists(200, seed, duplicates)
    if duplicates == "within":
        assert (sq_dists[np.triu_indices(200, k=1)] == 0).sum() > 100
    prim_cross, prim_weight = mst_cross_edges(sq_dists, 100, "prim")
    scipy_cross, scipy_weight = mst_cross_edges(sq_dists, 100, "scipy")
    assert prim_cross == scipy_cross
    # SciPy sees zero edges as the smallest double: at most 199 of them add ~1e-305.
    assert prim_weight == pytest.approx(scipy_weight, rel=1e-12, abs=1e-300)
    assert 0 < prim_cross < 199  # a real count, not a degenerate tree


@pytest.mark.parametrize("seed", range(4))
def test_prim_and_scipy_trees_have_equal_weight_on_shared_duplicates(seed):
    """Copies in both halves tie edges that do and do not cross: R may differ, weight may not."""
    sq_dists = _random_sq_dists(180, seed, "shared")
    prim_cross, prim_weight = mst_cross_edges(sq_dists, 90, "prim")
    scipy_cross, scipy_weight = mst_cross_edges(sq_dists, 90, "scipy")
    assert prim_weight == pytest.approx(scipy_weight, rel=1e-12, abs=1e-300)
    assert 0 <= prim_cross <= 179 and 0 <= scipy_cross <= 179


def test_prim_and_scipy_agree_on_the_estimator_for_random_data():
    child, child_ids, parent, parent_ids = _grouped_activations(300, seed=6)
    prim = gmi_matrix(child, child_ids, parent, parent_ids, seed=2, mst="prim")
    scipy = gmi_matrix(child, child_ids, parent, parent_ids, seed=2, mst="scipy")
    np.testing.assert_array_equal(prim, scipy)
    x, y, z = _dependent_triple(1.0, 300, seed=4)
    assert fr_conditional_gmi(x, y, z, seed=1, mst="prim") == fr_conditional_gmi(
        x, y, z, seed=1, mst="scipy"
    )


def test_prim_tree_of_a_known_graph():
    """Points on a line: the tree is the chain of neighbours, whatever the labels."""
    line = torch.tensor([[0.0], [3.0], [1.0], [6.0], [2.0]], dtype=torch.float64)
    sq_dists = _pairwise_sq_dists(line).numpy()
    # chain 0-2-4-1-3: first set {0, 1} -> edges 0-2, 4-1 and 1-3 cross, 2-4 does not.
    assert mst_cross_edges(sq_dists, 2, "prim") == (3, 1.0 + 1.0 + 1.0 + 9.0)
    assert mst_cross_edges(sq_dists, 2, "scipy") == (3, 12.0)


def test_child_groups_scored_in_chunks_match_one_pass(monkeypatch):
    from snacs.estimators import geometric

    child, child_ids, parent, parent_ids = _grouped_activations(150, seed=8)
    whole = gmi_matrix(child, child_ids, parent, parent_ids, seed=3)
    monkeypatch.setattr(geometric, "_CHILD_CACHE_BYTES", 8 * 100**2)  # one child group per chunk
    np.testing.assert_array_equal(whole, gmi_matrix(child, child_ids, parent, parent_ids, seed=3))


def test_tiny_distances_are_kept_as_edges():
    """SciPy drops dense entries below 1e-8; the score must not depend on the activation scale."""
    x, y, z = _dependent_triple(2.0, 240, seed=9)
    unit = fr_conditional_gmi(x, y, z, seed=0)
    assert fr_conditional_gmi(1e-6 * x, 1e-6 * y, 1e-6 * z, seed=0) == pytest.approx(unit)


def test_rejects_misaligned_inputs():
    child, child_ids, parent, parent_ids = _grouped_activations(60, seed=0)
    with pytest.raises(ValueError, match="same number of samples"):
        gmi_matrix(child[:50], child_ids, parent, parent_ids)
    with pytest.raises(ValueError, match="group ids"):
        gmi_matrix(child, child_ids[:4], parent, parent_ids)
    with pytest.raises(ValueError, match="at least 3 samples"):
        fr_conditional_gmi(child[:2], parent[:2], parent[:2])
    with pytest.raises(ValueError, match="MST backend"):
        gmi_matrix(child, child_ids, parent, parent_ids, mst="kruskal")
