"""EDGE (Noshad, Zeng, Hero 2019): hashed mutual information and its conditional form.

Public entry points, all returning bits and all deterministic for a given seed:

* :func:`edge_mi` and :func:`edge_cmi` score one (X, Y[, Z]) triple;
* :func:`edge_cmi_groups` and :func:`edge_cmi_matrix` score every child group of a layer
  against one / every parent group of the layer before it, which is what SNACS's ACMI
  connectivity score needs (X = child group, Y = parent group g, Z = the other parents).

The batched functions hash each child group once per ensemble member and reuse those
codes for every parent group; per parent group they hash Y and Z once and count the
collisions of all child groups in one vectorised pass. A batched entry equals the scalar
call on the same columns bit for bit, because every block is projected on its own and
all further steps are element-wise or row-wise.

Inputs may be numpy arrays or torch tensors ([N] or [N, d]); computation runs in float64
on ``device`` (default: the input tensor's device, else CPU), so CUDA works unchanged.
"""

import dataclasses
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

from snacs.estimators.counting import combine_members, conditional_estimates
from snacs.estimators.edge_options import EdgeOptions
from snacs.estimators.hashing import Block, BlockCodes, Stream, column_std, hash_blocks

ArrayLike = np.ndarray | Tensor
Groups = ArrayLike | Sequence[int] | Sequence[ArrayLike | Sequence[int]]


def _resolve_options(options: EdgeOptions | None, overrides: dict) -> EdgeOptions:
    base = options if options is not None else EdgeOptions()
    return dataclasses.replace(base, **overrides) if overrides else base


def _pick_device(value: ArrayLike, device: str | torch.device | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return value.device if isinstance(value, Tensor) else torch.device("cpu")


def _as_matrix(value: ArrayLike, device: torch.device, name: str) -> Tensor:
    """[N] or [N, d] input -> contiguous float64 [N, d] tensor on ``device``."""
    tensor = torch.as_tensor(value).detach().to(device=device, dtype=torch.float64)
    if tensor.ndim == 1:
        tensor = tensor.unsqueeze(1)
    if tensor.ndim != 2:
        raise ValueError(f"{name} must be [N] or [N, d], got shape {tuple(tensor.shape)}")
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return tensor.contiguous()


def _same_samples(**blocks: Tensor) -> None:
    counts = {name: block.shape[0] for name, block in blocks.items()}
    if len(set(counts.values())) != 1:
        raise ValueError(f"inputs must have the same number of samples (rows), got {counts}")


def _as_groups(groups: Groups, width: int, device: torch.device, name: str) -> list[Tensor]:
    """Column index tensors of each group, from a group-id vector or a list of index lists.

    A group-id vector (one integer per column) yields the groups in increasing id order.
    """
    is_id_vector = isinstance(groups, np.ndarray | Tensor) or all(
        np.ndim(item) == 0 for item in groups
    )
    if is_id_vector:
        ids = torch.as_tensor(np.asarray(groups) if not isinstance(groups, Tensor) else groups)
        ids = ids.to(device=device, dtype=torch.int64)
        if ids.shape != (width,):
            raise ValueError(
                f"{name}: a group-id vector needs one id per column ({width}), "
                f"got shape {tuple(ids.shape)}"
            )
        index = [torch.nonzero(ids == gid).squeeze(1) for gid in torch.unique(ids).tolist()]
    else:
        index = [torch.as_tensor(np.asarray(g), dtype=torch.int64, device=device) for g in groups]
    for number, columns in enumerate(index):
        if columns.numel() == 0:
            raise ValueError(f"{name}: group {number} is empty")
        if int(columns.min()) < 0 or int(columns.max()) >= width:
            raise ValueError(f"{name}: group {number} has a column outside 0..{width - 1}")
    return index


def _hash_children(blocks: list[Tensor], options: EdgeOptions) -> BlockCodes:
    specs = [Block(values, column_std(values), Stream.CHILD) for values in blocks]
    return hash_blocks(specs, options, options.activation_phi is not None)


def _conditioning_blocks(parent: Block, rest: Block | None, options: EdgeOptions) -> list[Block]:
    """Blocks to hash for one (parent group, rest) pair, in the order the reading needs."""
    if rest is None:
        return [parent]
    if options.method == "direct":
        return [parent, rest]
    joint = Block(
        torch.cat([parent.values, rest.values], dim=1),
        torch.cat([parent.std, rest.std]),
        Stream.PARENT_AND_REST,
    )
    return [joint, rest]


def _cmi_column(
    children: BlockCodes, parent: Block, rest: Block | None, options: EdgeOptions
) -> Tensor:
    """Ensemble estimates [C] of I(X_c; parent | rest) for all hashed child blocks."""
    blocks = _conditioning_blocks(parent, rest, options)
    codes = hash_blocks(blocks, options, options.activation_phi is not None)
    if rest is None:
        estimates = conditional_estimates(children, codes.select(0), None, options)
        return combine_members(estimates, options)
    if options.method == "direct":
        estimates = conditional_estimates(children, codes.select(0), codes.select(1), options)
        return combine_members(estimates, options)
    with_parent = conditional_estimates(children, codes.select(0), None, options)
    without = conditional_estimates(children, codes.select(1), None, options)
    difference = combine_members(with_parent, options) - combine_members(without, options)
    return difference.clamp_min(0.0)


def edge_mi(
    x: ArrayLike,
    y: ArrayLike,
    options: EdgeOptions | None = None,
    *,
    device: str | torch.device | None = None,
    **overrides,
) -> float:
    """EDGE estimate of I(X;Y) in bits; keyword overrides replace fields of ``options``."""
    opts = _resolve_options(options, overrides)
    dev = _pick_device(x, device)
    xs, ys = _as_matrix(x, dev, "x"), _as_matrix(y, dev, "y")
    _same_samples(x=xs, y=ys)
    parent = Block(ys, column_std(ys), Stream.PARENT)
    return float(_cmi_column(_hash_children([xs], opts), parent, None, opts)[0])


def edge_cmi(
    x: ArrayLike,
    y: ArrayLike,
    z: ArrayLike,
    options: EdgeOptions | None = None,
    *,
    device: str | torch.device | None = None,
    **overrides,
) -> float:
    """EDGE estimate of I(X;Y|Z) in bits (reading chosen by ``method``).

    A Z with no columns reduces to :func:`edge_mi`.
    """
    opts = _resolve_options(options, overrides)
    dev = _pick_device(x, device)
    xs, ys, zs = _as_matrix(x, dev, "x"), _as_matrix(y, dev, "y"), _as_matrix(z, dev, "z")
    _same_samples(x=xs, y=ys, z=zs)
    parent = Block(ys, column_std(ys), Stream.PARENT)
    rest = Block(zs, column_std(zs), Stream.REST) if zs.shape[1] else None
    return float(_cmi_column(_hash_children([xs], opts), parent, rest, opts)[0])


def _split_parent(
    parent: Tensor, parent_std: Tensor, groups: list[Tensor], g: int
) -> tuple[Block, Block | None]:
    """Blocks of parent group g and of the remaining parent columns (in column order)."""
    keep = torch.ones(parent.shape[1], dtype=torch.bool, device=parent.device)
    keep[groups[g]] = False
    others = torch.nonzero(keep).squeeze(1)
    own = Block(parent.index_select(1, groups[g]), parent_std[groups[g]], Stream.PARENT)
    if not others.numel():
        return own, None
    return own, Block(parent.index_select(1, others), parent_std[others], Stream.REST)


def _prepare(
    child_acts: ArrayLike,
    child_groups: Groups,
    parent_acts: ArrayLike,
    parent_groups: Groups,
    device: str | torch.device | None,
) -> tuple[list[Tensor], Tensor, list[Tensor]]:
    dev = _pick_device(child_acts, device)
    child = _as_matrix(child_acts, dev, "child activations")
    parent = _as_matrix(parent_acts, dev, "parent activations")
    _same_samples(child=child, parent=parent)
    child_index = _as_groups(child_groups, child.shape[1], dev, "child groups")
    parent_index = _as_groups(parent_groups, parent.shape[1], dev, "parent groups")
    child_blocks = [child.index_select(1, columns) for columns in child_index]
    return child_blocks, parent, parent_index


def edge_cmi_groups(
    child: ArrayLike,
    child_groups: Groups,
    parent: ArrayLike,
    parent_groups: Groups,
    g: int,
    options: EdgeOptions | None = None,
    *,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """I(child group c; parent group g | other parent groups) for every c -> [G_c] bits.

    Groups are a group-id vector (one id per column) or a list of column-index lists.
    """
    opts = options if options is not None else EdgeOptions()
    child_blocks, parent_t, parent_index = _prepare(
        child, child_groups, parent, parent_groups, device
    )
    if not 0 <= g < len(parent_index):
        raise ValueError(f"parent group {g} out of range 0..{len(parent_index) - 1}")
    children = _hash_children(child_blocks, opts)
    own, rest = _split_parent(parent_t, column_std(parent_t), parent_index, g)
    return _cmi_column(children, own, rest, opts).cpu().numpy()


def edge_cmi_matrix(
    child_acts: ArrayLike,
    child_group_ids: Groups,
    parent_acts: ArrayLike,
    parent_group_ids: Groups,
    options: EdgeOptions | None = None,
    *,
    device: str | torch.device | None = None,
    workers: int = 1,
) -> np.ndarray:
    """Full ACMI base matrix [G_c, G_p]: entry (c, g) = I(X_c; Y_g | Y_rest) in bits.

    Child groups are hashed once and reused for all parent groups; each parent group
    costs one hashing of Y_g and of the remaining parents plus one counting pass
    covering all child groups and ensemble members (two with the null correction).

    ``workers`` > 1 scores that many parent groups concurrently in threads (torch and
    numpy release the GIL). Its tensors are sized to stay in cache, so this uses
    several cores far better than torch's intra-op threads; results are identical
    for any number of workers.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    opts = options if options is not None else EdgeOptions()
    child_blocks, parent, parent_index = _prepare(
        child_acts, child_group_ids, parent_acts, parent_group_ids, device
    )
    children = _hash_children(child_blocks, opts)
    parent_std = column_std(parent)

    def column(g: int) -> Tensor:
        own, rest = _split_parent(parent, parent_std, parent_index, g)
        return _cmi_column(children, own, rest, opts)

    groups = range(len(parent_index))
    if workers == 1:
        columns = [column(g) for g in groups]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            columns = list(pool.map(column, groups))
    return torch.stack(columns, dim=1).cpu().numpy()
