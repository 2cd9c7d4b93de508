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

    support: the support vectors minus ``centre`` (their mean), at the kernel precision.
    coef_blocks[c]: [n_c, 2 (classes - 1)] float64, the class's coefficient rows and their
    absolute values side by side (the latter bound the rounding of the decision).
    first / second: each pair's classes (i < j, libsvm's pair order).
    """

    centre: torch.Tensor  # [features] float64
    support: torch.Tensor  # [n_support, features]
    support_sq: torch.Tensor  # [n_support]
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
            torch.cat([dual[:, b].T, dual[:, b].T.abs()], dim=1).to(device) for b in blocks
        )
        vectors = torch.as_tensor(svm.support_vectors_, dtype=torch.float64, device=device)
        centre = vectors.mean(dim=0)
        support = (vectors - centre).to(dtype)
        pairs = [(i, j) for i in range(classes) for j in range(i + 1, classes)]
        return cls(
            centre=centre,
            support=support,
            support_sq=(support * support).sum(1),
            blocks=blocks,
            coef_blocks=coef_blocks,
            intercept=torch.as_tensor(svm._intercept_, dtype=torch.float64, device=device),
            first=torch.tensor([i for i, _ in pairs], device=device),
            second=torch.tensor([j for _, j in pairs], device=device),
            gamma=float(svm._gamma),
        )

    def classify(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class indices of ``rows`` [M] and whether each may differ from libsvm's [M]."""
        centred = (rows.double() - self.centre).to(self.support.dtype)
        decision, magnitude = self.decision(centred)
        bound = self.rounding_bound(centred, magnitude) + TIE_TOLERANCE * (
            magnitude + self.intercept.abs()
        )
        votes = tally(decision, self.first, self.second)
        unsure = winner_may_change(votes, decision.abs() <= bound, self.first, self.second)
        return torch.argmax(votes, dim=1), unsure  # the first maximum: the lowest class

    def decision(self, centred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[M, pairs] decision values and sums of |coef| * kernel over each pair's vectors."""
        rows_sq = (centred * centred).sum(1)
        # 2 gamma x.s - gamma |s|^2 in one product, then - gamma |x|^2, clipped at 0 (d^2 >= 0).
        exponent = torch.addmm(
            self.support_sq, centred, self.support.T, beta=-self.gamma, alpha=2 * self.gamma
        )
        kernel = exponent.sub_(self.gamma * rows_sq[:, None]).clamp_(max=0).exp_().double()
        blocks = zip(self.blocks, self.coef_blocks, strict=True)
        per_class = torch.stack([kernel[:, block] @ coef for block, coef in blocks], dim=1)
        # per_class: [M, classes, 2 (classes - 1)]; pair (i, j) reads class i's row j - 1
        # and class j's row i.
        half = per_class.shape[2] // 2
        signed = per_class[:, self.first, self.second - 1] + per_class[:, self.second, self.first]
        magnitude = (
            per_class[:, self.first, half + self.second - 1]
            + per_class[:, self.second, half + self.first]
        )
        return signed + self.intercept, magnitude

    def rounding_bound(self, centred: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
        """[M, pairs] bound on |computed - exact| decision values.

        At the kernel's unit roundoff u: centring rounds each coordinate by at most u, which
        moves -gamma |x - s|^2 by at most 3 gamma u (|x| + |s|)^2; the exponent is a sum of
        three dot products of length F, whose error is at most gamma (F + 5) u (|x| + |s|)^2
        (norms of the centred vectors); exp adds a few ulps. The block products and sums
        that follow are in float64 (n_support + 8 float64 roundoffs at most).
        """
        unit = _UNIT_ROUNDOFF[self.support.dtype]
        features = self.support.shape[1]
        norms = centred.double().norm(dim=1)
        reach = (norms + float(self.support_sq.double().max().sqrt())) ** 2
        exponent_error = self.gamma * (features + 8) * unit * reach
        kernel_relative = torch.expm1(exponent_error) + 5 * unit * torch.exp(exponent_error)
        double_unit = _UNIT_ROUNDOFF[torch.float64]
        sums = kernel_relative + (self.support.shape[0] + 8) * double_unit
        return _SAFETY * (sums[:, None] * magnitude + 4 * double_unit * self.intercept.abs())


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
