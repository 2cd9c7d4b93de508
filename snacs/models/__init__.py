"""Model registry: config names -> factories ``factory(num_classes, **knobs) -> nn.Module``.

Models are plain ``nn.Module`` trees with no pruning-specific hooks: downstream code
finds conv/linear layers by type and the data flow by tracing, so any registered model
can be pruned by every method. Factories are registered here, in one table, so the
model modules stay leaves that know nothing about the registry.
"""

import inspect
from collections.abc import Callable

from torch import nn

from snacs.errors import ConfigError
from snacs.models import mlp, mobilenetv2_cifar, resnet50, resnet_cifar, vgg
from snacs.registry import Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")
# Modules (not factory functions) are imported so that ``snacs.models.resnet50`` keeps
# naming the module even where a factory shares its name.
MODELS.register("vgg16_cifar")(vgg.vgg16_cifar)
MODELS.register("resnet_cifar")(resnet_cifar.resnet_cifar)
MODELS.register("resnet56_cifar")(resnet_cifar.resnet56_cifar)
MODELS.register("resnet50")(resnet50.resnet50)
MODELS.register("mlp_mnist")(mlp.mlp_mnist)
MODELS.register("mobilenetv2_cifar")(mobilenetv2_cifar.mobilenetv2_cifar)


def build_model(name: str, num_classes: int, **knobs) -> nn.Module:
    """Build a registered model; a misspelt knob fails here rather than being ignored."""
    factory = MODELS.get(name)
    valid = [p for p in inspect.signature(factory).parameters if p != "num_classes"]
    unknown = sorted(set(knobs) - set(valid))
    if unknown:
        raise ConfigError(
            f"model {name!r} has no knob(s) {', '.join(unknown)}; "
            f"valid knobs: {', '.join(valid) or '(none)'}"
        )
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"num_classes must be a positive integer, got {num_classes!r}")
    return factory(num_classes, **knobs)


def model_names() -> list[str]:
    return MODELS.names()


__all__ = ["MODELS", "build_model", "model_names"]
