"""EDGE's locality-sensitive hashing: from (projected) blocks to dense bucket ids.

Each coordinate of a block (projected by :mod:`snacs.estimators.edge.projection` when wide)
is cut into intervals h = floor((v + b) / eps) whose width comes from the k-NN rule;
every ensemble member uses a slightly wider width and a different shift. The vector of
interval indices is the sample's bucket; buckets are renumbered 0..K-1 per block, which
makes them small integers that counting can compare and combine cheaply.

Many blocks of the same width are hashed together (all child groups of a layer at
once); every step after the projection is per block, so a block hashed in a batch gets
exactly the ids it would get alone.
"""

from dataclasses import dataclass

import torch
from torch import Tensor

from snacs.estimators.edge.bandwidth import (
    knn_order,
    mean_knn_distance,
    query_indices,
    width_scale,
)
from snacs.estimators.edge.compiled import bucket_ids, knn_widths, uses_compiled
from snacs.estimators.edge.options import EdgeOptions

# Bucket widths get this constant added (reference value) so that a constant
# coordinate still has a positive width.
_MIN_WIDTH = 1e-4
# Packed bucket keys must stay below this bound (int64 with headroom).
_KEY_LIMIT = 1 << 62
# Bound on bucket coordinates held at once while hashing many blocks.
_ELEMENTS_PER_CHUNK = 1 << 23


@dataclass(frozen=True)
class BlockCodes:
    """Bucket ids of B blocks under each of the L ensemble bandwidths.

    Attributes:
        ids: int32 [L, B, N]; for each (member, block) the ids are 0..sizes-1.
        sizes: int64 [L, B] number of distinct buckets.
        norms: float64 [L, B, N] Euclidean norm of each sample's integer bucket vector
            (only when an activation phi needs it, else None).
    """

    ids: Tensor
    sizes: Tensor
    norms: Tensor | None

    @classmethod
    def concatenate(cls, parts: list["BlockCodes"]) -> "BlockCodes":
        """The blocks of several codes, in order, as one."""
        if len(parts) == 1:
            return parts[0]
        norms = None if parts[0].norms is None else torch.cat([p.norms for p in parts], dim=1)
        ids = torch.cat([p.ids for p in parts], dim=1)
        return cls(ids, torch.cat([p.sizes for p in parts], dim=1), norms)

    def select(self, block: int) -> "BlockCodes":
        """The codes of one block, kept as a batch of one."""
        norms = None if self.norms is None else self.norms[:, block : block + 1]
        return BlockCodes(self.ids[:, block : block + 1], self.sizes[:, block : block + 1], norms)

    def subset(self, blocks: Tensor) -> "BlockCodes":
        """The codes of the listed blocks (an index tensor), in that order."""
        norms = None if self.norms is None else self.norms[:, blocks]
        return BlockCodes(self.ids[:, blocks], self.sizes[:, blocks], norms)


def rank_rows(keys: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Renumber the integer keys of each row of [B, N] to dense ids 0..K_b-1.

    Ids follow the keys' sorted order, so the numbering is deterministic. Returns
    (ids, K per row, the sorting permutation of each row).
    """
    ordered, order = torch.sort(keys, dim=1)
    starts = torch.ones_like(ordered, dtype=torch.bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ranks = torch.cumsum(starts, dim=1) - 1
    return torch.empty_like(ranks).scatter_(1, order, ranks), ranks[:, -1] + 1, order


def dense_bucket_ids(buckets: Tensor) -> tuple[Tensor, Tensor]:
    """Dense ids of integer bucket vectors [B, N, d] per block -> ([B, N], [B]).

    Coordinates are packed mixed-radix into one int64, as many at a time as fit. A
    coordinate with more distinct values than samples is renumbered first, and a
    partial key is renumbered (to below N) before it would overflow, so the ids are
    exact whatever the coordinate ranges are.
    """
    n = buckets.shape[1]
    shifted = buckets - buckets.amin(dim=1, keepdim=True)
    spans = [int(span) for span in (shifted.amax(dim=1) + 1).amax(dim=0).tolist()]
    columns = []
    for coord, span in enumerate(spans):
        column = shifted[:, :, coord]
        if span > n:
            column, sizes, _ = rank_rows(column)
            spans[coord] = int(sizes.max())
        columns.append(column)
    keys, bound = torch.zeros_like(columns[0]), 1
    for column, span in zip(columns, spans, strict=True):
        if bound * span >= _KEY_LIMIT:
            keys, sizes, _ = rank_rows(keys)
            bound = int(sizes.max())
        keys = keys * span + column
        bound *= span
    ids, sizes, _ = rank_rows(keys)
    return ids, sizes


def hash_blocks(
    projected: list[Tensor],
    original_widths: list[int],
    options: EdgeOptions,
    need_norms: bool,
    width_factor: float = 1.0,
) -> BlockCodes:
    """Hash already projected blocks [N, d'] (of ``original_widths`` columns before).

    Blocks with the same projected width get their bandwidths and buckets computed in
    one batch (in chunks bounding memory). On CPU the compiled kernels do the work.
    ``width_factor`` multiplies every bucket width (the second bandwidth pass).
    """
    n = projected[0].shape[0]
    device = projected[0].device
    compiled = uses_compiled(device)
    n_members = options.ensemble_size
    multipliers = torch.linspace(*options.bandwidth_range, n_members, dtype=torch.float64)
    multipliers = multipliers.to(device).view(-1, 1, 1, 1)
    shift_fractions = torch.arange(n_members, device=device, dtype=torch.float64) / n_members
    queries = torch.from_numpy(query_indices(n, options.knn_queries, options.seed)).to(device)
    ids = torch.empty((n_members, len(projected), n), dtype=torch.int32, device=device)
    sizes = torch.empty((n_members, len(projected)), dtype=torch.int64, device=device)
    norms = (
        torch.empty((n_members, len(projected), n), dtype=torch.float64, device=device)
        if need_norms
        else None
    )
    by_width: dict[int, list[int]] = {}
    for index, proj in enumerate(projected):
        by_width.setdefault(proj.shape[1], []).append(index)
    for out_width, same_width in by_width.items():
        chunk = max(1, _ELEMENTS_PER_CHUNK // (n_members * n * out_width))
        for start in range(0, len(same_width), chunk):
            members = same_width[start : start + chunk]
            stacked = torch.stack([projected[i] for i in members])  # [b, N, d']
            k = knn_order(n, out_width)
            columns = stacked.transpose(1, 2).reshape(-1, n)
            if compiled:
                knn = torch.from_numpy(knn_widths(columns.numpy(), k, queries.numpy()))
            else:
                knn = mean_knn_distance(columns, k, queries)
            gamma = options.gamma * width_factor
            scales = [width_scale(out_width, original_widths[i], gamma) for i in members]
            scale = torch.tensor(scales, device=device, dtype=torch.float64).view(-1, 1, 1)
            base = (knn.view(len(members), 1, out_width) + _MIN_WIDTH) * scale
            eps = base * multipliers  # [L, b, 1, d']
            shift = eps * shift_fractions.view(-1, 1, 1, 1)
            index = torch.tensor(members, device=device)
            if compiled:
                member_ids, member_sizes, member_norms = bucket_ids(
                    stacked.numpy(),
                    eps.squeeze(2).numpy(),
                    shift.squeeze(2).numpy(),
                    need_norms,
                )
                ids[:, index] = torch.from_numpy(member_ids)
                sizes[:, index] = torch.from_numpy(member_sizes)
                if norms is not None:
                    norms[:, index] = torch.from_numpy(member_norms)
                continue
            buckets = torch.floor((stacked + shift) / eps).to(torch.int64)  # [L, b, N, d']
            member_ids, member_sizes = dense_bucket_ids(buckets.view(-1, n, out_width))
            ids[:, index] = member_ids.view(n_members, len(members), n).to(torch.int32)
            sizes[:, index] = member_sizes.view(n_members, len(members))
            if norms is not None:
                norms[:, index] = buckets.to(torch.float64).square().sum(dim=-1).sqrt()
    return BlockCodes(ids=ids, sizes=sizes, norms=norms)
