"""Each job on a multi-GPU machine picks the GPU that the fewest other jobs are using.

Snakemake starts several training jobs at once (``--resources gpu_jobs=N``) without
telling them which GPU to use, and ``cuda`` alone means GPU 0 for all of them. Every job
therefore registers itself in a small folder of lock files, one file per running job
named after its GPU, and holds an exclusive ``flock`` on it for as long as it lives. A
new job counts the files that are still locked per GPU and takes the least busy one
(the lowest index among equals). The operating system drops a lock when its process
ends, however it ends, so a crashed job never keeps a GPU reserved; its file is removed
by the next job that looks.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import uuid
from pathlib import Path
from typing import IO

_HELD: dict[Path, tuple[int, IO]] = {}  # folder -> (GPU, locked slot file) of this process
LOCK_FOLDER_VARIABLE = "SNACS_GPU_LOCKS"


def default_folder() -> Path:
    """``$SNACS_GPU_LOCKS``, else a per-user folder in the system's temporary directory."""
    configured = os.environ.get(LOCK_FOLDER_VARIABLE)
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"snacs-gpu-slots-{os.getuid()}"


def busy_jobs(count: int, folder: Path) -> list[int]:
    """Running jobs per GPU ``0..count-1``; removes the files of jobs that have ended."""
    busy = [0] * count
    for slot in folder.glob("gpu*.slot"):
        gpu = int(slot.name[3:].split("-", 1)[0])
        with slot.open("a") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if gpu < count:
                    busy[gpu] += 1
                continue
        slot.unlink(missing_ok=True)
    return busy


def claim_gpu(count: int, folder: Path | None = None) -> int:
    """Register this process on the least busy of ``count`` GPUs and return its index.

    A process claims once: asking again returns the GPU it already holds.
    """
    folder = folder or default_folder()
    if folder in _HELD:
        return _HELD[folder][0]
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".guard").open("a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # one job chooses at a time
        busy = busy_jobs(count, folder)
        gpu = min(range(count), key=lambda index: (busy[index], index))
        slot = (folder / f"gpu{gpu}-{os.getpid()}-{uuid.uuid4().hex[:8]}.slot").open("w")
        fcntl.flock(slot, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _HELD[folder] = (gpu, slot)
    return gpu
