"""MobileNetV2 for 32x32 inputs: the fourth benchmark of the journal version of SNACS.

The ImageNet network (Sandler et al., 2018) downsamples by 32 before its last stage; on
CIFAR-10 that would leave a 1x1 map after the third stage. The standard CIFAR variant
keeps the ImageNet layout of inverted residual blocks and changes only two strides: the
3x3 stem and the first 24-channel stage run at stride 1, so the network downsamples by 8
(32 -> 4) and the last stage sees 4x4 maps. Blocks add their input back only when the
stride is 1 and the width is unchanged (no projection shortcuts), exactly as in the
original. With 10 classes this is 2,236,682 parameters and 87.98 M multiply-accumulates
(conv + linear, batch 1).

Every inverted residual block is expand 1x1 -> depthwise 3x3 -> project 1x1 (linear
bottleneck, no activation after the projection). The depthwise conv has one input
channel per filter, so its filters are tied one-to-one to the expand conv's filters:
pruning one removes the other (Torch-Pruning's dependency graph does this when slimming).
"""

from torch import Tensor, nn

from snacs.models.vgg import scaled_width, validate_width_mult

# (expansion t, output channels c, blocks n, stride of the first block s) as in the paper,
# with the 24-channel stage at stride 1 instead of 2 for 32x32 inputs.
CIFAR_STAGES: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 1),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


class ConvBNReLU6(nn.Sequential):
    """conv (no bias) -> BatchNorm -> ReLU6; ``groups=channels`` makes it depthwise."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, groups=1):
        super().__init__(
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel,
                stride=stride,
                padding=kernel // 2,
                groups=groups,
                bias=False,
            ),
            nn.BatchNorm2d(out_channels),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """Expand (skipped when t = 1), depthwise, linear projection, optional identity add."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int):
        super().__init__()
        hidden = in_channels * expansion
        self.use_residual = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expansion != 1:
            layers.append(ConvBNReLU6(in_channels, hidden, 1, 1))
        layers += [
            ConvBNReLU6(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if self.use_residual:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2CIFAR(nn.Module):
    """Stem, 17 inverted residual blocks, 1x1 head conv, global average pool, linear."""

    def __init__(self, num_classes: int = 10, width_mult: float = 1.0):
        super().__init__()
        in_channels = scaled_width(STEM_CHANNELS, width_mult)
        layers: list[nn.Module] = [ConvBNReLU6(3, in_channels, 3, 1)]
        for expansion, channels, blocks, first_stride in CIFAR_STAGES:
            out_channels = scaled_width(channels, width_mult)
            for index in range(blocks):
                stride = first_stride if index == 0 else 1
                layers.append(InvertedResidual(in_channels, out_channels, stride, expansion))
                in_channels = out_channels
        # Unlike the original, the head narrows too, so a CPU demo model stays small.
        head = scaled_width(HEAD_CHANNELS, width_mult)
        layers.append(ConvBNReLU6(in_channels, head, 1, 1))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(head, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        return self.classifier(self.avgpool(x).flatten(1))


# Value checks of the factory's knobs, run by config validation before any job.
KNOB_CHECKS = {"width_mult": validate_width_mult}


def mobilenetv2_cifar(num_classes: int, width_mult: float = 1.0) -> MobileNetV2CIFAR:
    """Factory for the model registry; ``width_mult`` < 1 shrinks it for CPU demos."""
    return MobileNetV2CIFAR(num_classes=num_classes, width_mult=validate_width_mult(width_mult))
