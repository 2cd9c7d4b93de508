"""CIFAR ResNets (ResNet-20/56/110, ...) with option-A or option-B shortcuts (docs/method.md).

Option A (parameter-free shortcuts, the default) is what MINT/SNACS and the HRank/Li et
al. tables use; it is why ResNet-56 has 853,018 parameters and 125.49 M MACs, so the
comparison with published numbers only holds for this variant. Option B (a strided 1x1
convolution and BatchNorm at each stage change, 0.86 M parameters for ResNet-56) is what
some published checkpoints were trained with, so it exists to load them, not to compare.
"""

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from snacs.errors import ConfigError
from snacs.models.published import load_published
from snacs.models.vgg import scaled_width, validate_width_mult

BASE_WIDTHS = (16, 32, 64)
SHORTCUTS = ("A", "B")


class PaddedSubsampleShortcut(nn.Module):
    """Option-A shortcut at a stage change: subsample by ``stride``, zero-pad the channels.

    A named module (not a lambda) so the network stays picklable and traceable, and so
    graph tools see one node with a readable name for the skip path.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.stride = stride
        self.pad_front = (out_channels - in_channels) // 2
        self.pad_back = out_channels - in_channels - self.pad_front

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        # F.pad lists pads from the last dim backwards: (W, W, H, H, C, C).
        return F.pad(x, (0, 0, 0, 0, self.pad_front, self.pad_back))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, pad_channels=({self.pad_front}, {self.pad_back})"


def projection_shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """Option-B shortcut at a stage change: strided 1x1 convolution, then BatchNorm."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class BasicBlock(nn.Module):
    """conv-BN-ReLU-conv-BN, add the shortcut, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, shortcut: str = "A"):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu2 = nn.ReLU(inplace=True)
        if stride == 1 and in_channels == out_channels:
            self.shortcut: nn.Module = nn.Identity()
        elif shortcut == "B":
            self.shortcut = projection_shortcut(in_channels, out_channels, stride)
        else:
            self.shortcut = PaddedSubsampleShortcut(in_channels, out_channels, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class ResNetCIFAR(nn.Module):
    """conv1-BN-ReLU, three stages of ``blocks_per_stage`` blocks, global avg-pool, linear."""

    def __init__(
        self,
        blocks_per_stage: int,
        num_classes: int = 10,
        width_mult: float = 1.0,
        shortcut: str = "A",
    ):
        super().__init__()
        widths = [scaled_width(w, width_mult) for w in BASE_WIDTHS]
        self.conv1 = nn.Conv2d(3, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        in_channels = widths[0]
        stages = []
        for stage_index, width in enumerate(widths):
            first_stride = 1 if stage_index == 0 else 2
            blocks = []
            for block_index in range(blocks_per_stage):
                stride = first_stride if block_index == 0 else 1
                blocks.append(BasicBlock(in_channels, width, stride, shortcut))
                in_channels = width
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                # He init as in the original CIFAR ResNet recipe; depth 56+ trains poorly without.
                nn.init.kaiming_normal_(module.weight)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


def validate_depth(depth: int) -> int:
    """Three stages of n two-conv blocks plus the stem and the classifier: 6n+2 layers."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ConfigError(
            f"model knob depth must be an integer 6n+2 >= 8 (e.g. 20, 56, 110), got {depth!r}"
        )
    return depth


def validate_shortcut(shortcut: str) -> str:
    if shortcut not in SHORTCUTS:
        raise ConfigError(f"model knob shortcut must be 'A' or 'B', got {shortcut!r}")
    return shortcut


# Value checks of the factories' knobs, run by config validation before any job.
KNOB_CHECKS = {
    "depth": validate_depth,
    "width_mult": validate_width_mult,
    "shortcut": validate_shortcut,
}
RESNET56_KNOB_CHECKS = {"width_mult": validate_width_mult, "shortcut": validate_shortcut}


def resnet_cifar(
    num_classes: int,
    depth: int = 56,
    width_mult: float = 1.0,
    shortcut: str = "A",
    pretrained: str | None = None,
    weights_path: str | None = None,
) -> ResNetCIFAR:
    """Factory for the model registry: ``depth`` = 6n+2 (20, 32, 44, 56, 110, ...).

    ``shortcut`` is ``"A"`` (zero-padding, no parameters) or ``"B"`` (1x1 convolution
    and BatchNorm). ``pretrained`` names a published checkpoint
    (:mod:`snacs.models.published`) whose weights are loaded, from ``weights_path`` when
    given; the checkpoint's own depth and shortcut must be the ones configured.
    """
    model = ResNetCIFAR(
        blocks_per_stage=(validate_depth(depth) - 2) // 6,
        num_classes=num_classes,
        width_mult=validate_width_mult(width_mult),
        shortcut=validate_shortcut(shortcut),
    )
    knobs: dict[str, Any] = {"depth": depth, "width_mult": width_mult, "shortcut": shortcut}
    if pretrained is not None:
        load_published(model, pretrained, weights_path, "resnet_cifar", knobs)
    return model


def resnet56_cifar(
    num_classes: int,
    width_mult: float = 1.0,
    shortcut: str = "A",
    pretrained: str | None = None,
    weights_path: str | None = None,
) -> ResNetCIFAR:
    """The paper's ResNet-56, under its own name so configs can say what they mean."""
    return resnet_cifar(
        num_classes,
        depth=56,
        width_mult=width_mult,
        shortcut=shortcut,
        pretrained=pretrained,
        weights_path=weights_path,
    )
