"""MINT's conditional geometric mutual information, the comparator of SNACS's speed claim.

MINT (Ganesh, Corso, Sekeh, ICPR 2020) scores a (child group, parent group) pair by the
conditional geometric (Henze-Penrose) mutual information I_GMI(X; Y | Z): X = child group
activations, Y = the parent group, Z = all other parent filters. It is the Henze-Penrose
divergence between the true joint p(x, y, z) and the conditional-independence law
p(x|z) p(y|z) p(z), estimated with the Friedman-Rafsky statistic. The recipe, as in MINT:

1. A seeded permutation splits the N samples into three equal thirds S1, S2, S3 of
   n = N // 3 samples each; the N mod 3 left-over samples are dropped so that both point sets
   below have the same size (m = n), which makes the statistic the spec's 1 - R / (N/3).
2. Surrogate of p(x|z) p(y|z) p(z) (nearest-neighbour bootstrap): every S1 sample keeps its
   (x, z) and takes the y of the S2 sample whose z is its Euclidean nearest neighbour. Without
   Z (a single parent group) there is nothing to condition on, so S1 sample i simply takes the
   y of S2 sample i, a random pairing that samples p(x) p(y).
3. The m surrogate points (from S1) and the n true joint points (S3) are pooled, the Euclidean
   minimum spanning tree of the pooled set is built from the full pairwise distance matrix, and
   R counts its edges that join a surrogate point to a true point. The estimate is
   1 - R (m + n) / (2 m n), clipped at 0 (the statistic can dip below 0 by chance). One split,
   no ensemble, exactly one MST per pair: that O(N^2)-per-pair cost is the point of comparison.

Implementation notes (why it looks the way it does):

* The MST only depends on the order of the edge weights, so squared distances are used and no
  square root is taken. Squared distances add over coordinates, so for the concatenated point
  (x, y, z) the matrix is D_x + D_y + D_z; `gmi_matrix` computes D_x once per child group and
  D_y + D_z once per parent group, and each pair only adds two cached vectors.
* Only the strict upper triangle is kept and handed to SciPy as a CSR graph. Dense input would
  be slower (Kruskal sorts twice the edges) and lossy: SciPy rounds dense entries below 1e-8 to
  "no edge" and drops zero-weight edges, so tiny activations or duplicate samples (the
  activation subset is drawn with replacement) would silently disconnect the graph. Zero
  distances are therefore raised to the smallest positive double, which keeps the edge order.
* Columns are centred before the ||a||^2 + ||b||^2 - 2ab expansion; distances do not change,
  but the cancellation error of that expansion shrinks for activations with a large mean.
"""

from collections.abc import Sequence

import numpy as np
import torch
from scipy.sparse import csr_array
from scipy.sparse.csgraph import minimum_spanning_tree
from tqdm import tqdm

_SMALLEST_EDGE = float(np.finfo(np.float64).tiny)

Samples = np.ndarray | torch.Tensor
GroupIds = Sequence[int] | np.ndarray


def fr_conditional_gmi(x: Samples, y: Samples, z: Samples, seed: int = 0) -> float:
    """Estimate I_GMI(X; Y | Z) for one triple of sample arrays (rows = the N samples).

    `x`, `y`, `z` are arrays of shape [N] or [N, d]; `z` may have zero columns. This is the
    direct, per-pair definition; `gmi_matrix` gives the same numbers for many pairs faster.
    """
    x, y, z = (_as_centred_columns(a, "cpu") for a in (x, y, z))
    num_samples = _common_num_samples([x, y, z])
    first, second, third = _split_thirds(num_samples, seed)
    neighbours = _nearest_neighbours(z[first], z[second])
    surrogate = torch.cat([x[first], y[second[neighbours]], z[first]], dim=1)
    joint = torch.cat([x[third], y[third], z[third]], dim=1)
    graph = _UpperTriangleGraph(2 * len(first), "cpu")
    weights = graph.pairwise_sq_dists(torch.cat([surrogate, joint]))
    return graph.hp_divergence(weights, num_first=len(first))


def gmi_matrix(
    child_acts: Samples,
    child_group_ids: GroupIds,
    parent_acts: Samples,
    parent_group_ids: GroupIds,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> np.ndarray:
    """Score every (child group, parent group) pair of one layer pair with MINT's estimator.

    `child_acts` [N, C] and `parent_acts` [N, P] are per-filter activations; the group id
    arrays label each column. Row i / column j of the result belong to the i-th / j-th
    smallest child / parent group id. Entry (c, g) equals
    `fr_conditional_gmi(child[:, c], parent[:, g], parent[:, not g], seed)`, with the same
    split for every pair. Distance algebra runs in float64 on `device`; the MSTs on the CPU.
    Memory: one cached vector of (2N/3)^2 / 2 doubles per child group (7 MB at N = 2000).
    """
    child = _as_centred_columns(child_acts, device)
    parent = _as_centred_columns(parent_acts, device)
    num_samples = _common_num_samples([child, parent])
    child_groups = _group_columns(child_group_ids, child.shape[1], "child")
    parent_groups = _group_columns(parent_group_ids, parent.shape[1], "parent")
    first, second, third = _split_thirds(num_samples, seed)
    pooled_rows = np.concatenate([first, third])
    graph = _UpperTriangleGraph(len(pooled_rows), device)

    child_pooled = child[pooled_rows]
    child_dists = [graph.pairwise_sq_dists(child_pooled[:, cols]) for cols in child_groups]
    parent_pooled = parent[pooled_rows]
    all_parent_dists = graph.pairwise_sq_dists(parent_pooled)
    all_parent_cross = _sq_dists(parent[first], parent[second])

    scores = np.zeros((len(child_groups), len(parent_groups)))
    groups = enumerate(parent_groups)
    if progress:
        groups = tqdm(groups, total=len(parent_groups), desc="MINT GMI (parent groups)")
    for g, cols in groups:
        y_first, y_second = parent[first][:, cols], parent[second][:, cols]
        if len(cols) == parent.shape[1]:  # no other parents: Z is empty
            neighbours = np.arange(len(first))
        else:
            z_cross = all_parent_cross - _sq_dists(y_first, y_second)
            neighbours = torch.argmin(z_cross, dim=1).cpu().numpy()
        z_dists = (all_parent_dists - graph.pairwise_sq_dists(parent_pooled[:, cols])).clamp_(0)
        y_rows = np.concatenate([second[neighbours], third])
        yz_dists = graph.pairwise_sq_dists(parent[y_rows][:, cols]).add_(z_dists)
        for c, x_dists in enumerate(child_dists):
            scores[c, g] = graph.hp_divergence(x_dists + yz_dists, num_first=len(first))
    return scores


class _UpperTriangleGraph:
    """Complete graph on `num_points` points, edges stored as the strict upper triangle.

    Holds the row-major triangle index (for gathering from a full distance matrix) and the
    matching CSR structure, both fixed by the point count and built once per call.
    """

    def __init__(self, num_points: int, device: str | torch.device):
        rows, cols = np.triu_indices(num_points, k=1)
        self.num_points = num_points
        self._flat_index = torch.as_tensor(rows * num_points + cols, device=device)
        self._csr_indices = cols.astype(np.int32)
        row_lengths = np.arange(num_points - 1, -1, -1)
        self._csr_indptr = np.concatenate([[0], np.cumsum(row_lengths)]).astype(np.int32)

    def pairwise_sq_dists(self, points: torch.Tensor) -> torch.Tensor:
        """Squared Euclidean distances of all point pairs, as an upper-triangle vector."""
        return _sq_dists(points, points).reshape(-1)[self._flat_index].clamp_(0)

    def hp_divergence(self, sq_dists: torch.Tensor, num_first: int) -> float:
        """Friedman-Rafsky estimate 1 - R (m + n) / (2 m n) for points [first set; second set].

        `sq_dists` is clamped in place, so pass a temporary.
        """
        weights = sq_dists.clamp_(min=_SMALLEST_EDGE).cpu().numpy()
        shape = (self.num_points, self.num_points)
        graph = csr_array((weights, self._csr_indices, self._csr_indptr), shape=shape)
        tree = minimum_spanning_tree(graph)  # not overwrite=True: it reuses our index arrays
        tree_rows = np.repeat(np.arange(self.num_points), np.diff(tree.indptr))
        cross_edges = np.count_nonzero((tree_rows < num_first) != (tree.indices < num_first))
        m, n = num_first, self.num_points - num_first
        return max(0.0, 1.0 - cross_edges * (m + n) / (2.0 * m * n))


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """All squared Euclidean distances between the rows of `a` and `b`, via one matrix product."""
    a_norms = (a * a).sum(dim=1, keepdim=True)
    b_norms = (b * b).sum(dim=1, keepdim=True)
    return torch.addmm(a_norms + b_norms.T, a, b.T, alpha=-2.0)


def _nearest_neighbours(queries: torch.Tensor, references: torch.Tensor) -> np.ndarray:
    """Index of each query's nearest reference; with no columns, query i pairs with reference i."""
    if queries.shape[1] == 0:
        return np.arange(len(queries))
    return torch.argmin(_sq_dists(queries, references), dim=1).cpu().numpy()


def _split_thirds(num_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded split into three equal thirds; the N mod 3 left-over samples are dropped."""
    third = num_samples // 3
    if third < 1:
        raise ValueError(f"MINT's estimator needs at least 3 samples, got {num_samples}")
    order = np.random.default_rng(seed).permutation(num_samples)
    return order[:third], order[third : 2 * third], order[2 * third : 3 * third]


def _as_centred_columns(values: Samples, device: str | torch.device) -> torch.Tensor:
    """Float64 [N, d] tensor with zero-mean columns (distances are translation invariant)."""
    tensor = torch.as_tensor(values, dtype=torch.float64, device=device)
    if tensor.ndim == 1:
        tensor = tensor[:, None]
    if tensor.ndim != 2:
        raise ValueError(f"expected samples x features, got shape {tuple(tensor.shape)}")
    if tensor.shape[1] == 0:
        return tensor
    return tensor - tensor.mean(dim=0, keepdim=True)


def _common_num_samples(arrays: list[torch.Tensor]) -> int:
    """The shared row count; mismatched rows mean the samples were not aligned."""
    counts = {len(a) for a in arrays}
    if len(counts) != 1:
        raise ValueError(f"all inputs need the same number of samples, got {sorted(counts)}")
    return counts.pop()


def _group_columns(group_ids: GroupIds, num_columns: int, role: str) -> list[np.ndarray]:
    """Column indices of each group, ordered by ascending group id."""
    ids = np.asarray(group_ids)
    if ids.shape != (num_columns,):
        raise ValueError(f"{role} group ids have shape {ids.shape}, expected ({num_columns},)")
    return [np.flatnonzero(ids == label) for label in np.unique(ids)]
