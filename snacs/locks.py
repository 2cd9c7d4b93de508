"""Where the harness keeps its lock files, and the locks themselves.

Lock files never go inside or beside a dataset root: shared datasets often sit on
read-only storage, and a root that already holds the data must stay exactly as its
owner left it. Dataset locks live in the snacs cache directory instead
(``$SNACS_CACHE_DIR``, else ``$XDG_CACHE_HOME/snacs``, else ``~/.cache/snacs``), keyed by
the root's absolute path, so every job on the machine that prepares the same root takes
the same lock. An output's lock sits beside the output, in the results folder.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import xxhash
from filelock import FileLock, Timeout

from snacs.errors import SnacsError


class OutputBusyError(SnacsError):
    """Another process is writing the same output right now."""


def cache_dir() -> Path:
    """The snacs cache directory (created on first use)."""
    configured = os.environ.get("SNACS_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "snacs"


def dataset_lock_path(root: str | os.PathLike) -> Path:
    """The lock file of a dataset root: in the cache directory, named by the root's path."""
    resolved = str(Path(root).expanduser().resolve())
    digest = xxhash.xxh3_64_hexdigest(resolved.encode())
    return cache_dir() / "locks" / f"dataset-{Path(resolved).name}-{digest}.lock"


def dataset_lock(root: str | os.PathLike) -> FileLock:
    """A lock that jobs preparing ``root`` (writing or downloading it) take in turn."""
    path = dataset_lock_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path)


def output_lock_path(output: str | os.PathLike, writer: str | None = None) -> Path:
    """The one-writer lock of an output: a hidden file beside it.

    With ``writer``, ``output`` is a folder that several commands write different files
    into (``results/tables``): the lock is the writer's own, inside that folder.
    """
    output = Path(output)
    if writer:
        return output / f".{writer}.lock"
    return output.parent / f".{output.name}.lock"


@contextlib.contextmanager
def exclusive_output(
    output: str | os.PathLike, what: str, writer: str | None = None
) -> Iterator[None]:
    """Hold the one-writer lock of an output (file or folder) while a step writes it.

    A second process asking for the same output fails at once with a message saying
    what to wait for, instead of both running and the last one silently winning. The
    lock is an OS-level lock on an open file, so it is released when the process exits,
    however it exits.
    """
    path = output_lock_path(output, writer)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise OutputBusyError(
            f"{output} is being written by another {what} right now (lock {path}); "
            "wait for it to finish or choose another output"
        ) from None
    try:
        yield
    finally:
        lock.release()
