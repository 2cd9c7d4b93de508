"""Collision counting of EDGE: turn bucket ids into (conditional) MI estimates.

For one ensemble member and one child block the conditional estimate is

    I(X;Y|Z) = (1/N) sum over samples s of
               phi * clip(log2(N_xyz N_z / (N_xz N_yz)), 0.001, U)

where the counts are those of the cell s falls in; summing over samples equals the
usual sum over occupied cells weighted by N_xyz. With Z absent (one z bucket) it is
EDGE's plain MI estimate.

On CPU the compiled kernel :func:`snacs.estimators.edge.compiled.conditional_sums` does the
counting. Elsewhere (GPUs) torch passes count all child blocks together without a Python
loop per (child, parent) pair: per ensemble member the samples are ordered once by
(z, yz) (shared by every child block), then each child row is stably sorted by its x id.
In that order every (x, z) cell and every (x, y, z) cell is a run of consecutive
samples, so all four counts are run lengths.

A sample whose z bucket holds a single y bucket has N_xyz = N_xz and N_yz = N_z, so its
term is exactly the 0.001 floor whatever X is; such samples (typically a quarter when Z
is wide) are added as a constant and skip the sort.

The optional null correction repeats the count with Y shuffled inside each Z bucket
(one seeded shuffle per ensemble member, shared by all child blocks) and subtracts it.
"""

import functools

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional

from snacs.estimators.edge.compiled import PHI_KINDS, conditional_sums, pair_sums, uses_compiled
from snacs.estimators.edge.hashing import BlockCodes, rank_rows
from snacs.estimators.edge.options import LOWER_CLIP_BITS, EdgeOptions

_NULL_STREAM = 0x6E756C6C  # seed sub-stream of the within-bucket shuffle
# Rows of (member, child block) counted at once: small enough that the per-sample
# arrays stay in cache, which makes the element-wise passes several times faster.
_ELEMENTS_PER_CHUNK = 1 << 17


def _run_log2_lengths(same_as_previous: Tensor, log2_count: Tensor) -> Tensor:
    """log2 of the length of the run each element belongs to; [R, M-1] -> flat [R*M].

    Forcing a run start at every row start lets one flat cumulative sum number the runs
    of all rows at once.
    """
    starts = functional.pad(~same_as_previous, (1, 0), value=True)
    run = torch.cumsum(starts.view(-1), dim=0, dtype=torch.int32)
    return log2_count.index_select(0, torch.bincount(run)).index_select(0, run)


def _phi(product: Tensor, activation_phi: str) -> Tensor:
    """Activation weight of a cell from the product of its bucket-vector norms."""
    if activation_phi == "act":
        return product
    if activation_phi == "act_sq":
        return product.square()
    return torch.exp(-0.5 * product.square())


@functools.lru_cache(maxsize=4)
def _random_order(seed: int, n_members: int, n: int) -> Tensor:
    """A seeded random permutation of the N samples per member (CPU, cached)."""
    rng = np.random.default_rng([seed, _NULL_STREAM])
    return torch.argsort(torch.from_numpy(rng.random((n_members, n))), dim=1)


def _shuffle_within_buckets(z_ids: Tensor, seed: int) -> Tensor:
    """Seeded permutation [L, N] that only exchanges samples sharing a z bucket.

    ``source[l, s]`` is the sample whose y takes the place of sample s's y.
    """
    random_order = _random_order(seed, *z_ids.shape).to(z_ids.device)
    regrouped = torch.sort(z_ids.gather(1, random_order), dim=1, stable=True).indices
    shuffled = random_order.gather(1, regrouped)  # grouped by z, random within a group
    grouped = torch.sort(z_ids, dim=1, stable=True).indices  # grouped by z, in sample order
    return torch.empty_like(grouped).scatter_(1, grouped, shuffled)


def _count_member(
    x_ids: Tensor,
    samples: Tensor,
    z_ids: Tensor,
    yz_ids: Tensor,
    z_part: Tensor,
    weight: tuple[Tensor, Tensor] | None,
    options: EdgeOptions,
) -> Tensor:
    """Sums [R] over ``samples`` (listed in (z, yz) order) of each row's clipped terms.

    ``z_ids``, ``yz_ids`` and ``z_part`` = log2(N_z / N_yz) are given per listed sample;
    ``weight`` holds (x norms [R, N], y*z norms per listed sample) for an activation phi.
    """
    shape = (x_ids.shape[0], samples.numel())
    listed = samples.expand(shape)  # a broadcast gather is much faster than index_select
    x_in_order = x_ids.gather(1, listed)
    position = torch.sort(x_in_order, dim=-1, stable=True).indices

    def at_position(per_sample: Tensor) -> Tensor:
        return per_sample.expand(shape).gather(1, position)

    x_sorted = x_in_order.gather(1, position)
    z_rows = at_position(z_ids)
    yz_rows = at_position(yz_ids)
    same_xz = (x_sorted[:, 1:] == x_sorted[:, :-1]) & (z_rows[:, 1:] == z_rows[:, :-1])
    same_xyz = same_xz & (yz_rows[:, 1:] == yz_rows[:, :-1])
    log2_count = torch.log2(torch.arange(shape[1] + 1, device=x_ids.device, dtype=torch.float32))
    terms = _run_log2_lengths(same_xyz, log2_count)
    terms -= _run_log2_lengths(same_xz, log2_count)
    terms = terms.view(shape).add_(at_position(z_part))
    terms.clamp_(LOWER_CLIP_BITS, options.cap)
    if weight is not None:
        x_norms, other_norms = weight
        product = x_norms.gather(1, listed).gather(1, position)
        product *= at_position(other_norms)
        terms *= _phi(product, options.activation_phi)
    return terms.sum(dim=1, dtype=torch.float64)


def _count(
    x: BlockCodes,
    y_ids: Tensor,
    z_ids: Tensor,
    other_norms: Tensor | None,
    options: EdgeOptions,
) -> Tensor:
    """Base estimates [L, C] from dense y and z ids [L, N] (int64)."""
    n_members, n_children, n = x.ids.shape
    device = x.ids.device
    y_size = int(y_ids.max()) + 1
    # yz ids numbered in (z, y) order, so sorting by yz also groups equal z
    yz_ids, _, order = rank_rows(z_ids * y_size + y_ids)  # order [L, N] groups equal yz
    z_sorted = z_ids.gather(1, order).to(torch.int32)
    yz_sorted = yz_ids.gather(1, order).to(torch.int32)
    log2_count = torch.log2(torch.arange(n + 1, device=device, dtype=torch.float32))
    log_n_z = _run_log2_lengths(z_sorted[:, 1:] == z_sorted[:, :-1], log2_count)
    log_n_yz = _run_log2_lengths(yz_sorted[:, 1:] == yz_sorted[:, :-1], log2_count)
    z_part = (log_n_z - log_n_yz).view(n_members, n)  # log2(N_z / N_yz) per sorted position

    sums = torch.empty((n_members, n_children), dtype=torch.float64, device=device)
    rows_per_chunk = max(1, _ELEMENTS_PER_CHUNK // n)
    for member in range(n_members):
        varying = z_part[member] > 0  # z buckets holding more than one y bucket
        listed = torch.nonzero(varying).squeeze(1)
        samples = order[member].index_select(0, listed)
        floor_samples = order[member][~varying]
        n_floor = floor_samples.numel()
        for first in range(0, n_children, rows_per_chunk):
            rows = slice(first, first + rows_per_chunk)
            x_ids = x.ids[member, rows]
            if other_norms is None:
                floor_sum = torch.full_like(sums[member, rows], LOWER_CLIP_BITS * n_floor)
                weight = None
            else:
                x_norms = x.norms[member, rows]
                product = x_norms[:, floor_samples] * other_norms[member, floor_samples]
                floor_phi = _phi(product, options.activation_phi)
                floor_sum = LOWER_CLIP_BITS * floor_phi.sum(dim=1, dtype=torch.float64)
                weight = (x_norms, other_norms[member].index_select(0, samples))
            if listed.numel() == 0:
                sums[member, rows] = floor_sum
                continue
            counted = _count_member(
                x_ids,
                samples,
                z_sorted[member].index_select(0, listed),
                yz_sorted[member].index_select(0, listed),
                z_part[member].index_select(0, listed),
                weight,
                options,
            )
            sums[member, rows] = counted + floor_sum
    return sums / n


def _compiled_estimates(
    x: BlockCodes, y: BlockCodes, z: BlockCodes | None, options: EdgeOptions
) -> Tensor:
    """:func:`conditional_estimates` by the compiled CPU kernel (same estimates)."""
    n_members, _, n = x.ids.shape
    y_ids = y.ids[:, 0].numpy()
    z_ids = np.zeros_like(y_ids) if z is None else z.ids[:, 0].numpy()
    if options.subtracts_null:
        random_order = _random_order(options.seed, n_members, n).numpy()
    else:
        random_order = np.empty((n_members, 0), dtype=np.int64)
    unused = np.zeros((1, 1, 1))
    x_norms, y_norms, z_norms = unused, unused[0], unused[0]
    if options.activation_phi is not None:
        x_norms, y_norms = x.norms.numpy(), y.norms[:, 0].numpy()
        z_norms = np.ones_like(y_norms) if z is None else z.norms[:, 0].numpy()
    sums, null = conditional_sums(
        x.ids.numpy(),
        y_ids,
        z_ids,
        random_order,
        x_norms,
        y_norms,
        z_norms,
        PHI_KINDS.index(options.activation_phi),
        LOWER_CLIP_BITS,
        options.cap,
    )
    return torch.from_numpy((sums - null) / n)


def conditional_estimates(
    x: BlockCodes, y: BlockCodes, z: BlockCodes | None, options: EdgeOptions
) -> Tensor:
    """Base estimates [L, C] of I(X_c; Y | Z) (or I(X_c; Y) when z is None), in bits.

    ``x`` holds C child blocks, ``y`` and ``z`` one block each, all hashed with the
    same ensemble size L. When ``options.subtracts_null`` each member's estimate has the
    same member's estimate on shuffled data subtracted (see :class:`EdgeOptions`).
    """
    if uses_compiled(x.ids.device):
        return _compiled_estimates(x, y, z, options)
    y_ids = y.ids[:, 0].long()
    z_ids = torch.zeros_like(y_ids) if z is None else z.ids[:, 0].long()
    y_norms = other_norms = None
    if options.activation_phi is not None:
        y_norms = y.norms[:, 0]
        z_norms = torch.ones_like(y_norms) if z is None else z.norms[:, 0]
        other_norms = y_norms * z_norms
    estimates = _count(x, y_ids, z_ids, other_norms, options)
    if not options.subtracts_null:
        return estimates
    source = _shuffle_within_buckets(z_ids, options.seed)
    if y_norms is not None:
        other_norms = y_norms.gather(1, source) * z_norms
    null = _count(x, y_ids.gather(1, source), z_ids, other_norms, options)
    return estimates - null


def combine_members(estimates: Tensor, options: EdgeOptions) -> Tensor:
    """Ensemble estimate per column of [L, C]: median (midpoint for even L) or mean."""
    if options.combine == "average":
        return estimates.mean(dim=0)
    ordered = torch.sort(estimates, dim=0).values
    n_members = ordered.shape[0]
    upper = ordered[n_members // 2]
    if n_members % 2:
        return upper
    return 0.5 * (ordered[n_members // 2 - 1] + upper)


# Bound on cells of the pair count tables held at once.
_TABLE_CELLS_PER_CHUNK = 1 << 24


def pair_estimates(x: BlockCodes, y: BlockCodes, options: EdgeOptions) -> Tensor:
    """Base estimates [L, P] of I(X_p; Y_p) for P pairs of blocks (X_p paired with Y_p).

    Unlike :func:`conditional_estimates`, every X block has its own Y block. With few
    buckets per block (the 1-D blocks of canonical pairs) the joint counts of all pairs
    fit in one table, filled by a single ``bincount`` (torch passes, for GPUs; on CPU a
    compiled loop counts pair by pair, :func:`snacs.estimators.edge.compiled.pair_sums`):
    I = (1/N) sum over cells of N_xy * clip(log2(N N_xy / (N_x N_y)), 0.001, U).
    The null correction, when on, counts again with Y shuffled over all samples.
    """
    n_members, n_pairs, n = x.ids.shape
    if options.activation_phi is not None:
        raise ValueError("pair estimates take no activation phi")
    if uses_compiled(x.ids.device):
        if options.subtracts_null:
            order = _random_order(options.seed, n_members, n).numpy()
        else:
            order = np.empty((n_members, 0), dtype=np.int64)
        sums, null = pair_sums(
            x.ids.numpy(), y.ids.numpy(), y.sizes.numpy(), order, LOWER_CLIP_BITS, options.cap
        )
        return torch.from_numpy((sums - null) / n)
    x_ids, y_ids = x.ids.long(), y.ids.long()
    estimates = _pair_sums(x_ids, y_ids, options) / n
    if not options.subtracts_null:
        return estimates
    order = _random_order(options.seed, n_members, n).to(y_ids.device)
    shuffled = y_ids.gather(2, order.unsqueeze(1).expand_as(y_ids))
    return estimates - _pair_sums(x_ids, shuffled, options) / n


def _pair_sums(x_ids: Tensor, y_ids: Tensor, options: EdgeOptions) -> Tensor:
    n_members, n_pairs, n = x_ids.shape
    x_size, y_size = int(x_ids.max()) + 1, int(y_ids.max()) + 1
    cells = x_size * y_size
    chunk = max(1, _TABLE_CELLS_PER_CHUNK // (n_members * cells))
    sums = torch.empty((n_members, n_pairs), dtype=torch.float64, device=x_ids.device)
    for first in range(0, n_pairs, chunk):
        part = slice(first, first + chunk)
        rows = n_members * x_ids[:, part].shape[1]
        row = torch.arange(rows, device=x_ids.device).view(n_members, -1, 1)
        keys = (row * x_size + x_ids[:, part]) * y_size + y_ids[:, part]
        joint = torch.bincount(keys.flatten(), minlength=rows * cells).view(rows, x_size, y_size)
        joint = joint.to(torch.float64)
        outer = joint.sum(dim=2, keepdim=True) * joint.sum(dim=1, keepdim=True)
        occupied = joint > 0
        ratio = torch.where(occupied, joint * n / outer.clamp_min(1.0), torch.ones_like(joint))
        terms = torch.log2(ratio).clamp(LOWER_CLIP_BITS, options.cap) * joint
        sums[:, part] = terms.sum(dim=(1, 2)).view(n_members, -1)
    return sums
