"""Re-estimating BatchNorm statistics after pruning, before evaluating without fine-tuning.

Masking filters or connections changes the distribution every later layer sees, but the
BatchNorm layers still normalise with the dense network's running means and variances.
Evaluated like that, a pruned BatchNorm network is often at chance whatever was pruned,
so the "no fine-tune" accuracy would say nothing about the method. Recomputing the
statistics on a few training batches (no weight changes, no gradients) is the standard
remedy and costs a few forward passes.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from snacs.errors import SnacsError


@torch.no_grad()
def recalibrate_batchnorm(
    model: nn.Module, loader: Iterable, batches: int, device: torch.device | str
) -> int:
    """Replace every BatchNorm's running statistics by their average over ``batches`` batches.

    Only the norms run in training mode (dropout and the rest stay in eval mode); each
    batch counts equally (cumulative average, ``momentum=None``). Weights are not touched.
    Returns the number of batches used (fewer when the loader is shorter); a model
    without BatchNorm or ``batches == 0`` returns 0 and changes nothing.
    """
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    if not norms or batches <= 0:
        return 0
    modes = {module: module.training for module in model.modules()}
    momenta = {norm: norm.momentum for norm in norms}
    model.to(device).eval()
    used = 0
    try:
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None
            norm.train()
        for inputs, _ in loader:
            if used == batches:
                break
            model(inputs.to(device, non_blocking=True))
            used += 1
    finally:
        for norm, momentum in momenta.items():
            norm.momentum = momentum
        for module, training in modes.items():
            module.training = training
    if used == 0:
        raise SnacsError("BatchNorm re-estimation got no training batch from its loader")
    return used
