"""Reading the published numbers of ``paper_figures/`` with their columns checked."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd


def read_reference_csv(
    path: str | Path, columns: Iterable[str], dtype: dict | None = None
) -> pd.DataFrame:
    """A ``paper_figures`` CSV, refused with the missing column names if it lacks any."""
    frame = pd.read_csv(path, dtype=dtype)
    missing = set(columns) - set(frame.columns)
    if missing:
        raise ValueError(f"{path} lacks columns {sorted(missing)}")
    return frame
