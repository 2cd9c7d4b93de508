"""Operating constraints: per-layer upper pruning limits by SVM fidelity (spec §6).

For one child layer at a time, connections are pruned locally at increasing shares q
of its ACMI entries; an RBF SVM fitted once on the layer's dense (ReLU-clipped, pooled)
outputs then classifies the pruned outputs of the same images. The limit UL is the
largest q whose accuracy stays above max - alpha * (max - min) over the grid: beyond it
the layer's representation stops carrying the class information the SVM relied on.

All grid points of a layer are evaluated in one pass over the subset: a hook replays the
layer on its captured input with each candidate mask, so nothing but that layer reruns.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.svm import SVC
from torch import nn
from torch.utils.data import DataLoader

from snacs.algorithm.acmi import PairScores
from snacs.pruning.activations import pooled_output
from snacs.pruning.connections import connection_mask


def limit_grid(step_percent: float) -> list[float]:
    """Local pruning shares 1 %, 1 + step, ... below 100 % (default 1, 6, ..., 96)."""
    return [q / 100 for q in np.arange(1.0, 100.0, step_percent)]


def local_threshold(rho: torch.Tensor, share: float) -> float:
    """The ``share``-quantile of the unique sorted entries (the official index rule)."""
    unique = torch.unique(rho.flatten())
    index = min(round(share * unique.numel()), unique.numel() - 1)
    return float(unique[index])


def _replay(module: nn.Module, inputs: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    if isinstance(module, nn.Conv2d):
        return F.conv2d(
            inputs,
            weight,
            module.bias,
            module.stride,
            module.padding,
            module.dilation,
            module.groups,
        )
    return F.linear(inputs, weight, module.bias)


@torch.no_grad()
def fidelity_curve(
    model: nn.Module,
    module_name: str,
    scores: PairScores,
    dense_outputs: torch.Tensor,
    labels: torch.Tensor,
    loader: DataLoader,
    device: torch.device,
    grid: list[float],
) -> np.ndarray:
    """SVM accuracy on the layer's pruned outputs for every local share in ``grid``."""
    module = model.get_submodule(module_name)
    weight = module.weight.detach()
    masks = [
        connection_mask(scores, scores.rho <= local_threshold(scores.rho, q), weight.shape).to(
            weight.device, weight.dtype
        )
        for q in grid
    ]
    pruned: list[list[torch.Tensor]] = [[] for _ in grid]

    def hook(_module: nn.Module, inputs: tuple, _output: torch.Tensor) -> None:
        for k, mask in enumerate(masks):
            replayed = _replay(module, inputs[0], weight * mask)
            pruned[k].append(pooled_output(replayed).float().cpu().clamp_min(0))

    handle = module.register_forward_hook(hook)
    was_training = model.training
    model.eval()
    try:
        for batch, _ in loader:
            model(batch.to(device))
    finally:
        handle.remove()
        model.train(was_training)
    svm = SVC(kernel="rbf", tol=1e-5, random_state=0)
    targets = labels.numpy()
    svm.fit(dense_outputs.clamp_min(0).numpy(), targets)
    return np.array([svm.score(torch.cat(p).numpy(), targets) for p in pruned])


def upper_limit(accuracies: np.ndarray, grid: list[float], alpha: float) -> float:
    """Largest share whose accuracy is at least max - alpha * (max - min)."""
    floor = accuracies.max() - alpha * (accuracies.max() - accuracies.min())
    allowed = [q for q, acc in zip(grid, accuracies, strict=True) if acc >= floor]
    return float(max(allowed))
