"""MINT's MNIST multilayer perceptron (784-500-300-10, ReLU, dropout 0.2).

Used as the smallest benchmark: fully connected layers only, so connection-level
pruning between ``fc1 -> fc2 -> fc3`` can be checked without any convolution.
"""

from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

from snacs.errors import ConfigError


class MLP(nn.Sequential):
    """flatten, then (linear, ReLU, dropout) per hidden layer, then the output linear.

    A ``Sequential`` subclass with explicit names keeps the layers as top-level
    submodules ``fc1``, ``relu1``, ``drop1``, ..., ``fcN`` in execution order.
    """

    def __init__(self, in_features: int, hidden: Sequence[int], num_classes: int, dropout: float):
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        # Flattening from dim 1 accepts both 1x28x28 images and flat 784-vectors.
        layers["flatten"] = nn.Flatten(start_dim=1)
        width = in_features
        for index, hidden_width in enumerate(hidden, start=1):
            layers[f"fc{index}"] = nn.Linear(width, hidden_width)
            layers[f"relu{index}"] = nn.ReLU(inplace=True)
            layers[f"drop{index}"] = nn.Dropout(p=dropout)
            width = hidden_width
        layers[f"fc{len(hidden) + 1}"] = nn.Linear(width, num_classes)
        super().__init__(layers)


def validate_hidden(hidden: Sequence[int]) -> list[int]:
    if (
        isinstance(hidden, str)
        or not isinstance(hidden, Sequence)
        or not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in hidden)
    ):
        raise ConfigError(f"model knob hidden must list positive integers, got {hidden!r}")
    return list(hidden)


def validate_in_features(in_features: int) -> int:
    if isinstance(in_features, bool) or not isinstance(in_features, int) or in_features <= 0:
        raise ConfigError(f"model knob in_features must be a positive integer, got {in_features!r}")
    return in_features


def validate_dropout(dropout: float) -> float:
    if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0 <= dropout < 1:
        raise ConfigError(f"model knob dropout must be in [0, 1), got {dropout!r}")
    return float(dropout)


# Value checks of the factory's knobs, run by config validation before any job.
KNOB_CHECKS = {
    "hidden": validate_hidden,
    "in_features": validate_in_features,
    "dropout": validate_dropout,
}


def mlp_mnist(
    num_classes: int,
    in_features: int = 784,
    hidden: Sequence[int] = (500, 300),
    dropout: float = 0.2,
) -> MLP:
    """Factory for the model registry; ``hidden`` lists the hidden layer widths."""
    return MLP(
        validate_in_features(in_features),
        validate_hidden(hidden),
        num_classes,
        validate_dropout(dropout),
    )
