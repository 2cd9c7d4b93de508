"""Wall-clock inference latency of a model, as the "what a deployed model costs" metric.

MAC counts do not show what a slimmed model gains in practice (memory traffic, kernel
choice, launch overhead do), so the slim model is also timed. CUDA runs asynchronously:
without ``torch.cuda.synchronize`` around each call the timer would only measure the
kernel launches, so each repeat is synchronised. Warm-up calls are discarded because the
first calls pay for allocator growth, cuDNN algorithm search and lazy initialisation.
The median is the headline number as it is robust to the occasional OS hiccup; its
spread is the interquartile range (first and third quartiles) over the repeats.
"""

import statistics
import time

import torch
from torch import nn

from snacs.errors import ConfigError


def measure_latency(
    model: nn.Module,
    input_shape: tuple[int, ...],
    batch_size: int = 1,
    device: str = "cpu",
    warmup: int = 5,
    repeats: int = 20,
) -> dict:
    """Time ``repeats`` forward passes of a random batch in eval mode under ``no_grad``.

    ``input_shape`` excludes the batch dimension. The model is moved to ``device`` for the
    measurement and moved back, with its train/eval modes restored, afterwards.
    Returns ``median_ms``, ``q1_ms``/``q3_ms`` (quartiles) and ``iqr_ms`` (their distance),
    ``mean_ms``, ``std_ms`` and the settings that produced them.
    """
    if batch_size < 1 or warmup < 0 or repeats < 1:
        raise ConfigError(
            "latency needs batch_size >= 1, warmup >= 0 and repeats >= 1, got "
            f"batch_size={batch_size}, warmup={warmup}, repeats={repeats}"
        )
    target = torch.device(device)
    if target.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"latency device {device!r} requested but CUDA is not available")
    first_param = next(model.parameters(), None)
    original_device = first_param.device if first_param is not None else target
    dtype = first_param.dtype if first_param is not None else torch.get_default_dtype()
    modes = {module: module.training for module in model.modules()}
    inputs = torch.randn((batch_size, *input_shape), device=target, dtype=dtype)
    timings_ms = []
    try:
        model.to(target).eval()
        with torch.no_grad():
            for _ in range(warmup):
                model(inputs)
            for _ in range(repeats):
                _synchronize(target)
                start = time.perf_counter()
                model(inputs)
                _synchronize(target)
                timings_ms.append((time.perf_counter() - start) * 1000.0)
    finally:
        model.to(original_device)
        for module, training in modes.items():
            module.training = training
    q1, _, q3 = (
        statistics.quantiles(timings_ms, n=4, method="inclusive")
        if repeats > 1
        else (timings_ms[0],) * 3
    )
    return {
        "median_ms": statistics.median(timings_ms),
        "q1_ms": q1,
        "q3_ms": q3,
        "iqr_ms": q3 - q1,
        "mean_ms": statistics.fmean(timings_ms),
        "std_ms": statistics.pstdev(timings_ms),
        "batch_size": batch_size,
        "input_shape": list(input_shape),
        "device": str(target),
        "warmup": warmup,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
    }


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
