"""EDGE (Noshad, Zeng, Hero 2019): hashed mutual information and its conditional form.

Public entry points, all returning bits and all deterministic for a given seed:

* :func:`edge_mi` and :func:`edge_cmi` score one (X, Y[, Z]) triple;
* :func:`edge_cmi_groups` and :func:`edge_cmi_matrix` score every child group of a layer
  against one / every parent group of the layer before it, which is what SNACS's ACMI
  connectivity score needs (X = child group, Y = parent group g, Z = the other parents).

The batched functions hash each child group once per ensemble member and reuse those
codes for every parent group; per parent group they hash Y and Z once and count the
collisions of all child groups in one pass. Projections are keyed by the column of the
layer (:mod:`snacs.estimators.projection`), so Z's projection is the layer's minus Y's
part. A scalar :func:`edge_cmi` call sees the layer [Y | Z]; it equals the matrix entry
of a parent group made of the layer's first columns when the child group is hashed
unprojected (at most ``projection_threshold`` columns) or is the whole child layer.

Inputs may be numpy arrays or torch tensors ([N] or [N, d]); computation runs in float64
on ``device`` (default: the input tensor's device, else CPU). On CPU the hashing and
counting run as compiled kernels (:mod:`snacs.estimators.compiled`); on other devices as
torch passes; both give the same estimates.
"""

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

from snacs.estimators.counting import combine_members, conditional_estimates
from snacs.estimators.edge_options import EdgeOptions
from snacs.estimators.hashing import BlockCodes, hash_blocks
from snacs.estimators.projection import LayerProjector, Stream

ArrayLike = np.ndarray | Tensor
Groups = ArrayLike | Sequence[int] | Sequence[ArrayLike | Sequence[int]]
ParallelMap = Callable[[Callable, Iterable], Iterable]


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
    # column sums are finite for finite inputs short of overflow; check exactly only then
    if not torch.isfinite(tensor.sum(dim=0)).all() and not torch.isfinite(tensor).all():
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


def _hash(projected: list[Tensor], widths: list[int], options: EdgeOptions) -> BlockCodes:
    return hash_blocks(projected, widths, options, options.activation_phi is not None)


def _hash_children(
    children: Tensor,
    index: list[Tensor],
    options: EdgeOptions,
    parallel_map: ParallelMap = map,
    parts: int = 1,
) -> BlockCodes:
    """Codes of every child group (X blocks), hashed in ``parts`` batches via ``parallel_map``."""
    projector = LayerProjector(children, Stream.CHILD, options)

    def hash_part(part: list[Tensor]) -> BlockCodes:
        blocks = [projector.block(columns) for columns in part]
        return _hash(blocks, [columns.numel() for columns in part], options)

    size = -(-len(index) // parts)
    return BlockCodes.concatenate(
        list(parallel_map(hash_part, [index[i : i + size] for i in range(0, len(index), size)]))
    )


@contextlib.contextmanager
def _parallel_map(workers: int) -> Iterator[ParallelMap]:
    """``map`` over ``workers`` threads (the compiled kernels and torch release the GIL)."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1:
        yield map
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        yield pool.map


class _ParentLayer:
    """The parent layer's projectors, and the estimate of each child group vs one parent group.

    Y is the group's columns, Z every other column of the layer (spec §5.1).
    """

    def __init__(self, values: Tensor, children: BlockCodes, options: EdgeOptions) -> None:
        self.children = children
        self.options = options
        self.own = LayerProjector(values, Stream.PARENT, options)
        self.rest = self.own.with_stream(Stream.REST)
        self.width = values.shape[1]
        self._joint_mi: Tensor | None = None
        if options.method == "chain":  # I(X; [Y, Z]) is I(X; whole layer) for every group
            joint = self.own.with_stream(Stream.PARENT_AND_REST)
            all_columns = torch.arange(self.width, device=values.device)
            codes = _hash([joint.block(all_columns)], [self.width], options)
            self._joint_mi = self._mi(codes)

    def _mi(self, codes: BlockCodes) -> Tensor:
        estimates = conditional_estimates(self.children, codes, None, self.options)
        return combine_members(estimates, self.options)

    def column(self, columns: Tensor) -> Tensor:
        """Ensemble estimates [C] of I(X_c; Y | Z) with Y = ``columns`` of the layer."""
        rest = self.rest.complement(columns)
        rest_width = self.width - columns.numel()
        if self.options.method == "chain":
            if rest is None:
                return self._joint_mi
            without = self._mi(_hash([rest], [rest_width], self.options))
            return (self._joint_mi - without).clamp_min(0.0)
        own = self.own.block(columns)
        if rest is None:
            return self._mi(_hash([own], [columns.numel()], self.options))
        codes = _hash([own, rest], [columns.numel(), rest_width], self.options)
        estimates = conditional_estimates(
            self.children, codes.select(0), codes.select(1), self.options
        )
        return combine_members(estimates, self.options)


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
    return _single_estimate(xs, ys, ys.shape[1], opts)


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

    Y and Z are treated as one layer [Y | Z] whose first columns are Y, so the call
    equals the ACMI matrix entry of a parent group made of a layer's first columns.
    A Z with no columns reduces to :func:`edge_mi`.
    """
    opts = _resolve_options(options, overrides)
    dev = _pick_device(x, device)
    xs, ys, zs = _as_matrix(x, dev, "x"), _as_matrix(y, dev, "y"), _as_matrix(z, dev, "z")
    _same_samples(x=xs, y=ys, z=zs)
    return _single_estimate(xs, torch.cat([ys, zs], dim=1), ys.shape[1], opts)


def _single_estimate(x: Tensor, layer: Tensor, y_width: int, options: EdgeOptions) -> float:
    """I(X; first ``y_width`` columns of ``layer`` | the others) for one X block."""
    everything = torch.arange(x.shape[1], device=x.device)
    children = _hash_children(x, [everything], options)
    y_columns = torch.arange(y_width, device=x.device)
    return float(_ParentLayer(layer, children, options).column(y_columns)[0])


def _prepare(
    child_acts: ArrayLike,
    child_groups: Groups,
    parent_acts: ArrayLike,
    parent_groups: Groups,
    device: str | torch.device | None,
    options: EdgeOptions,
    parallel_map: ParallelMap = map,
    parts: int = 1,
) -> tuple[_ParentLayer, list[Tensor]]:
    """Hash the child groups; return the parent layer and its groups' column indices."""
    dev = _pick_device(child_acts, device)
    child = _as_matrix(child_acts, dev, "child activations")
    parent = _as_matrix(parent_acts, dev, "parent activations")
    _same_samples(child=child, parent=parent)
    child_index = _as_groups(child_groups, child.shape[1], dev, "child groups")
    parent_index = _as_groups(parent_groups, parent.shape[1], dev, "parent groups")
    children = _hash_children(child, child_index, options, parallel_map, parts)
    return _ParentLayer(parent, children, options), parent_index


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
    Equals column g of :func:`edge_cmi_matrix` bit for bit.
    """
    opts = options if options is not None else EdgeOptions()
    layer, parent_index = _prepare(child, child_groups, parent, parent_groups, device, opts)
    if not 0 <= g < len(parent_index):
        raise ValueError(f"parent group {g} out of range 0..{len(parent_index) - 1}")
    return layer.column(parent_index[g]).cpu().numpy()


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
    costs the hashing of Y_g and of the rest of the layer (whose projection is the
    layer's minus Y_g's part) plus one counting pass covering all child groups and
    ensemble members (two with the null correction).

    ``workers`` > 1 scores that many parent groups concurrently in threads (the
    compiled kernels and torch release the GIL); results are identical for any number
    of workers.
    """
    opts = options if options is not None else EdgeOptions()
    with _parallel_map(workers) as parallel_map:
        layer, parent_index = _prepare(
            child_acts, child_group_ids, parent_acts, parent_group_ids, device, opts,
            parallel_map, workers,
        )  # fmt: skip
        columns = list(parallel_map(layer.column, parent_index))
    return torch.stack(columns, dim=1).cpu().numpy()
