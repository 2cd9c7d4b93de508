"""Images per second of a model's training step and of its evaluation, on one device.

Measured on random inputs with the training loop's own settings on CUDA (bfloat16
autocast, channels-last), so the numbers are what the model costs, not what the input
pipeline delivers. A few warm-up steps (cuDNN autotuning, allocator growth) are run
before the timed ones, and CUDA is synchronised around the timed region only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Throughput:
    """Images per second of one training step (forward, backward, SGD) and of evaluation."""

    train_images_per_second: float
    eval_images_per_second: float


def measure_throughput(
    model: nn.Module,
    input_shape: tuple[int, ...],
    num_classes: int,
    batch_size: int,
    device: torch.device,
    steps: int = 20,
    warmup: int = 5,
) -> Throughput:
    """Time ``steps`` training steps and ``steps`` evaluation batches of ``batch_size``."""
    on_cuda = device.type == "cuda"
    model = model.to(device)
    images = torch.randn(batch_size, *input_shape, device=device)
    if on_cuda and images.dim() == 4:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, num_classes, (batch_size,), device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=on_cuda)

    def train_step() -> None:
        with autocast:
            loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    @torch.no_grad()
    def eval_step() -> None:
        with autocast:
            model(images)

    model.train()
    train = batch_size * steps / _timed(train_step, steps, warmup, device)
    model.eval()
    evaluation = batch_size * steps / _timed(eval_step, steps, warmup, device)
    return Throughput(train, evaluation)


def _timed(step, steps: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started
