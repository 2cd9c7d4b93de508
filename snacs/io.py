"""Atomic file writes and safe checkpoint loading.

Every stage writes through these helpers so that an interrupted or failed run never
leaves a half-written file where a finished one is expected (temp file, then rename),
and checkpoints are read with ``weights_only=True`` because users fetch them from
elsewhere and unpickling arbitrary objects would execute code.
"""

import contextlib
import errno
import json
import os
import pickle
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xxhash

from snacs.errors import CheckpointError, DiskFullError, SnacsError

# What torch's zip writer raises when a write comes up short, as it does on a full disk
# ("[enforce fail at inline_container.cc:672] . unexpected pos 2586880 vs 2586776").
_TORCH_SHORT_WRITE = ("unexpected pos", "PytorchStreamWriter failed writing")
_NO_SPACE = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded"}


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, size: int | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    A write that fails for want of space ends in a DiskFullError naming ``path``, the
    space left and, when the caller knows it, about how many bytes (``size``) the file
    needs, instead of a traceback from whichever writer hit the wall. Either way the
    temporary file is removed, and a finished file already at ``path`` is kept.
    """
    target = Path(path)
    tmp_path: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        yield tmp_path
        # mkstemp creates 0600 files; give results the permissions of a normal write.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    except (OSError, RuntimeError) as exc:
        reason = _out_of_space(exc)
        if reason is None:
            raise
        if tmp_path is not None:
            tmp_path.unlink(missing_ok=True)  # before measuring what is left
        raise DiskFullError(_disk_full_message(target, reason, size)) from exc
    finally:
        if tmp_path is not None:
            tmp_path.unlink(missing_ok=True)


def _out_of_space(exc: BaseException) -> str | None:
    """Why ``exc`` says the disk is full, or None when it is about something else."""
    if isinstance(exc, OSError):
        return _NO_SPACE.get(exc.errno)
    if isinstance(exc, RuntimeError) and any(text in str(exc) for text in _TORCH_SHORT_WRITE):
        return "torch's writer stopped short, as it does on a full disk"
    return None


def _disk_full_message(target: Path, reason: str, size: int | None) -> str:
    try:
        free = f"{_bytes(shutil.disk_usage(target.parent).free)} free on its filesystem"
    except OSError:
        free = "free space unknown"
    needs = f", the file needs about {_bytes(size)}" if size else ""
    return f"cannot write {target}: {reason} ({free}{needs}); nothing half-written was left"


def _bytes(count: int) -> str:
    """``count`` bytes as a short human reading (``1.5 MiB``)."""
    value, unit = float(count), "bytes"
    for larger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{count} bytes" if unit == "bytes" else f"{value:.1f} {unit}"


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
    data = text.encode()
    with atomic_path(path, len(data)) as tmp:
        tmp.write_bytes(data)


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
    payload = plain(payload)
    with atomic_path(path, _tensor_bytes(payload)) as tmp:
        torch.save(payload, tmp)


def _tensor_bytes(obj: Any) -> int:
    """Bytes of the tensors in ``obj``: about what its checkpoint file takes."""
    if isinstance(obj, torch.Tensor):
        return obj.untyped_storage().nbytes()
    if isinstance(obj, dict):
        return sum(_tensor_bytes(value) for value in obj.values())
    if isinstance(obj, list | tuple):
        return sum(_tensor_bytes(value) for value in obj)
    return 0


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint without executing pickled code; explain what went wrong if it fails.

    A file that holds anything but tensors and plain values is refused in one line that
    says what it refers to. Torch's own message is not passed on: it suggests loading
    with ``weights_only`` off, which for a file from elsewhere means running its code.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with warnings.catch_warnings():
            # Legacy (non-zip) pickles draw a warning about their protocol before refusal.
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:  # how torch refuses what it will not unpickle
        raise CheckpointError(
            f"checkpoint {path} refused and not loaded: {_refusal(str(exc))}, which a file "
            "of tensors never needs and which could run code when unpickled"
        ) from None
    except Exception as exc:  # torch raises several types for truncated/foreign files
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc}); it may be "
            "truncated by an interrupted write or not be a torch checkpoint"
        ) from exc


def _refusal(message: str) -> str:
    """What a refused pickle asked for, from torch's refusal (without its advice)."""
    name = re.search(r"GLOBAL ([\w.]+)", message)
    if name:
        return f"it refers to {name.group(1)}"
    detail = re.search(r"WeightsUnpickler error:\s*(.+?)\s*(?:\n\n|$)", message, re.S)
    if detail:
        return f"its pickle holds something other than tensors ({' '.join(detail[1].split())})"
    return "its pickle holds something other than tensors"


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
