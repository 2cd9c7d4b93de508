"""A fitted RBF SVM's predictions as torch matrix products, equal to libsvm's.

The operating constraints ask one SVM per layer for the classes of tens of thousands of
pruned outputs. scikit-learn's ``predict`` walks them one row at a time in libsvm; here
every row's one-vs-one decision values come from one kernel matrix:

* The kernel ``exp(-gamma |x - s|^2)`` is one matrix product with the support vectors
  plus two norm terms. Rows and support vectors are first centred on the support
  vectors' mean, which leaves distances unchanged and makes the norms (and so the
  rounding of the product) an order of magnitude smaller for ReLU outputs.
* A pair (i, j) only reads the support vectors of classes i and j, each with one of the
  ``classes - 1`` coefficient rows libsvm stores per vector. So each class's block of the
  kernel is multiplied by its own coefficient rows once (``classes - 1`` columns instead of
  one column per pair: five times fewer products with ten classes), in float64, and a
  pair's decision is the sum of two such entries plus its intercept.
* The predictions are a cascade. On a CPU the kernel is first computed in float32, about
  twice as fast as float64, with a worst-case bound on its rounding (from the norms, the
  feature count and the support size). A row is passed on only when flipping the pairs
  whose decision lies within that bound of zero could change the vote's winner; the
  float64 stage does the same with a relative tie tolerance of 1e-9, and libsvm itself
  predicts what is left. Every returned label is therefore libsvm's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.svm import SVC

TIE_TOLERANCE = 1e-9
"""Relative size of a decision value treated as a possible tie (libsvm decides)."""

_UNIT_ROUNDOFF = {torch.float32: 2.0**-24, torch.float64: 2.0**-53}
_SAFETY = 2.0
"""Factor on the rounding bound (already a worst case)."""


@dataclass(frozen=True)
class OneVsOne:
    """A fitted RBF ``SVC`` at one kernel precision, laid out per class block.

    support: per support vector s (minus ``centre``, the vectors' mean) the row
    [2 gamma s, -gamma, -gamma |s|^2]: with a row's [x, |x|^2, 1] one product gives the
    kernel's exponent -gamma |x - s|^2.
    coef_blocks[c]: [n_c, 2 (classes - 1)], the class's coefficient rows and their
    absolute values side by side (the latter bound the rounding of the decision).
    first / second: each pair's classes (i < j, libsvm's pair order).
    """

    centre: torch.Tensor  # [features] float64
    support: torch.Tensor  # [n_support, features + 2]
    support_norm: float  # largest |s| (centred)
    coef_total: float  # sum of |coef| over all vectors and rows
    blocks: tuple[slice, ...]
    coef_blocks: tuple[torch.Tensor, ...]
    intercept: torch.Tensor  # [pairs] float64
    first: torch.Tensor  # [pairs] long
    second: torch.Tensor  # [pairs] long
    gamma: float

    @classmethod
    def of(cls, svm: SVC, dtype: torch.dtype, device: torch.device) -> OneVsOne:
        if svm.kernel != "rbf":
            raise ValueError(f"the torch decision function covers RBF SVMs, got {svm.kernel!r}")
        classes = len(svm.classes_)
        starts = np.concatenate([[0], np.cumsum(svm._n_support)])
        blocks = tuple(slice(int(starts[c]), int(starts[c + 1])) for c in range(classes))
        dual = torch.as_tensor(svm._dual_coef_, dtype=torch.float64)  # [classes-1, n_sv]
        coef_blocks = tuple(
            torch.cat([dual[:, b].T, dual[:, b].T.abs()], dim=1).to(device, dtype) for b in blocks
        )
        vectors = torch.as_tensor(svm.support_vectors_, dtype=torch.float64, device=device)
        centre = vectors.mean(dim=0)
        centred = vectors - centre
        gamma = float(svm._gamma)
        squares = (centred * centred).sum(1, keepdim=True)
        support = torch.cat(
            [2 * gamma * centred, torch.full_like(squares, -gamma), -gamma * squares], 1
        )
        pairs = [(i, j) for i in range(classes) for j in range(i + 1, classes)]
        return cls(
            centre=centre,
            support=support.to(dtype),
            support_norm=float(squares.max().sqrt()),
            coef_total=float(dual.abs().sum()),
            blocks=blocks,
            coef_blocks=coef_blocks,
            intercept=torch.as_tensor(svm._intercept_, dtype=torch.float64, device=device),
            first=torch.tensor([i for i, _ in pairs], device=device),
            second=torch.tensor([j for _, j in pairs], device=device),
            gamma=gamma,
        )

    def classify(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class indices of ``rows`` [M] and whether each may differ from libsvm's [M]."""
        augmented, norms = self.augment(rows)
        decision, magnitude = self.decision(augmented)
        bound = self.rounding_bound(norms, magnitude)
        bound += TIE_TOLERANCE * (magnitude + self.intercept.abs())
        votes = tally(decision, self.first, self.second)
        unsure = winner_may_change(votes, decision.abs() <= bound, self.first, self.second)
        return torch.argmax(votes, dim=1), unsure  # the first maximum: the lowest class

    def augment(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows [x - centre, |x - centre|^2, 1] at the kernel precision, and the float64
        norms |x - centre|."""
        centred = rows.double() - self.centre
        squares = (centred * centred).sum(1, keepdim=True)
        augmented = torch.cat([centred, squares, torch.ones_like(squares)], 1)
        return augmented.to(self.support.dtype), squares.squeeze(1).sqrt()

    def decision(self, augmented: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[M, pairs] float64 decision values and sums of |coef| * kernel over each pair's
        vectors, from rows [x - centre, |x - centre|^2, 1]."""
        kernel = (augmented @ self.support.T).exp_()  # [M, n_support]
        blocks = zip(self.blocks, self.coef_blocks, strict=True)
        per_class = torch.stack([kernel[:, block] @ coef for block, coef in blocks], dim=1)
        # per_class: [M, classes, 2 (classes - 1)]; pair (i, j) reads class i's row j - 1
        # and class j's row i.
        per_class = per_class.double()
        half = per_class.shape[2] // 2
        signed = per_class[:, self.first, self.second - 1] + per_class[:, self.second, self.first]
        magnitude = (
            per_class[:, self.first, half + self.second - 1]
            + per_class[:, self.second, half + self.first]
        )
        return signed + self.intercept, magnitude

    def rounding_bound(self, norms: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
        """[M, pairs] bound on |computed - exact| decision values, given the rows' centred
        norms (float64).

        At the kernel's unit roundoff u, with F features: rounding the centred rows and
        support vectors moves -gamma |x - s|^2 by at most 3 gamma u (|x| + |s|)^2, the
        rounded squares and factors by a few more u; the product of length F + 2 adds at
        most (F + 4) u of its terms' absolute sum, which is at most gamma (|x| + |s|)^2;
        exp adds a few ulps. Each class block's product with its coefficients (n_c terms,
        coefficients rounded) is off by at most (n_c + 2) u of the |coef| * kernel sum; the
        pair sums that follow are in float64. Kernel values below the smallest normal
        number may underflow: at most that number times the sum of |coef| more.
        """
        unit = _UNIT_ROUNDOFF[self.support.dtype]
        features = self.support.shape[1] - 2
        reach = (norms + self.support_norm) ** 2
        exponent_error = self.gamma * (features + 12) * unit * reach
        kernel_relative = torch.expm1(exponent_error) + 5 * unit * torch.exp(exponent_error)
        largest_block = max(block.stop - block.start for block in self.blocks)
        sums = kernel_relative + (largest_block + 4) * unit
        double_unit = _UNIT_ROUNDOFF[torch.float64]
        underflow = torch.finfo(self.support.dtype).tiny * self.coef_total
        intercept = 4 * double_unit * self.intercept.abs()
        return _SAFETY * (sums[:, None] * magnitude + intercept + underflow)


def tally(decision: torch.Tensor, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """[M, classes] one-vs-one votes: a positive value votes for the pair's first class, a
    non-positive one for its second (libsvm's rule)."""
    wins = (decision > 0).long()
    classes = int(second.max()) + 1
    votes = torch.zeros(wins.shape[0], classes, dtype=torch.long, device=wins.device)
    votes.scatter_add_(1, first.expand_as(wins), wins)
    votes.scatter_add_(1, second.expand_as(wins), 1 - wins)
    return votes


def winner_may_change(
    votes: torch.Tensor, uncertain: torch.Tensor, first: torch.Tensor, second: torch.Tensor
) -> torch.Tensor:
    """[M] whether flipping some uncertain pairs could change the vote's winner.

    A flip moves one vote between the pair's two classes, so the winner w keeps at least
    votes[w] - (its uncertain pairs) and another class c reaches at most votes[c] + (its
    uncertain pairs). w is safe when it still beats every c then: more votes, or as many
    and a lower index (libsvm gives ties in votes to the lowest class).
    """
    touched = torch.zeros_like(votes)  # uncertain pairs of each class
    touched.scatter_add_(1, first.expand_as(uncertain), uncertain.long())
    touched.scatter_add_(1, second.expand_as(uncertain), uncertain.long())
    winner = torch.argmax(votes, dim=1, keepdim=True)
    worst = votes.gather(1, winner) - touched.gather(1, winner)
    best = votes + touched
    classes = torch.arange(votes.shape[1], device=votes.device)
    beaten = (worst > best) | ((worst == best) & (classes > winner))
    beaten.scatter_(1, winner, True)
    return ~beaten.all(dim=1)


def kernel_precisions(samples: torch.Tensor) -> list[torch.dtype]:
    """The cascade's kernel precisions: float32 then float64 where the float32 bound holds.

    The bound needs full-precision float32 products, which a CPU gives; on CUDA float32
    products may run in TF32, and float64 is fast there anyway.
    """
    full_float32 = torch.get_float32_matmul_precision() == "highest"
    if samples.device.type == "cpu" and full_float32:
        return [torch.float32, torch.float64]
    return [torch.float64]


def svm_predict(svm: SVC, samples: torch.Tensor, chunk: int = 2048) -> np.ndarray:
    """``svm.predict(samples)`` for a fitted RBF ``SVC``, computed with torch matrices."""
    stages = [OneVsOne.of(svm, dtype, samples.device) for dtype in kernel_precisions(samples)]
    labels = torch.empty(samples.shape[0], dtype=torch.long, device=samples.device)
    for start in range(0, samples.shape[0], chunk):
        pending = torch.arange(start, min(start + chunk, samples.shape[0]), device=samples.device)
        for stage in stages:
            labels[pending], unsure = stage.classify(samples[pending])
            pending = pending[unsure]
            if pending.numel() == 0:
                break
        if pending.numel():
            predicted = svm.predict(samples[pending].double().cpu().numpy())
            labels[pending] = torch.as_tensor(
                np.searchsorted(svm.classes_, predicted), device=samples.device
            )
    return svm.classes_[labels.cpu().numpy()]
