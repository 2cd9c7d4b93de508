"""Seeding of every random number generator a training run touches.

Python's ``random``, NumPy's global generator and torch (CPU and every CUDA device) are
seeded together because data augmentation, samplers and model initialisation each draw from
a different one; seeding only torch leaves runs irreproducible in ways that are hard to spot.
"""

import os
import random

import numpy as np
import torch

from snacs.errors import ConfigError


def seed_rngs(seed: int) -> None:
    """Seed ``random``, NumPy and torch (all devices) without touching determinism flags."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ConfigError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed all generators and choose between bitwise reproducibility and speed.

    ``deterministic=True`` asks torch for deterministic kernels and turns off cuDNN
    autotuning. It only warns (instead of failing) for an op that has no deterministic
    implementation, because common layers such as adaptive pooling lack one on CUDA and a
    benchmark should not die over it. ``deterministic=False`` lets cuDNN pick the fastest
    convolution algorithms, which may differ from run to run in the last bits.
    """
    seed_rngs(seed)
    if deterministic:
        # cuBLAS needs this workspace setting to be deterministic; it must be set before
        # the first cuBLAS call, so an explicit user value wins.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic
