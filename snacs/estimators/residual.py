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

With the optional Gaussian-copula transform every column (X, Y and Z) is first replaced
by the normal score of its rank, which straightens monotone nonlinear dependence (such
as ReLU activations) before the linear partialling.
"""

import torch
from torch import Tensor

from snacs.estimators.projection import column_std

_MIN_STD = 1e-8  # constant columns are left centred instead of divided by ~0


def gaussian_copula(values: Tensor) -> Tensor:
    """Each column's values replaced by the standard normal quantile of their mid-rank."""
    n = values.shape[0]
    ranks = torch.argsort(torch.argsort(values, dim=0), dim=0).to(values.dtype)
    return torch.special.ndtri((ranks + 0.5) / n)


def _standardised(values: Tensor) -> Tensor:
    centred = values - values.mean(dim=0)
    std = column_std(centred)
    return centred / torch.where(std < _MIN_STD, torch.ones_like(std), std)


class LayerPartialler:
    """Residuals of X (all child columns) and of Y (a parent group) on the rest of the layer."""

    def __init__(self, layer: Tensor, children: Tensor, ridge: float, copula: bool) -> None:
        if copula:
            layer, children = gaussian_copula(layer), gaussian_copula(children)
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

        With no other columns the residuals are the centred (copula-transformed) data.
        """
        if columns.numel() == self.layer.shape[1]:
            return self.child_residuals + self.layer @ self.coefficients, self.layer
        own_inverse = self.inverse[columns][:, columns]
        parent = torch.linalg.solve(own_inverse, self.hat_columns[:, columns].T).T
        child = self.child_residuals + parent @ self.coefficients[columns]
        return child, parent
