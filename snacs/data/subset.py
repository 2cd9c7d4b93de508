"""The class-balanced subset of training samples that pruning statistics are computed on.

SNACS and MINT collect activations on ``per_class`` training images of every class
(docs/method.md). The official helpers drew them with ``np.random.choice`` *with*
replacement, so a subset could contain duplicates and fewer distinct images than it
claims; here sampling is without replacement by default, and ``replace=True``
reproduces the official behaviour.
"""

from collections.abc import Sequence

import numpy as np

from snacs.errors import ConfigError, SnacsError


def class_balanced_indices(
    targets: Sequence[int], per_class: int, seed: int, replace: bool = False
) -> np.ndarray:
    """Exactly ``per_class`` indices of every class present in ``targets``, sorted.

    Each class draws from its own stream seeded by ``(seed, class)``, so one class's
    subset does not change when another class gains or loses samples. The result is
    sorted so that reading the subset visits the dataset in storage order.
    """
    if per_class < 1:
        raise ConfigError(f"samples_per_class: must be at least 1, got {per_class}")
    labels = np.asarray(targets, dtype=np.int64)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if not replace and members.size < per_class:
            raise SnacsError(
                f"class {label} has only {members.size} samples but {per_class} per class "
                "were requested without replacement; lower samples_per_class or sample "
                "with replacement"
            )
        rng = np.random.default_rng([seed, int(label)])
        chosen.append(rng.choice(members, size=per_class, replace=replace))
    if not chosen:
        return np.empty(0, dtype=np.int64)
    return np.sort(np.concatenate(chosen))
