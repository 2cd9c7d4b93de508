"""EDGE's automatic bucket width: a scaled mean 1-D k-nearest-neighbour distance.

EDGE hashes every (projected) coordinate with its own width. The reference rule takes,
per coordinate, the mean distance from a few hundred random sample points to their k-th
nearest neighbour along that coordinate alone, with k growing like N^(2/3+...), and
scales it by a dimension-dependent factor. In 1-D no distance matrix is needed: after
sorting a column, the k nearest values of a point form a window of k consecutive sorted
values containing the point. Over the windows starting at i = p-k+1 .. p, the distance
to the window's left end falls and to its right end grows, so the best window is found
by a binary search (O(log k) per query).
"""

import functools
import math

import numpy as np
import torch
from torch import Tensor

_KNN_STREAM = 0x6B6E6E  # decorrelates the query draw from the projection draws


def knn_order(n_samples: int, projected_dim: int) -> int:
    """The reference rule k = floor(0.43 N^(2/3 + 0.17 d/(d+1)) exp(-1/max(1e4, d^4))).

    ``projected_dim`` is the width after projection; k is kept within [1, N].
    """
    d = projected_dim
    exponent = 2.0 / 3.0 + 0.17 * d / (d + 1.0)
    k = math.floor(0.43 * n_samples**exponent * math.exp(-1.0 / max(1e4, d**4)))
    return min(max(k, 1), n_samples)


def width_scale(projected_dim: int, original_dim: int, gamma: float) -> float:
    """Multiplier c * 0.4 * gamma with c = 18 d' / max(1 + ln d, 1) from the reference."""
    c = 18.0 * projected_dim / max(1.0 + math.log(original_dim), 1.0)
    return c * 0.4 * gamma


def query_indices(n_samples: int, n_queries: int, seed: int) -> np.ndarray:
    """Sample indices (drawn with replacement) whose k-NN distances set the width.

    The same indices serve every column, so one seed fixes all bandwidths.
    """
    return _query_draw(n_samples, n_queries, seed).copy()


@functools.lru_cache(maxsize=8)
def _query_draw(n_samples: int, n_queries: int, seed: int) -> np.ndarray:
    """The draw behind :func:`query_indices`, made once: every hashing call repeats it."""
    rng = np.random.default_rng([seed, _KNN_STREAM])
    return rng.integers(0, n_samples, size=n_queries)


def mean_knn_distance(columns: Tensor, k: int, queries: Tensor) -> Tensor:
    """Mean distance from the query samples to their k-th nearest value, per column.

    Args:
        columns: [B, N] values; each row is one 1-D coordinate.
        k: neighbour order, counting the query point itself as the first neighbour
            (as a k-NN search fitted on the same data does).
        queries: [Q] sample indices.
    Returns:
        [B] mean k-th neighbour distance.
    """
    n = columns.shape[1]
    sorted_vals, order = torch.sort(columns, dim=1)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(n, device=columns.device).expand_as(order))
    position = rank[:, queries]
    value = columns[:, queries]

    def left_gap(start: Tensor) -> Tensor:
        return value - sorted_vals.gather(1, start)

    def right_gap(start: Tensor) -> Tensor:
        return sorted_vals.gather(1, start + (k - 1)) - value

    # first window start in [low, high] whose right gap reaches its left gap (or high)
    low = (position - (k - 1)).clamp(0, n - k)
    high = position.clamp(0, n - k)
    for _ in range(k.bit_length()):
        middle = (low + high) // 2
        right_wins = right_gap(middle) >= left_gap(middle)
        searching = low < high
        high = torch.where(searching & right_wins, middle, high)
        low = torch.where(searching & ~right_wins, middle + 1, low)
    before = (low - 1).clamp_min(0)
    at_crossing = torch.maximum(left_gap(low), right_gap(low))
    just_before = torch.maximum(left_gap(before), right_gap(before))
    return torch.minimum(at_crossing, just_before).mean(dim=1)
