"""Data-parallel training under ``torchrun``: process group, rank, and who writes files.

``torchrun --nproc-per-node N`` starts N copies of a step with ``RANK``, ``WORLD_SIZE``
and ``LOCAL_RANK`` in their environment. :func:`init_from_env` joins them into one
process group (NCCL on GPUs, gloo on CPUs) and gives each rank its own GPU; without those
variables it does nothing, so the same step runs single-process unchanged. Rank 0 is the
only writer of checkpoints, logs and records; the others compute the same numbers.
"""

from __future__ import annotations

import datetime
import os

import torch
import torch.distributed as dist

from snacs.engine.device import resolve_device


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of this process; ``(0, 1)`` outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_writer() -> bool:
    """Whether this process writes files (rank 0, or the only process)."""
    return world()[0] == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device: str = "auto") -> torch.device:
    """Join the torchrun process group if there is one; return this rank's device.

    ``device`` is the step's device setting: ``auto`` or ``cuda`` gives rank ``r`` the GPU
    ``LOCAL_RANK``; ``cpu`` keeps every rank on the CPU (gloo backend).
    """
    if not launched_by_torchrun():
        return resolve_device(device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device != "cpu" and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(
            backend="nccl" if use_cuda else "gloo", timeout=datetime.timedelta(minutes=30)
        )
    return torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")


def barrier() -> None:
    """Wait for every rank (no-op single-process), e.g. until rank 0 has written a file."""
    if world()[1] > 1:
        dist.barrier()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
