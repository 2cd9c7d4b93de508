"""Model registry: config names -> factories plus the facts every caller must agree on.

Models are plain ``nn.Module`` trees with no pruning-specific hooks: downstream code
finds conv/linear layers by type and the data flow by tracing, so any registered model
can be pruned by every method. Each entry keeps, beside its factory
``factory(num_classes, **knobs) -> nn.Module``, the architecture's default number of
classes and per-sample input shape, so ``snacs count``, the studies and the tests build
the same network (ResNet-50 is the 1000-class ImageNet model unless told otherwise).
Entries are registered here, in one table, so the model modules stay leaves that know
nothing about the registry.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from snacs.errors import ConfigError
from snacs.models import mlp, mobilenetv2_cifar, resnet50, resnet_cifar, vgg
from snacs.options import check_call_options
from snacs.registry import Registry


@dataclass(frozen=True)
class ModelInfo:
    """A registered architecture: how to build it and what it expects by default.

    ``shape_from_knobs`` covers models whose input shape follows a knob (an MLP's
    ``in_features``); it returns None when the knobs leave the default in place.
    ``knob_checks`` maps a knob to the model module's own check of its value (raising
    ConfigError), the same function its factory calls, so a config is refused on a
    value such as ``width_mult: 0`` before any job rather than when the model is built.
    """

    factory: Callable[..., nn.Module]
    num_classes: int
    input_shape: tuple[int, ...]
    shape_from_knobs: Callable[[Mapping[str, Any]], tuple[int, ...] | None] | None = None
    knob_checks: Mapping[str, Callable[[Any], object]] = field(default_factory=dict)

    def input_shape_for(self, knobs: Mapping[str, Any]) -> tuple[int, ...]:
        shape = self.shape_from_knobs(knobs) if self.shape_from_knobs else None
        return shape or self.input_shape


def _mlp_shape(knobs: Mapping[str, Any]) -> tuple[int, ...] | None:
    """A flat input of ``in_features`` values when the knob changes it from 28x28 images."""
    width = knobs.get("in_features")
    return None if width in (None, 784) else (int(width),)


MODELS: Registry[ModelInfo] = Registry("model")
MODELS.register("vgg16_cifar")(
    ModelInfo(vgg.vgg16_cifar, 10, (3, 32, 32), knob_checks=vgg.KNOB_CHECKS)
)
MODELS.register("resnet_cifar")(
    ModelInfo(resnet_cifar.resnet_cifar, 10, (3, 32, 32), knob_checks=resnet_cifar.KNOB_CHECKS)
)
MODELS.register("resnet56_cifar")(
    ModelInfo(
        resnet_cifar.resnet56_cifar,
        10,
        (3, 32, 32),
        knob_checks=resnet_cifar.RESNET56_KNOB_CHECKS,
    )
)
MODELS.register("resnet50")(ModelInfo(resnet50.resnet50, resnet50.IMAGENET_CLASSES, (3, 224, 224)))
MODELS.register("mlp_mnist")(
    ModelInfo(mlp.mlp_mnist, 10, (1, 28, 28), _mlp_shape, knob_checks=mlp.KNOB_CHECKS)
)
MODELS.register("mobilenetv2_cifar")(
    ModelInfo(
        mobilenetv2_cifar.mobilenetv2_cifar,
        10,
        (3, 32, 32),
        knob_checks=mobilenetv2_cifar.KNOB_CHECKS,
    )
)


def model_info(name: str) -> ModelInfo:
    """The registry entry of ``name``; an unknown name lists the registered ones."""
    return MODELS.get(name)


def check_model_knobs(name: str, knobs: Mapping[str, Any], where: str | None = None) -> None:
    """Raise ConfigError when ``knobs`` holds a setting the architecture does not take.

    Names and value types are checked against the factory's signature, values against
    the model's ``knob_checks``. ``where`` is the config path of the knobs (e.g.
    ``benchmarks.vgg.model.options``), put first in the message so a config error
    points at the line to fix.
    """
    info = model_info(name)
    check_call_options(
        info.factory, knobs, where, f"model {name!r}", skip=("num_classes",), noun="knob"
    )
    for knob in sorted(set(knobs) & set(info.knob_checks)):
        try:
            info.knob_checks[knob](knobs[knob])
        except ConfigError as exc:
            if where is None:
                raise
            raise ConfigError(f"invalid config at {where}.{knob}: {exc}") from None


def build_model(name: str, num_classes: int | None = None, **knobs) -> nn.Module:
    """Build a registered model; a misspelt knob fails here rather than being ignored.

    ``num_classes`` defaults to the architecture's own (1000 for ResNet-50, 10 for the
    CIFAR models).
    """
    info = model_info(name)
    check_model_knobs(name, knobs)
    if num_classes is None:
        num_classes = info.num_classes
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"num_classes must be a positive integer, got {num_classes!r}")
    return info.factory(num_classes, **knobs)


def model_names() -> list[str]:
    return MODELS.names()


# Knobs that choose where a model's starting weights come from, not its architecture.
WEIGHT_KNOBS = ("pretrained", "weights_path")


def weight_free_knobs(knobs: Mapping[str, Any]) -> dict[str, Any]:
    """``knobs`` without the weight-source knobs: the same network, freshly initialised
    (for loading one of our own checkpoints, or counting, with no download or file read)."""
    return {key: value for key, value in knobs.items() if key not in WEIGHT_KNOBS}


__all__ = [
    "MODELS",
    "WEIGHT_KNOBS",
    "ModelInfo",
    "build_model",
    "check_model_knobs",
    "model_info",
    "model_names",
    "weight_free_knobs",
]
