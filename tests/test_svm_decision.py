"""The torch SVM predictions equal libsvm's, above all where rounding could decide them.

Hard cases: near-chance SVMs whose decision values are tiny next to their terms (random
networks give these), wide ReLU outputs with a large common offset (big norms, the
float32 kernel's worst case), queries equal to support vectors, exact ties.
"""

import numpy as np
import pytest
import torch

from snacs.algorithm.constraints import fit_svm
from snacs.algorithm.svm_decision import (
    OneVsOne,
    kernel_precisions,
    svm_predict,
    tally,
    winner_may_change,
)


def relu_features(classes: int, per_class: int, features: int, separation: float, seed: int):
    """ReLU outputs with a shared offset and a weak class signal, like a random layer's."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(classes).repeat_interleave(per_class)
    centres = torch.randn(classes, features, generator=generator) * separation
    noise = torch.randn(labels.numel(), features, generator=generator)
    return (2.0 + centres[labels] + noise).clamp_min(0), labels


def perturbed(rows: torch.Tensor, copies: int, scale: float, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    repeated = rows.repeat(copies, 1)
    return (repeated * (1 + scale * torch.randn(repeated.shape, generator=generator))).clamp_min(0)


@pytest.mark.parametrize(
    ("classes", "features", "separation"),
    [(2, 6, 0.5), (3, 40, 0.2), (7, 6, 0.4), (10, 256, 0.02), (10, 512, 0.05)],
)
def test_predictions_equal_libsvm_on_near_chance_and_wide_layers(classes, features, separation):
    inputs, labels = relu_features(classes, 40, features, separation, seed=classes)
    svm = fit_svm(inputs, labels)
    queries = torch.cat([inputs, perturbed(inputs, 3, 0.05, seed=1), inputs * 3])
    assert np.array_equal(svm_predict(svm, queries, chunk=97), svm.predict(queries.numpy()))


def test_the_float32_stage_decides_most_rows_of_a_wide_near_chance_layer():
    inputs, labels = relu_features(10, 60, 512, 0.05, seed=3)
    svm = fit_svm(inputs, labels)
    queries = perturbed(inputs, 2, 0.05, seed=2)
    fast = OneVsOne.of(svm, torch.float32, torch.device("cpu"))
    _labels, unsure = fast.classify(queries)
    assert float(unsure.float().mean()) < 0.3, "the rounding bound is too loose to help"
    exact = OneVsOne.of(svm, torch.float64, torch.device("cpu"))
    exact_labels, exact_unsure = exact.classify(queries)
    decided = ~unsure & ~exact_unsure
    assert torch.equal(_labels[decided], exact_labels[decided])


def test_tied_votes_and_decisions_go_where_libsvm_sends_them():
    # Two identical points with opposite labels: every query is a near-tie of the pair.
    inputs = torch.tensor([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [5.0, 5.0]])
    labels = torch.tensor([0, 1, 0, 1])
    svm = fit_svm(inputs, labels)
    queries = torch.tensor([[0.0, 0.0], [5.0, 5.0], [2.5, 2.5], [9.0, -3.0]])
    assert np.array_equal(svm_predict(svm, queries), svm.predict(queries.numpy()))


def test_a_winner_is_safe_only_if_no_flip_of_its_uncertain_pairs_can_dethrone_it():
    first = torch.tensor([0, 0, 1])  # pairs (0, 1), (0, 2), (1, 2)
    second = torch.tensor([1, 2, 2])
    decision = torch.tensor(
        [
            [1.0, 1.0, 1.0],  # votes 2, 1, 0: class 0 wins
            [1.0, 1.0, 1.0],
            [1.0, -1.0, -1.0],  # votes 1, 0, 2: class 2 wins
            [1.0, -1.0, 1.0],  # votes 1, 1, 1: a tie, the lowest class (0) wins
            [1.0, -1.0, 1.0],
        ]
    )
    uncertain = torch.tensor(
        [
            [False, False, True],  # flipping 1-2 gives 2, 0, 1: 0 still wins
            [True, False, False],  # flipping 0-1 gives 1, 2, 0: 1 would win
            [False, True, False],  # flipping 0-2 gives 2, 0, 1: 0 would win
            [False, False, False],  # a tie in votes, settled by libsvm's rule
            [False, False, True],  # flipping 1-2 gives 1, 0, 2: 2 would win
        ]
    )
    votes = tally(decision, first, second)
    assert votes.tolist() == [[2, 1, 0], [2, 1, 0], [1, 0, 2], [1, 1, 1], [1, 1, 1]]
    changes = winner_may_change(votes, uncertain, first, second)
    assert changes.tolist() == [False, True, True, False, True]


def test_float32_products_are_used_only_at_full_precision():
    samples = torch.zeros(2, 3)
    assert kernel_precisions(samples) == [torch.float32, torch.float64]
    previous = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("high")
        assert kernel_precisions(samples) == [torch.float64]
    finally:
        torch.set_float32_matmul_precision(previous)


def boundary_queries(svm, start: torch.Tensor, end: torch.Tensor, count: int) -> torch.Tensor:
    """float32 points on the segment start-end packed around where the decision is zero."""
    exact = OneVsOne.of(svm, torch.float64, torch.device("cpu"))

    def decision(t: float) -> float:
        point = (start + t * (end - start)).double()[None]
        return float(exact.decision(exact.augment(point)[0])[0][0, 0])

    low, high = 0.0, 1.0
    assert (decision(low) > 0) != (decision(high) > 0)
    for _ in range(60):
        middle = (low + high) / 2
        if (decision(middle) > 0) == (decision(low) > 0):
            low = middle
        else:
            high = middle
    offsets = torch.linspace(-1, 1, count, dtype=torch.float64) * 1e-5
    return (start.double() + (low + offsets)[:, None] * (end - start).double()).float()


def test_rows_on_a_decision_boundary_are_decided_as_libsvm_decides_them():
    inputs, labels = relu_features(2, 60, 384, 0.3, seed=5)
    svm = fit_svm(inputs, labels)
    start, end = inputs[labels == 0][0], inputs[labels == 1][0]
    queries = boundary_queries(svm, start, end, 4001)
    expected = svm.predict(queries.numpy())
    assert 0 < (expected == 0).sum() < len(expected), "the queries must straddle the boundary"
    assert np.array_equal(svm_predict(svm, queries), expected)
