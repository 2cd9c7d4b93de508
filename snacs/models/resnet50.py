"""ResNet-50 for ImageNet in torchvision's layout (v1.5, stride on the 3x3 conv).

torchvision's definition is used as-is because the published 4.09 G MAC / 76.13 %
top-1 baselines refer to exactly this layout and its ``IMAGENET1K_V1`` weights.
Pretrained weights come either from a local file or from torchvision's download; the
download failing (clusters without network) must end in an error that says how to
provide the file by hand.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from snacs.errors import CheckpointError
from snacs.io import load_checkpoint, load_state_dict_strict

if TYPE_CHECKING:
    from torchvision.models import ResNet, ResNet50_Weights

IMAGENET_CLASSES = 1000


def torchvision_weights() -> ResNet50_Weights:
    """torchvision's ImageNet weights entry (torchvision is imported here, when needed:
    importing it costs every short workflow step seconds)."""
    from torchvision.models import ResNet50_Weights

    return ResNet50_Weights.IMAGENET1K_V1


def resnet50(num_classes: int, pretrained: bool = False, weights_path: str | None = None) -> ResNet:
    """Factory for the model registry.

    With ``pretrained`` the ImageNet weights are loaded into the 1000-class network first
    and only then is the classifier replaced for ``num_classes`` != 1000, so the backbone is
    always the published one.
    """
    from torchvision.models import resnet50 as torchvision_resnet50

    if not pretrained:
        return torchvision_resnet50(weights=None, num_classes=num_classes)
    model = torchvision_resnet50(weights=None, num_classes=IMAGENET_CLASSES)
    if weights_path is not None:
        state, source = read_weights_file(Path(weights_path)), str(weights_path)
    else:
        state, source = download_torchvision_weights(), torchvision_weights().url
    load_state_dict_strict(model, state, source)
    if num_classes != IMAGENET_CLASSES:
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def read_weights_file(path: Path) -> dict[str, Tensor]:
    """Read a state_dict from ``.pth``/``.pt`` (safe unpickling) or ``.safetensors``."""
    if path.suffix != ".safetensors":
        return load_checkpoint(path)
    if not path.is_file():
        raise CheckpointError(f"weights file {path} does not exist")
    if importlib.util.find_spec("safetensors") is None:
        raise CheckpointError(
            f"weights file {path} is in safetensors format but the 'safetensors' package is "
            "not installed; run `pip install safetensors` or convert the file to .pth"
        )
    from safetensors.torch import load_file

    try:
        return load_file(path)
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise CheckpointError(f"weights file {path} cannot be read: {exc}") from exc


def download_torchvision_weights() -> dict[str, Tensor]:
    """Fetch (or reuse from torch hub's cache) torchvision's ImageNet ResNet-50 weights."""
    weights = torchvision_weights()
    try:
        return weights.get_state_dict(progress=True, check_hash=True)
    except Exception as exc:  # URLError, socket/SSL errors, HTTP errors and hash mismatches
        url = weights.url
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
        raise CheckpointError(
            f"could not download the pretrained ResNet-50 weights ({type(exc).__name__}: "
            f"{exc}) from {url}. Without network access, download that file elsewhere and "
            f"place it at {cached}, or pass the model knob weights_path=<file .pth/.pt/"
            ".safetensors>."
        ) from exc
