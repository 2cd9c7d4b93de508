"""Reading pickled dataset files without letting them run code.

The CIFAR-10 python release is a set of pickles, and a pickle can call any importable
function while it loads. A batch file that someone crafted (or a download that was
swapped) must not run code on the machine that reads it, whatever marker or checksum
sits beside it. The unpickler here resolves only the few globals a pickled numpy array
needs; anything else stops the load with an error that names the file and the global.
Plain containers, strings, bytes and numbers need no globals at all.
"""

from __future__ import annotations

import codecs
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from snacs.errors import CorruptDataError

_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(1))[0]


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """What Python 3 pickles (protocol 2) call to rebuild ``bytes``: latin-1 encoding only."""
    if codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"bytes encoded as {encoding!r}, expected latin-1")
    return text.encode("latin-1")


# (module, name) -> object. numpy moved ``multiarray`` to ``numpy._core`` in 2.0; files
# written by either version (the real CIFAR-10 release predates it) name one of the two.
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only ``ALLOWED_GLOBALS`` and no persistent ids."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refers to {module}.{name}, which a data file has no reason to contain"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("uses persistent ids, which data files never need")


def load_pickle_safely(path: str | Path, encoding: str = "latin1") -> Any:
    """Unpickle ``path`` admitting only plain values and numpy arrays.

    ``encoding`` decodes Python 2 ``str`` objects (the CIFAR-10 release was pickled by
    Python 2). Object arrays are refused too: their elements could only be plain values
    here, but no dataset stores them and they would hide arbitrary nesting.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            value = RestrictedUnpickler(handle, encoding=encoding).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise CorruptDataError(
            f"{path} is not a safe data pickle ({exc}); it may be truncated, damaged or "
            "crafted: delete it and fetch the dataset again"
        ) from exc
    _refuse_object_arrays(value, path)
    return value


def _refuse_object_arrays(value: Any, path: Path) -> None:
    if isinstance(value, np.ndarray) and value.dtype.hasobject:
        raise CorruptDataError(f"{path} holds an array of Python objects; data files never do")
    if isinstance(value, dict):
        for item in value.values():
            _refuse_object_arrays(item, path)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_object_arrays(item, path)
