"""VGG16-BN for 32x32 inputs, exactly as used by MINT and SNACS (docs/method.md).

The harness owns this definition because the published FLOP/parameter baselines
(313.46 M MACs, 14.99 M params) depend on details that off-the-shelf VGGs differ in:
conv bias, a 512-512-classes head with BatchNorm1d, and no dropout. That head is the
default (``classifier="bn"``). ``classifier="dropout"`` is the other common CIFAR head,
linear-ReLU-dropout twice then linear (512-512-512-classes, 15.25 M params, 313.73 M
MACs), which published checkpoints such as chenyaofo's ``cifar10_vgg16_bn`` need.
"""

from typing import Any

from torch import Tensor, nn

from snacs.errors import ConfigError
from snacs.models.published import load_published

# "M" marks a 2x2 max-pool; after the fifth pool a 32x32 input is 1x1.
VGG16_LAYOUT: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)  # fmt: skip
MIN_CHANNELS = 4
CLASSIFIERS = ("bn", "dropout")


def validate_width_mult(width_mult: float) -> float:
    """Reject a bad ``width_mult`` knob up front instead of failing inside ``nn.Conv2d``."""
    if isinstance(width_mult, bool) or not isinstance(width_mult, int | float) or width_mult <= 0:
        raise ConfigError(f"model knob width_mult must be a number > 0, got {width_mult!r}")
    return float(width_mult)


def scaled_width(channels: int, width_mult: float) -> int:
    """Shrink a layer for CPU demos while keeping at least a few channels to prune."""
    return max(MIN_CHANNELS, round(channels * width_mult))


class VGG16CIFAR(nn.Module):
    """13 conv-BN-ReLU layers in 5 pooled stages, then linear-BN-ReLU-linear.

    Layers live in two ``nn.Sequential`` containers so their names (``features.0``,
    ``classifier.3``) are stable and follow execution order.
    """

    def __init__(self, num_classes: int = 10, width_mult: float = 1.0, classifier: str = "bn"):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 3
        for entry in VGG16_LAYOUT:
            if entry == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            out_channels = scaled_width(int(entry), width_mult)
            layers += [
                nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=True),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
            ]
            in_channels = out_channels
        self.features = nn.Sequential(*layers)
        hidden = scaled_width(512, width_mult)
        self.classifier = _head(classifier, in_channels, hidden, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                # He init keeps activation scale through 13 ReLU layers when training from scratch.
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        return self.classifier(x.flatten(1))


def _head(kind: str, in_features: int, hidden: int, num_classes: int) -> nn.Sequential:
    """The classifier after the last pool; indices match the publishers' key names."""
    if kind == "bn":
        return nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )
    return nn.Sequential(
        nn.Linear(in_features, hidden),
        nn.ReLU(inplace=True),
        nn.Dropout(),
        nn.Linear(hidden, hidden),
        nn.ReLU(inplace=True),
        nn.Dropout(),
        nn.Linear(hidden, num_classes),
    )


def validate_classifier(classifier: str) -> str:
    if classifier not in CLASSIFIERS:
        raise ConfigError(f"model knob classifier must be 'bn' or 'dropout', got {classifier!r}")
    return classifier


# Value checks of the factory's knobs, run by config validation before any job.
KNOB_CHECKS = {"width_mult": validate_width_mult, "classifier": validate_classifier}


def vgg16_cifar(
    num_classes: int,
    width_mult: float = 1.0,
    classifier: str = "bn",
    pretrained: str | None = None,
    weights_path: str | None = None,
) -> VGG16CIFAR:
    """Factory for the model registry; ``width_mult`` < 1 gives a demo-size network.

    ``classifier`` is ``"bn"`` (MINT's head) or ``"dropout"``. ``pretrained`` names a
    published checkpoint (:mod:`snacs.models.published`) whose weights are loaded, from
    ``weights_path`` when given.
    """
    model = VGG16CIFAR(
        num_classes=num_classes,
        width_mult=validate_width_mult(width_mult),
        classifier=validate_classifier(classifier),
    )
    knobs: dict[str, Any] = {"width_mult": width_mult, "classifier": classifier}
    if pretrained is not None:
        load_published(model, pretrained, weights_path, "vgg16_cifar", knobs)
    return model
