"""Turn a config's device string into a ``torch.device`` that is known to work.

Configs say ``auto`` so that the same file runs on a laptop and on a GPU node; an explicit
``cuda`` on a machine without one must fail loudly instead of quietly training on the CPU
for days.
"""

import torch

from snacs.engine.gpu_slots import claim_gpu
from snacs.errors import ConfigError, SnacsError

_SUPPORTED_TYPES = ("cpu", "cuda", "mps")


def resolve_device(spec: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cpu``, ``cuda``, ``cuda:N``, ``mps``.

    ``auto`` and ``cuda`` on a machine with several GPUs give each process the GPU the
    fewest other snacs jobs use (see :mod:`snacs.engine.gpu_slots`); ``cuda:N`` is used
    as given.
    """
    if spec == "auto" and not torch.cuda.is_available():
        return torch.device("cpu")
    if spec in ("auto", "cuda") and torch.cuda.is_available():
        count = torch.cuda.device_count()
        return torch.device("cuda", claim_gpu(count) if count > 1 else 0)
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(_bad_name_message(spec)) from exc
    if device.type not in _SUPPORTED_TYPES:
        raise ConfigError(_bad_name_message(spec))
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SnacsError(
                f"device {spec!r} requested but CUDA is not available on this machine "
                f"(torch {torch.__version__}, built for CUDA {torch.version.cuda}); "
                "use device 'auto' or 'cpu'"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise SnacsError(f"device {spec!r} requested but only {count} CUDA device(s) exist")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise SnacsError(f"device {spec!r} requested but Apple MPS is not available")
    return device


def _bad_name_message(spec: object) -> str:
    return f"device {spec!r} is not a valid device; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
