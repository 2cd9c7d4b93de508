"""Compiled CPU kernels (numba) of EDGE's bandwidth, hashing and collision counting.

The torch formulation (:mod:`snacs.estimators.edge.bandwidth`, ``hashing``, ``counting``)
expresses every step as sorts and whole-array passes, which suits a GPU. On a CPU the
same steps are short loops over N samples whose scratch arrays stay in L1 cache: a
counting sort replaces each comparison sort, a hash table numbers the buckets, and the
collision counts of a z bucket are tallied in an array indexed by child id. That makes
SNACS's scoring several times faster on CPU, which is where most users run the
harness. Both formulations give the same estimates up to float rounding (this one
accumulates in float64 sample by sample, and numbers buckets in order of first
occurrence instead of sorted order, which changes no count); tests compare them.

Every kernel releases the GIL, so the estimator's worker threads run them in parallel.
"""

import numba
import numpy as np
import torch

# How an activation weight phi is applied; index = position in this tuple.
PHI_KINDS = (None, "act", "act_sq", "exp_act")
# Devices whose tensors these kernels handle; the estimator uses torch passes elsewhere.
COMPILED_DEVICE_TYPES = ("cpu",)

_EMPTY_TABLE_SLOT = -1


def uses_compiled(device: torch.device) -> bool:
    """Whether the estimator runs these kernels (True) or torch passes for ``device``."""
    return device.type in COMPILED_DEVICE_TYPES


def knn_widths(columns: np.ndarray, k: int, queries: np.ndarray) -> np.ndarray:
    """Mean distance from the query samples to their k-th nearest value, per row [B, N] -> [B].

    Same rule as :func:`snacs.estimators.edge.bandwidth.mean_knn_distance`: the k nearest
    values of a point are a window of k consecutive sorted values containing it, and
    the best window start is found by binary search on left gap vs right gap. Rows are
    sorted by numpy (a SIMD sort, several times faster than a compiled loop).
    """
    return _knn_widths_sorted(np.sort(columns, axis=1), columns[:, queries], k)


@numba.njit(cache=True, nogil=True)
def _knn_widths_sorted(sorted_rows: np.ndarray, query_values: np.ndarray, k: int) -> np.ndarray:
    n_rows, n = sorted_rows.shape
    widths = np.empty(n_rows)
    for row in range(n_rows):
        values = sorted_rows[row]
        total = 0.0
        for value in query_values[row]:
            position = np.searchsorted(values, value)  # any copy of a tied value will do
            low = min(max(position - (k - 1), 0), n - k)
            high = min(position, n - k)
            while low < high:
                middle = (low + high) // 2
                if values[middle + k - 1] - value >= value - values[middle]:
                    high = middle
                else:
                    low = middle + 1
            before = max(low - 1, 0)
            at_crossing = max(value - values[low], values[low + k - 1] - value)
            just_before = max(value - values[before], values[before + k - 1] - value)
            total += min(at_crossing, just_before)
        widths[row] = total / query_values.shape[1]
    return widths


@numba.njit(cache=True, nogil=True)
def bucket_ids(
    values: np.ndarray, eps: np.ndarray, shift: np.ndarray, need_norms: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense bucket ids of each block under each ensemble member.

    Args:
        values: float64 [B, N, d] (projected) blocks.
        eps, shift: float64 [L, B, d] bucket widths and offsets; a sample's bucket
            vector is floor((v + shift) / eps).
        need_norms: also return each sample's bucket-vector Euclidean norm.
    Returns:
        ids int32 [L, B, N] numbered 0..K-1 in order of first occurrence, K int64
        [L, B], norms float64 [L, B, N] (empty when not needed).
    """
    n_blocks, n, width = values.shape
    n_members = eps.shape[0]
    ids = np.empty((n_members, n_blocks, n), dtype=np.int32)
    sizes = np.empty((n_members, n_blocks), dtype=np.int64)
    norms = np.empty((n_members, n_blocks, n) if need_norms else (0, 0, 0))
    table_size = 1
    while table_size < 2 * n:
        table_size *= 2
    table = np.full(table_size, _EMPTY_TABLE_SLOT, dtype=np.int64)
    used = np.empty(n, dtype=np.int64)  # filled slots, emptied after each block
    coords = np.empty((n, width), dtype=np.int64)
    for member in range(n_members):
        for block in range(n_blocks):
            distinct = 0
            for sample in range(n):
                key = np.uint64(1469598103934665603)
                squares = 0.0
                for dim in range(width):
                    scaled = (values[block, sample, dim] + shift[member, block, dim]) / eps[
                        member, block, dim
                    ]
                    coord = np.int64(np.floor(scaled))
                    coords[sample, dim] = coord
                    squares += float(coord) * float(coord)
                    key = (key ^ np.uint64(coord)) * np.uint64(1099511628211)
                if need_norms:
                    norms[member, block, sample] = np.sqrt(squares)
                slot = np.int64(key >> np.uint64(11)) & (table_size - 1)
                while True:
                    first = table[slot]
                    if first == _EMPTY_TABLE_SLOT:
                        table[slot] = sample
                        used[distinct] = slot
                        ids[member, block, sample] = distinct
                        distinct += 1
                        break
                    same = True
                    for dim in range(width):
                        if coords[first, dim] != coords[sample, dim]:
                            same = False
                            break
                    if same:
                        ids[member, block, sample] = ids[member, block, first]
                        break
                    slot = (slot + 1) & (table_size - 1)
            sizes[member, block] = distinct
            for index in range(distinct):  # cheaper than refilling the table for small N
                table[used[index]] = _EMPTY_TABLE_SLOT
    return ids, sizes, norms


@numba.njit(cache=True, nogil=True, inline="always")
def _phi(product: float, kind: int) -> float:
    if kind == 1:
        return product
    if kind == 2:
        return product * product
    return np.exp(-0.5 * product * product)


@numba.njit(cache=True, nogil=True)
def _stable_order_by(keys: np.ndarray, n_keys: int, items: np.ndarray) -> np.ndarray:
    """``items`` stably reordered by ``keys[item]`` (a counting sort; keys < n_keys)."""
    starts = np.zeros(n_keys + 1, dtype=np.int64)
    for item in items:
        starts[keys[item] + 1] += 1
    for key in range(n_keys):
        starts[key + 1] += starts[key]
    ordered = np.empty_like(items)
    for item in items:
        ordered[starts[keys[item]]] = item
        starts[keys[item]] += 1
    return ordered


@numba.njit(cache=True, nogil=True)
def _clipped_sums(
    x_by_sample: np.ndarray,
    x_bound: int,
    y_ids: np.ndarray,
    z_ids: np.ndarray,
    x_norms: np.ndarray,
    other_norms: np.ndarray,
    phi_kind: int,
    lower: float,
    cap: float,
) -> np.ndarray:
    """Sums [C] over samples of phi * clip(log2(N_xyz N_z / (N_xz N_yz)), lower, cap).

    ``x_by_sample`` int32 [N, C] child ids (below ``x_bound``); ``y_ids``, ``z_ids`` [N];
    norms as in :func:`conditional_sums` for one member (``other_norms`` already holds
    y norm times z norm per sample). Z buckets are small (a few samples), so the loops run over the
    buckets once and over all child blocks inside: the per-bucket bookkeeping is shared
    and the child blocks' tallies are independent work for the CPU to overlap.
    """
    n, n_children = x_by_sample.shape
    samples = _stable_order_by(y_ids, y_ids.max() + 1, np.arange(n))
    samples = _stable_order_by(z_ids, z_ids.max() + 1, samples)  # by (z, y)
    ordered_x = np.empty((n, n_children), dtype=np.int32)
    for pos in range(n):
        for child in range(n_children):
            ordered_x[pos, child] = x_by_sample[samples[pos], child]
    log2_count = np.log2(np.arange(n + 1).astype(np.float64))

    def weight(child: int, sample: int) -> float:
        if phi_kind == 0:
            return 1.0
        return _phi(x_norms[child, sample] * other_norms[sample], phi_kind)

    sums = np.zeros(n_children)
    in_xz = np.zeros((n_children, x_bound), dtype=np.int32)  # tallies, reset after each run
    in_xyz = np.zeros((n_children, x_bound), dtype=np.int32)
    start = 0
    while start < n:
        z = z_ids[samples[start]]
        end = start + 1
        while end < n and z_ids[samples[end]] == z:
            end += 1
        y_first = y_ids[samples[start]]
        if y_ids[samples[end - 1]] == y_first:
            # one y bucket in this z bucket: every term is exactly the lower clip
            for pos in range(start, end):
                for child in range(n_children):
                    sums[child] += lower * weight(child, samples[pos])
            start = end
            continue
        for pos in range(start, end):
            for child in range(n_children):
                in_xz[child, ordered_x[pos, child]] += 1
        log2_z = log2_count[end - start]
        run = start
        while run < end:
            y = y_ids[samples[run]]
            run_end = run + 1
            while run_end < end and y_ids[samples[run_end]] == y:
                run_end += 1
            z_part = log2_z - log2_count[run_end - run]
            if run_end - run == 1:  # a cell of one sample: N_xyz = 1, no tally needed
                for child in range(n_children):
                    term = z_part - log2_count[in_xz[child, ordered_x[run, child]]]
                    sums[child] += min(max(term, lower), cap) * weight(child, samples[run])
                run = run_end
                continue
            for pos in range(run, run_end):
                for child in range(n_children):
                    in_xyz[child, ordered_x[pos, child]] += 1
            for pos in range(run, run_end):
                for child in range(n_children):
                    x = ordered_x[pos, child]
                    term = log2_count[in_xyz[child, x]] - log2_count[in_xz[child, x]] + z_part
                    sums[child] += min(max(term, lower), cap) * weight(child, samples[pos])
            for pos in range(run, run_end):
                for child in range(n_children):
                    in_xyz[child, ordered_x[pos, child]] = 0
            run = run_end
        for pos in range(start, end):
            for child in range(n_children):
                in_xz[child, ordered_x[pos, child]] = 0
        start = end
    return sums


@numba.njit(cache=True, nogil=True)
def _within_bucket_source(z_ids: np.ndarray, random_order: np.ndarray) -> np.ndarray:
    """Permutation that only exchanges samples sharing a z bucket.

    The k-th sample (in index order) of each z bucket takes the y of the k-th sample
    of that bucket in ``random_order``; ``source[s]`` is the sample whose y s receives.
    """
    n_keys = z_ids.max() + 1
    grouped = _stable_order_by(z_ids, n_keys, np.arange(z_ids.shape[0]))
    shuffled = _stable_order_by(z_ids, n_keys, random_order)
    source = np.empty_like(grouped)
    source[grouped] = shuffled
    return source


@numba.njit(cache=True, nogil=True)
def conditional_sums(
    x_ids: np.ndarray,
    y_ids: np.ndarray,
    z_ids: np.ndarray,
    random_order: np.ndarray,
    x_norms: np.ndarray,
    y_norms: np.ndarray,
    z_norms: np.ndarray,
    phi_kind: int,
    lower: float,
    cap: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Clipped-term sums [L, C] of every member and child block, and of the null copy.

    Args:
        x_ids: int32 [L, C, N] child bucket ids; ``y_ids``, ``z_ids``: int [L, N].
        random_order: int64 [L, N] a random permutation per member for the null copy
            (Y shuffled within z buckets); an empty [L, 0] array skips the null.
        x_norms [L, C, N], y_norms and z_norms [L, N]: bucket-vector norms, read only
            when ``phi_kind`` (an index into :data:`PHI_KINDS`) is not 0.
    Returns:
        (sums, null sums), both float64 [L, C]; the null sums are zero when skipped.
    """
    n_members, n_children, n = x_ids.shape
    x_bound = x_ids.max() + 1
    weighted = phi_kind != 0
    with_null = random_order.shape[1] == n
    sums = np.zeros((n_members, n_children))
    null = np.zeros((n_members, n_children))
    for member in range(n_members):
        x_by_sample = np.ascontiguousarray(x_ids[member].T)
        x_member_norms = x_norms[member] if weighted else x_norms[0]
        other = y_norms[member] * z_norms[member] if weighted else y_norms[0]
        sums[member] = _clipped_sums(
            x_by_sample, x_bound, y_ids[member], z_ids[member], x_member_norms, other,
            phi_kind, lower, cap,
        )  # fmt: skip
        if with_null:
            source = _within_bucket_source(z_ids[member], random_order[member])
            if weighted:
                other = y_norms[member][source] * z_norms[member]
            null[member] = _clipped_sums(
                x_by_sample, x_bound, y_ids[member][source], z_ids[member], x_member_norms, other,
                phi_kind, lower, cap,
            )  # fmt: skip
    return sums, null


@numba.njit(cache=True, nogil=True)
def _pair_sum(
    xs: np.ndarray,
    ys: np.ndarray,
    y_size: int,
    joint: np.ndarray,
    x_counts: np.ndarray,
    y_counts: np.ndarray,
    log2_count: np.ndarray,
    lower: float,
    cap: float,
) -> float:
    """Sum over samples of clip(log2(N N_xy / (N_x N_y)), lower, cap); scratch left zeroed."""
    n = xs.shape[0]
    for sample in range(n):
        joint[xs[sample] * y_size + ys[sample]] += 1
        x_counts[xs[sample]] += 1
        y_counts[ys[sample]] += 1
    total = 0.0
    log2_n = log2_count[n]
    for sample in range(n):
        term = (
            log2_count[joint[xs[sample] * y_size + ys[sample]]]
            + log2_n
            - log2_count[x_counts[xs[sample]]]
            - log2_count[y_counts[ys[sample]]]
        )
        total += min(max(term, lower), cap)
    for sample in range(n):
        joint[xs[sample] * y_size + ys[sample]] = 0
        x_counts[xs[sample]] = 0
        y_counts[ys[sample]] = 0
    return total


@numba.njit(cache=True, nogil=True)
def pair_sums(
    x_ids: np.ndarray,
    y_ids: np.ndarray,
    y_sizes: np.ndarray,
    random_order: np.ndarray,
    lower: float,
    cap: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Clipped-term sums [L, P] of pairs (X_p, Y_p) of 1-block codes, and of the null copy.

    Args:
        x_ids, y_ids: int32 [L, P, N] bucket ids (dense per member and pair).
        y_sizes: int64 [L, P] number of y buckets.
        random_order: int64 [L, N] a permutation per member (Y shuffled over all samples
            for the null copy); an empty [L, 0] array skips the null.
    """
    n_members, n_pairs, n = x_ids.shape
    with_null = random_order.shape[1] == n
    x_bound = x_ids.max() + 1
    y_bound = y_ids.max() + 1
    cells = 0
    for member in range(n_members):
        for pair in range(n_pairs):
            cells = max(cells, (x_ids[member, pair].max() + 1) * y_sizes[member, pair])
    joint = np.zeros(cells, dtype=np.int32)
    x_counts = np.zeros(x_bound, dtype=np.int32)
    y_counts = np.zeros(y_bound, dtype=np.int32)
    log2_count = np.log2(np.arange(n + 1).astype(np.float64))
    sums = np.zeros((n_members, n_pairs))
    null = np.zeros((n_members, n_pairs))
    shuffled = np.empty(n, dtype=y_ids.dtype)
    for member in range(n_members):
        for pair in range(n_pairs):
            xs, ys, y_size = x_ids[member, pair], y_ids[member, pair], y_sizes[member, pair]
            sums[member, pair] = _pair_sum(
                xs, ys, y_size, joint, x_counts, y_counts, log2_count, lower, cap
            )
            if with_null:
                for sample in range(n):
                    shuffled[sample] = ys[random_order[member, sample]]
                null[member, pair] = _pair_sum(
                    xs, shuffled, y_size, joint, x_counts, y_counts, log2_count, lower, cap
                )
    return sums, null
