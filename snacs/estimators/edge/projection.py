"""EDGE's dimension reduction: seeded Gaussian ("p-stable") projections of column blocks.

Counting collisions in many dimensions leaves almost every sample alone in its bucket,
so a block wider than ``projection_threshold`` columns is reduced to
d' = min(d, floor(log2(N/10))) coordinates by a random Gaussian matrix whose entries for
input column i are N(0, 1/(sigma_i^2 d)), sigma_i the column's standard deviation (so
every column contributes on the same scale whatever its units).

The Gaussian matrices are keyed by *column of the layer*: row i of a stream's matrix
belongs to column i of the layer whatever block the column is in. A block's projection
is therefore a slice of one layer-wide product, and the projection of "every column
except group g" (the conditioning set Z of ACMI) is the layer-wide product minus group
g's part: one [N, W] x [W, d'] product per layer instead of one per parent group, and
no copy of the N x (W - |g|) columns.
"""

import functools
import math
import threading

import numpy as np
import torch
from torch import Tensor

from snacs.estimators.edge.options import EdgeOptions

# Coordinate standard deviations below this are treated as 1 when scaling the
# projection (reference value), so constant columns do not blow up the projection.
_MIN_STD = 1e-4


class Stream:
    """Seed sub-streams, so the X, Y, Z and [Y, Z] projections are independent draws."""

    CHILD = 1
    PARENT = 2
    REST = 3
    PARENT_AND_REST = 4


def column_std(values: Tensor) -> Tensor:
    """Population standard deviation of each column of [N, d].

    Written as two column sums: on CPU that is several times faster than ``Tensor.std``
    over dim 0, which mattered at the scale of the speed study.
    """
    n = values.shape[0]
    centred = values - values.sum(dim=0) / n
    return (centred.square_().sum(dim=0) / n).sqrt()


def _columns_of(values: Tensor, columns: Tensor) -> Tensor:
    """values[:, columns]; a view when the columns are one increasing run (group ids are)."""
    first, count = int(columns[0]), columns.numel()
    if int(columns[-1]) - first == count - 1 and bool((columns.diff() == 1).all()):
        return values.narrow(1, first, count)
    return values.index_select(1, columns)


def projected_width(width: int, n_samples: int, options: EdgeOptions) -> int:
    """Width after hashing's dimension reduction: d' = min(d, floor(log2(N/10))) if d is wide."""
    if width <= options.projection_threshold:
        return width
    return min(width, max(1, math.floor(math.log2(n_samples / 10.0))))


@functools.lru_cache(maxsize=32)
def _gaussian_rows(seed: int, stream: int, layer_width: int, out_width: int) -> Tensor:
    """Standard normal [W, d'] matrix of one stream of a W-column layer (CPU, cached)."""
    rng = np.random.default_rng([seed, stream, layer_width, out_width])
    return torch.from_numpy(rng.standard_normal((layer_width, out_width)))


class LayerProjector:
    """Projects blocks of columns of one layer [N, W] with one stream's Gaussian rows."""

    def __init__(
        self,
        values: Tensor,
        stream: int,
        options: EdgeOptions,
        standardised: Tensor | None = None,
    ) -> None:
        self.values = values
        self.stream = stream
        self.options = options
        if standardised is None:
            std = column_std(values)
            standardised = values / torch.where(std < _MIN_STD, torch.ones_like(std), std)
        self._standardised = standardised
        self._layer_products: dict[int, Tensor] = {}
        self._lock = threading.Lock()  # worker threads share one projector

    def with_stream(self, stream: int) -> "LayerProjector":
        """A projector of the same layer with another stream's rows (no recomputation)."""
        return LayerProjector(self.values, stream, self.options, self._standardised)

    @property
    def n_samples(self) -> int:
        return self.values.shape[0]

    @property
    def width(self) -> int:
        return self.values.shape[1]

    def _rows(self, out_width: int) -> Tensor:
        rows = _gaussian_rows(self.options.seed, self.stream, self.width, out_width)
        return rows.to(self.values.device)

    def _layer_product(self, out_width: int) -> Tensor:
        """Standardised layer times all Gaussian rows [N, d'] (computed once per d')."""
        with self._lock:
            if out_width not in self._layer_products:
                self._layer_products[out_width] = self._standardised @ self._rows(out_width)
            return self._layer_products[out_width]

    def block(self, columns: Tensor) -> Tensor:
        """[N, d'] projection of the given columns (the raw columns when narrow)."""
        width = columns.numel()
        out_width = projected_width(width, self.n_samples, self.options)
        if width <= self.options.projection_threshold:
            return _columns_of(self.values, columns)
        if width == self.width:
            return self._layer_product(out_width) / math.sqrt(width)
        part = _columns_of(self._standardised, columns) @ self._rows(out_width)[columns]
        return part / math.sqrt(width)

    def complement(self, columns: Tensor) -> Tensor | None:
        """Projection of every column *not* listed (None when there is none left)."""
        width = self.width - columns.numel()
        if width == 0:
            return None
        out_width = projected_width(width, self.n_samples, self.options)
        if width <= self.options.projection_threshold:
            keep = torch.ones(self.width, dtype=torch.bool, device=self.values.device)
            keep[columns] = False
            return self.values[:, keep]
        part = _columns_of(self._standardised, columns) @ self._rows(out_width)[columns]
        return (self._layer_product(out_width) - part) / math.sqrt(width)
