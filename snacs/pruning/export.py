"""Writing a slimmed model in a form that loads without this package.

``torch.export`` captures the slim network as a graph with its weights (the
``.pt2`` format), so a deployed model needs only PyTorch::

    program = torch.export.load("model.pt2")
    logits = program.module()(images)

The batch dimension is exported as dynamic, so any batch size works after loading.
TorchScript (``torch.jit``) is deprecated in current PyTorch, so it is not used.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torch import nn

from snacs.io import atomic_path

EXPORT_FORMAT = "torch.export"


def export_model(model: nn.Module, input_shape: tuple[int, ...], path: str | Path) -> dict:
    """Export ``model`` (in eval mode, on the CPU) to ``path`` atomically; return its record.

    ``input_shape`` excludes the batch dimension. The model itself is left unchanged.
    """
    path = Path(path)
    modes = {module: module.training for module in model.modules()}
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    example = torch.zeros((2, *input_shape))
    try:
        model.cpu().eval()
        program = torch.export.export(
            model, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},)
        )
    finally:
        model.to(device)
        for module, training in modes.items():
            module.training = training
    archive = io.BytesIO()  # torch.export wants a .pt2 name or a buffer, not a temp name
    torch.export.save(program, archive)
    with atomic_path(path) as temporary:
        temporary.write_bytes(archive.getvalue())
    return {
        "path": str(path),
        "format": EXPORT_FORMAT,
        "input_shape": list(input_shape),
        "bytes": path.stat().st_size,
    }
