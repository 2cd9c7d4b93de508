"""Partialling the conditioning set out: the "residual" reading of I(X; Y | Z).

Hashing Z (hundreds of columns in ACMI, projected to a handful) barely conditions on
it. For (near) linear-Gaussian dependence, I(X; Y | Z) equals the mutual information of
the residuals of X and of Y after regressing each on Z, so the residual reading
regresses both on Z (least squares with intercept) and hands the residuals to EDGE's
plain MI estimate, which works in a few dimensions instead of X + Y + Z.

Columns are standardised first; the regression is ridge-regularised with penalty
``ridge`` * W on the standardised layer's Gram matrix (W = the layer's column count,
the Gram's diagonal is N), i.e. a shrinkage of W/N relative to the data: negligible for
a few columns, strong when W approaches N, where plain least squares would fit noise.

A layer [N, W] is factorised once. For parent group g (Y = its columns, Z = the other
columns) the ridge residuals come from the inverse A^-1 of the layer's penalised Gram
matrix without refitting (Frisch-Waugh-Lovell, which holds for ridge by writing it as
least squares on data augmented with sqrt(penalty) * identity rows):

* Y's residual on Z is L A^-1[:, g] (A^-1[g, g])^-1;
* X's residual on Z is X's residual on the whole layer plus Y's residual times the
  coefficients of g in X's regression on the whole layer.
"""

import math

import torch
from torch import Tensor

from snacs.estimators.edge.projection import column_std

_MIN_STD = 1e-8  # constant columns are left centred instead of divided by ~0


def _standardised(values: Tensor) -> Tensor:
    centred = values - values.mean(dim=0)
    std = column_std(centred)
    return centred / torch.where(std < _MIN_STD, torch.ones_like(std), std)


class LayerPartialler:
    """Residuals of X (all child columns) and of Y (a parent group) on the rest of the layer."""

    def __init__(self, layer: Tensor, children: Tensor, ridge: float) -> None:
        self.layer = _standardised(layer)
        width = self.layer.shape[1]
        gram = self.layer.T @ self.layer
        gram.diagonal().add_(ridge * width + 1e-9 * self.layer.shape[0])
        self.inverse = torch.cholesky_inverse(torch.linalg.cholesky(gram))
        self.hat_columns = self.layer @ self.inverse  # [N, W]
        centred = children - children.mean(dim=0)
        self.coefficients = self.hat_columns.T @ centred  # [W, C]
        self.child_residuals = centred - self.layer @ self.coefficients

    def residuals(self, columns: Tensor) -> tuple[Tensor, Tensor]:
        """(X residuals [N, C], Y residual [N, |g|]) on the layer's other columns.

        With no other columns the residuals are the centred data.
        """
        if columns.numel() == self.layer.shape[1]:
            return self.child_residuals + self.layer @ self.coefficients, self.layer
        own_inverse = self.inverse[columns][:, columns]
        parent = torch.linalg.solve(own_inverse, self.hat_columns[:, columns].T).T
        child = self.child_residuals + parent @ self.coefficients[columns]
        return child, parent


def _whitened(values: Tensor) -> Tensor:
    """Centred columns linearly mixed to unit sample covariance (a tiny ridge keeps it stable)."""
    centred = values - values.mean(dim=0)
    cov = centred.T @ centred / values.shape[0]
    cov.diagonal().add_(1e-9 * float(cov.diagonal().mean()) + 1e-12)
    factor = torch.linalg.cholesky(cov)
    return torch.linalg.solve_triangular(factor, centred.T, upper=False).T


def canonical_pairs(
    child: Tensor, child_index: list[Tensor], parent: Tensor
) -> tuple[list[Tensor], list[Tensor], Tensor]:
    """Canonical variates of every child group's residual against the parent residual.

    An invertible linear map of X or of Y leaves I(X; Y) unchanged, and after canonical
    correlation analysis the pairs (u_i, v_i) are uncorrelated with each other's
    partners, so for Gaussian residuals I(X; Y) is exactly the sum of the pairs' 1-D
    mutual informations; for other data the sum is an approximation. Each pair is a 1-D
    problem, where EDGE's buckets are dense at any N. Pairs whose squared canonical
    correlation lies below (sqrt(d_x) + sqrt(d_y))^2 / N, the largest that independent
    blocks of those widths reach by chance, are left out (the first pair always stays):
    their MI is within the estimator's noise, and leaving them out saves most of the
    hashing when a group is wide.

    Returns the u and v columns ([N] each) of every pair, and the child group of each.
    """
    n = parent.shape[0]
    own = _whitened(parent)
    us, vs, owners = [], [], []
    for group, columns in enumerate(child_index):
        mine = _whitened(child[:, columns])
        left, singular, right_t = torch.linalg.svd(mine.T @ own / n, full_matrices=False)
        noise_edge = (math.sqrt(columns.numel()) + math.sqrt(own.shape[1])) ** 2 / n
        kept = max(1, int((singular.square() > noise_edge).sum()))
        u, v = mine @ left[:, :kept], own @ right_t[:kept].T
        for pair in range(kept):
            us.append(u[:, pair])
            vs.append(v[:, pair])
            owners.append(group)
    return us, vs, torch.tensor(owners, dtype=torch.int64, device=child.device)
