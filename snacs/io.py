"""Atomic file writes and safe checkpoint loading.

Every stage writes through these helpers so that an interrupted or failed run never
leaves a half-written file where a finished one is expected (temp file, then rename),
and checkpoints are read with ``weights_only=True`` because users fetch them from
elsewhere and unpickling arbitrary objects would execute code.
"""

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xxhash

from snacs.errors import CheckpointError, SnacsError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; give results the permissions of a normal write.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fingerprint(*parts: str | Mapping[str, torch.Tensor]) -> str:
    """xxh3-128 hex digest of texts and tensor dicts (names, dtypes, shapes and values).

    Tells whether a saved training state was made from the same inputs. Tensors are hashed
    by content, not by file bytes: ``torch.save`` writes different bytes for equal
    payloads, and a pruning plan's file also holds its timings.
    """
    digest = xxhash.xxh3_128()
    for part in parts:
        if isinstance(part, str):
            digest.update(b"text\0" + part.encode() + b"\0")
            continue
        for name in sorted(part):
            tensor = part[name].detach().to("cpu").contiguous()
            digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Parse a JSON file; a damaged one is a SnacsError naming the file."""
    try:
        return json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SnacsError(f"{path} is not valid JSON ({exc}); it may be truncated") from exc


def _json_default(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def plain(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays turned into Python values, tensors kept.

    ``weights_only`` loading accepts tensors and plain containers only; a numpy float
    slipped into some metadata would otherwise make the whole file unreadable.
    """
    if isinstance(obj, dict):
        return {key: plain(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(plain(value) for value in obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Save a dict of tensors and plain values atomically (loadable with weights_only)."""
    with atomic_path(path) as tmp:
        torch.save(plain(payload), tmp)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint without executing pickled code; explain what went wrong if it fails."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for truncated/foreign files
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc}); it may be "
            "truncated by an interrupted write or contain pickled objects other than tensors"
        ) from exc


def load_state_dict_strict(model: torch.nn.Module, state: dict, source: str) -> None:
    """Load ``state`` into ``model`` and name every mismatch instead of a bare traceback."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing keys {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        if unexpected:
            details.append(
                f"unexpected keys {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}"
            )
        if wrong:
            shapes = [f"{k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in wrong[:5]]
            details.append("shape mismatches " + "; ".join(shapes))
        raise CheckpointError(
            f"checkpoint {source} does not match architecture {type(model).__name__}: "
            + ", ".join(details)
        )
    model.load_state_dict(state)
