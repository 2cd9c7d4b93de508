"""Training hyper-parameters as one validated, immutable value.

Dense training and every fine-tuning run are described by the same handful of numbers
(docs/method.md). Keeping them in a frozen dataclass that checks itself on construction means a
typo or a nonsensical value in a config fails before any GPU time is spent, with a message
that names the offending key.
"""

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from snacs.errors import ConfigError

SCHEDULES = ("multistep", "cosine", "constant")


@dataclass(frozen=True)
class Recipe:
    """SGD training recipe; validated on construction (any invalid value -> ConfigError).

    ``batch_size`` is not used by :func:`snacs.engine.train.fit` itself (it receives ready
    loaders); it lives here so the caller that builds the loaders reads it from one place.
    ``milestones`` are epoch counts after which the learning rate is multiplied by ``gamma``
    (only used by the ``multistep`` schedule; milestones past ``epochs`` never fire).
    ``eval_every`` evaluates every k-th epoch; the final epoch is always evaluated.
    """

    epochs: int
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    schedule: Literal["multistep", "cosine", "constant"] = "multistep"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    label_smoothing: float = 0.0
    eval_every: int = 1

    def __post_init__(self) -> None:
        _check_int("epochs", self.epochs, minimum=0)
        _check_int("batch_size", self.batch_size, minimum=1)
        _check_int("eval_every", self.eval_every, minimum=1)
        _check_number("lr", self.lr, low=0.0, low_inclusive=False)
        _check_number("momentum", self.momentum, low=0.0, high=1.0)
        _check_number("weight_decay", self.weight_decay, low=0.0)
        _check_number("gamma", self.gamma, low=0.0, low_inclusive=False)
        _check_number("label_smoothing", self.label_smoothing, low=0.0, high=1.0)
        if not isinstance(self.nesterov, bool):
            raise ConfigError(f"recipe key 'nesterov' must be true or false, got {self.nesterov!r}")
        if self.nesterov and self.momentum == 0:
            raise ConfigError(
                "recipe key 'nesterov' is true but 'momentum' is 0; Nesterov needs >0"
            )
        if self.schedule not in SCHEDULES:
            raise ConfigError(
                f"recipe key 'schedule' is {self.schedule!r}; valid choices: {', '.join(SCHEDULES)}"
            )
        _check_milestones(self.milestones)

    @classmethod
    def from_dict(cls, d: Mapping) -> "Recipe":
        """Build from a config mapping; unknown keys are errors, not silently ignored."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(str(key) for key in d if key not in known)
        if unknown:
            raise ConfigError(f"unknown recipe key(s) {unknown}; valid keys: {', '.join(known)}")
        if "epochs" not in d:
            raise ConfigError("recipe key 'epochs' is required")
        values = dict(d)
        if "milestones" in values:
            milestones = values["milestones"]
            if not isinstance(milestones, list | tuple):
                raise ConfigError(
                    f"recipe key 'milestones' must be a list of epochs, got {milestones!r}"
                )
            values["milestones"] = tuple(milestones)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (milestones as a list), for JSON, YAML and checkpoints."""
        values = asdict(self)
        values["milestones"] = list(self.milestones)
        return values


def _check_int(key: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"recipe key {key!r} must be an integer, got {value!r}")
    if value < minimum:
        raise ConfigError(f"recipe key {key!r} must be >= {minimum}, got {value}")


def _check_number(
    key: str,
    value: object,
    low: float,
    high: float | None = None,
    low_inclusive: bool = True,
) -> None:
    """Require a finite number in [low, high) (or (low, high) when ``low_inclusive`` is off)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        hint = " (YAML reads 1e-3 as a string; write 1.0e-3)" if isinstance(value, str) else ""
        raise ConfigError(f"recipe key {key!r} must be a number, got {value!r}{hint}")
    too_low = value < low if low_inclusive else value <= low
    too_high = high is not None and value >= high
    if not math.isfinite(value) or too_low or too_high:
        lower = "[" if low_inclusive else "("
        upper = f"{high})" if high is not None else "inf)"
        raise ConfigError(f"recipe key {key!r} must lie in {lower}{low}, {upper}, got {value}")


def _check_milestones(milestones: object) -> None:
    if not isinstance(milestones, tuple):
        raise ConfigError(f"recipe key 'milestones' must be a tuple of epochs, got {milestones!r}")
    for milestone in milestones:
        if isinstance(milestone, bool) or not isinstance(milestone, int) or milestone < 1:
            raise ConfigError(
                f"recipe key 'milestones' must hold positive integers, got {milestone!r}"
            )
    if any(later <= earlier for earlier, later in zip(milestones, milestones[1:], strict=False)):
        raise ConfigError(
            f"recipe key 'milestones' must be strictly increasing, got {list(milestones)}"
        )
