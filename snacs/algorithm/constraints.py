"""Operating constraints: per-layer upper pruning limits by SVM fidelity.

For one child layer at a time, connections are pruned locally at increasing shares q of
its ACMI entries; an RBF SVM fitted once on the layer's dense (ReLU-clipped, pooled)
outputs then classifies the pruned outputs of the same images. The limit is the largest q
whose accuracy stays at least max - alpha * (max - min) over the grid: beyond it the
layer's representation stops carrying the class information the SVM relied on.

The computation is arranged so that nothing is done twice:

* The pooled output of a conv layer is linear in its weights: averaging
  ``conv(x, W)`` over output positions equals ``W`` applied to the average of every
  kernel tap's input window. One forward pass over the subset records these *patch
  means* ([N, C_in, k*k], no larger than a pooled output per tap) for every scored
  layer, so the model is never rerun per layer or per grid point.
* A layer's output under any connection mask is then a sum of per-parent-group partial
  outputs ([G_p, C_out, N], one batched product); the filters of a child group share
  their masks, so each child group's outputs at every grid share are one product.
* The SVM is fitted by scikit-learn; its predictions for every grid point are matrix
  products in torch on the run's device (``snacs.algorithm.svm_decision``), equal to
  libsvm's.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass

import numpy as np
import torch
from sklearn.svm import SVC
from torch import nn
from torch.utils.data import DataLoader

from snacs.algorithm.svm_decision import svm_predict
from snacs.pruning.progress import layer_progress
from snacs.pruning.scores import GroupScores

LOGGER = logging.getLogger(__name__)

NEAR_CHANCE_MARGIN = 0.15
"""Default margin of the near-chance warning, as a share of (1 - chance level)."""

_CAPTURE_BYTES = 1 << 30
"""Most bytes of patch means captured in one forward pass; more layers take more passes."""


@dataclass(frozen=True)
class LayerConstraint:
    """Operating-constraint result of one child layer: its fidelity curve and limit.

    ``accuracies[i]`` is the SVM's accuracy on the layer's outputs with the lowest
    ``shares[i]`` of its connection scores pruned; ``dense_accuracy`` is its accuracy on
    the unpruned outputs it was fitted on, ``chance`` the majority-class share of the
    subset. A dense accuracy near chance means the SVM found no class information in the
    layer, so its limit is noise (``near_chance``).
    """

    layer: str
    shares: tuple[float, ...]
    accuracies: tuple[float, ...]
    dense_accuracy: float
    chance: float
    limit: float
    near_chance: bool

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "shares": list(self.shares), "accuracies": list(self.accuracies)}


def limit_grid(step_percent: float) -> list[float]:
    """Local pruning shares 1 %, 1 + step, ... below 100 % (default 1, 6, ..., 96)."""
    return [q / 100 for q in np.arange(1.0, 100.0, step_percent)]


def local_threshold(rho: torch.Tensor, share: float) -> float:
    """The ``share``-quantile of the unique sorted entries (the official index rule)."""
    unique = torch.unique(rho.flatten())
    index = min(round(share * unique.numel()), unique.numel() - 1)
    return float(unique[index])


def upper_limit(accuracies: np.ndarray, grid: list[float], alpha: float) -> float:
    """Largest share whose accuracy is at least max - alpha * (max - min)."""
    floor = accuracies.max() - alpha * (accuracies.max() - accuracies.min())
    allowed = [q for q, acc in zip(grid, accuracies, strict=True) if acc >= floor]
    return float(max(allowed))


def chance_level(labels: torch.Tensor) -> float:
    """Accuracy of always answering the most frequent class."""
    return float(torch.bincount(labels).max()) / labels.numel()


def is_near_chance(dense_accuracy: float, chance: float, margin: float) -> bool:
    """Whether the accuracy lies within ``margin * (1 - chance)`` of the chance level."""
    return dense_accuracy < chance + margin * (1.0 - chance)


# --- pooled outputs under connection masks ----------------------------------------------


def patch_means(module: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """[B, C_in, taps]: what the pooled output of ``module`` is linear in.

    For a convolution, entry (c, i, j) is the mean over output positions of the input
    pixel that kernel tap (i, j) of channel c reads (zero padding included), so that
    ``pooled(conv(x, W)) = W.flatten(1) @ patch_means + bias``. For a linear layer it is
    the input itself, one tap per feature.
    """
    if isinstance(module, nn.Linear):
        return inputs.flatten(1).unsqueeze(2)
    if not isinstance(module, nn.Conv2d) or isinstance(module.padding, str):
        raise ValueError(f"patch means need a Conv2d with numeric padding, got {module}")
    if module.padding_mode != "zeros":
        raise ValueError(f"patch means need zero padding, got {module.padding_mode!r}")
    batch, channels, height, width = inputs.shape
    rows, out_h = _tap_reads(height, *_axis(module, 0), inputs.device)  # [H, k_h]
    cols, out_w = _tap_reads(width, *_axis(module, 1), inputs.device)  # [W, k_w]
    # Separable: the columns each tap column reads, then the rows each tap row reads.
    by_column = (inputs.reshape(-1, width) @ cols.to(inputs.dtype)).double()
    by_column = by_column.reshape(batch * channels, height, -1)
    taps = torch.einsum("nhj,hi->nij", by_column, rows.double())
    return (taps / (out_h * out_w)).reshape(batch, channels, -1)


def _axis(module: nn.Conv2d, axis: int) -> tuple[int, int, int, int]:
    return (
        module.kernel_size[axis],
        module.stride[axis],
        module.padding[axis],
        module.dilation[axis],
    )


def _tap_reads(
    size: int, kernel: int, stride: int, padding: int, dilation: int, device: torch.device
) -> tuple[torch.Tensor, int]:
    """[size, kernel] 0/1 matrix: input position p is read by tap t at some output position;
    and the number of output positions along the axis."""
    outputs = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    positions = (
        torch.arange(outputs)[:, None] * stride + torch.arange(kernel)[None] * dilation - padding
    )  # [outputs, kernel] input position read (outside 0..size-1: padding)
    reads = torch.zeros(size, kernel)
    for tap in range(kernel):
        inside = positions[:, tap][(positions[:, tap] >= 0) & (positions[:, tap] < size)]
        reads[inside, tap] = 1.0
    return reads.to(device), outputs


def group_partials(
    module: nn.Module, means: torch.Tensor, parent_ids: torch.Tensor
) -> torch.Tensor:
    """[G_p, C_out, N]: each parent group's contribution to the pooled output (no bias).

    One batched product over the groups, in float32 (the precision of the layer's own
    forward pass). Groups of unequal size are padded with a zero channel.
    """
    if getattr(module, "groups", 1) > 1:
        raise ValueError(f"connection masks of grouped convolutions are not supported: {module}")
    channels = parent_ids.numel()
    n = means.shape[0]
    # A linear layer fed by a flattened map reads several features per parent channel.
    means = means.float().reshape(n, channels, -1)  # [N, C_in channels, features]
    weight = module.weight.detach().float().to(means.device)
    weight = weight.reshape(weight.shape[0], channels, -1)
    layout = _group_layout(parent_ids).to(means.device)  # [G_p, size], -1 = padding
    means = torch.cat([means, means.new_zeros(n, 1, means.shape[2])], dim=1)[:, layout]
    weight = torch.cat([weight, weight.new_zeros(weight.shape[0], 1, weight.shape[2])], dim=1)
    weight = weight[:, layout]  # [C_out, G_p, size, features]
    return torch.bmm(
        weight.flatten(2).transpose(0, 1),  # [G_p, C_out, size * features]
        means.flatten(2).permute(1, 2, 0),  # [G_p, size * features, N]
    )


def _group_layout(ids: torch.Tensor) -> torch.Tensor:
    """[G, largest group] member channels of each group, padded with -1 (the last row of
    a tensor extended by one zero channel)."""
    members = _members(ids)
    layout = torch.full((len(members), max(m.numel() for m in members)), -1, dtype=torch.long)
    for g, m in enumerate(members):
        layout[g, : m.numel()] = m
    return layout


def _members(ids: torch.Tensor) -> list[torch.Tensor]:
    return [torch.nonzero(ids == g).squeeze(1) for g in range(int(ids.max()) + 1)]


def grid_keeps(scores: GroupScores, grid: Iterable[float]) -> torch.Tensor:
    """[K, G_c, G_p] bool: whether a child group keeps a parent group at each share."""
    return torch.stack([~(scores.rho <= local_threshold(scores.rho, share)) for share in grid])


def pruned_outputs(
    module: nn.Module, means: torch.Tensor, scores: GroupScores, grid: list[float]
) -> torch.Tensor:
    """[K, N, C_out]: ReLU-clipped pooled outputs of the layer pruned at every grid share.

    The filters of one child group share their masks, so each child group is one product
    of its [K, G_p] masks with its filters' partial outputs. The sums over groups are in
    float64 and rounded to float32, the precision of the cached dense outputs.
    """
    partials = group_partials(module, means, scores.parent_ids).double()  # [G_p, C_out, N]
    keeps = grid_keeps(scores, grid).to(partials.device, torch.float64)
    groups, channels, n = partials.shape
    outputs = partials.new_empty(len(grid), channels, n)
    for child, members in enumerate(_members(scores.child_ids.to(partials.device))):
        if bool((members.diff() == 1).all()):  # contiguous: a view, no copy
            block = partials[:, int(members[0]) : int(members[-1]) + 1]
            outputs[:, int(members[0]) : int(members[-1]) + 1] = (
                keeps[:, child] @ block.reshape(groups, -1)
            ).view(len(grid), -1, n)
        else:
            block = partials[:, members].reshape(groups, -1)
            outputs[:, members] = (keeps[:, child] @ block).view(len(grid), -1, n)
    if module.bias is not None:
        outputs += module.bias.detach().double().to(outputs.device)[:, None]
    return outputs.float().clamp_min_(0).transpose(1, 2)


def fit_svm(dense_outputs: torch.Tensor, labels: torch.Tensor) -> SVC:
    """The RBF SVM on a layer's ReLU-clipped dense outputs (fixed tolerance and seed)."""
    svm = SVC(kernel="rbf", tol=1e-5, random_state=0)
    return svm.fit(dense_outputs.clamp_min(0).numpy(), labels.numpy())


# --- one forward pass records what every layer needs ------------------------------------


@torch.no_grad()
def capture_patch_means(
    model: nn.Module, layers: list[str], loader: DataLoader, device: torch.device
) -> dict[str, torch.Tensor]:
    """Patch means of ``layers`` over the whole loader, in one forward pass (float32)."""
    chunks: dict[str, list[torch.Tensor]] = {name: [] for name in layers}

    def recorder(name: str, module: nn.Module):
        def hook(_module: nn.Module, inputs: tuple, _output: torch.Tensor) -> None:
            chunks[name].append(patch_means(module, inputs[0]).float())

        return hook

    handles = [
        model.get_submodule(name).register_forward_hook(recorder(name, model.get_submodule(name)))
        for name in layers
    ]
    was_training = model.training
    model.eval()
    try:
        for batch, _ in loader:
            model(batch.to(device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return {name: torch.cat(parts) for name, parts in chunks.items()}


def capture_batches(
    model: nn.Module, layers: list[str], samples: int, budget: int = _CAPTURE_BYTES
) -> list[list[str]]:
    """Consecutive runs of ``layers`` whose patch means fit ``budget`` bytes together."""
    batches: list[list[str]] = [[]]
    used = 0
    for name in layers:
        module = model.get_submodule(name)
        taps = math.prod(getattr(module, "kernel_size", (1,)))
        size = samples * module.weight.shape[1] * getattr(module, "groups", 1) * taps * 4
        if batches[-1] and used + size > budget:
            batches.append([])
            used = 0
        batches[-1].append(name)
        used += size
    return batches


def layer_constraint(
    module: nn.Module,
    scores: GroupScores,
    means: torch.Tensor,
    dense_outputs: torch.Tensor,
    labels: torch.Tensor,
    grid: list[float],
    alpha: float,
    near_chance_margin: float = NEAR_CHANCE_MARGIN,
) -> LayerConstraint:
    """Fidelity curve and limit of one layer from its captured patch means."""
    svm = fit_svm(dense_outputs, labels)
    targets = labels.numpy()
    device = means.device
    pruned = pruned_outputs(module, means, scores, grid)  # [K, N, C_out]
    dense = dense_outputs.clamp_min(0).to(device)
    predicted = svm_predict(svm, torch.cat([dense.unsqueeze(0), pruned]).flatten(0, 1))
    correct = predicted.reshape(len(grid) + 1, -1) == targets
    accuracies = correct.mean(axis=1)
    chance = chance_level(labels)
    return LayerConstraint(
        layer=scores.child,
        shares=tuple(float(q) for q in grid),
        accuracies=tuple(float(a) for a in accuracies[1:]),
        dense_accuracy=float(accuracies[0]),
        chance=chance,
        limit=upper_limit(accuracies[1:], grid, alpha),
        near_chance=is_near_chance(float(accuracies[0]), chance, near_chance_margin),
    )


def _largest_first(model: nn.Module, layers: list[str]) -> list[str]:
    """Layers by decreasing weight size, so the longest jobs do not start last."""
    return sorted(layers, key=lambda name: -model.get_submodule(name).weight.numel())


def operating_constraints(
    model: nn.Module,
    pairs: Mapping[str, GroupScores],
    dense_outputs: Mapping[str, torch.Tensor],
    labels: torch.Tensor,
    loader: DataLoader,
    device: torch.device,
    grid: list[float],
    alpha: float,
    near_chance_margin: float = NEAR_CHANCE_MARGIN,
    progress: bool = True,
    workers: int = 1,
) -> dict[str, LayerConstraint]:
    """Every scored layer's constraint, showing per-layer progress with an ETA.

    The forward pass that captures the patch means uses all torch threads; the layers are
    then handled by ``workers`` concurrent single-threaded workers (torch and libsvm
    release the GIL), largest first, which uses a few cores far better than threading
    each small step.
    Layers whose dense SVM accuracy is near chance are named in a warning: their limits
    carry no information about what the layer may lose.
    """
    names = list(pairs)
    results: dict[str, LayerConstraint] = {}
    threads = torch.get_num_threads()
    with layer_progress(len(names), "operating constraints", progress) as bar:
        for batch in capture_batches(model, names, labels.numel()):
            means = capture_patch_means(model, batch, loader, device)
            if workers > 1:
                torch.set_num_threads(1)
            try:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    futures = {
                        name: pool.submit(
                            layer_constraint,
                            model.get_submodule(name),
                            pairs[name],
                            means.pop(name),
                            dense_outputs[name],
                            labels,
                            grid,
                            alpha,
                            near_chance_margin,
                        )
                        for name in _largest_first(model, batch)
                    }
                    for future in as_completed(futures.values()):
                        future.result()
                        bar.update(1)
            finally:
                torch.set_num_threads(threads)
            results.update({name: futures[name].result() for name in batch})
    near = [r for r in results.values() if r.near_chance]
    if near:
        LOGGER.warning(
            "operating constraints: the dense SVM accuracy of %d layer(s) is near chance "
            "(%.2f), so their limits are noise: %s",
            len(near),
            near[0].chance,
            ", ".join(f"{r.layer} {r.dense_accuracy:.2f}" for r in near),
        )
    return results
