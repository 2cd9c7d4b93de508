"""Step ``data``: write the configured synthetic dataset or check the real one."""

from __future__ import annotations

from pathlib import Path

from snacs.io import write_json
from snacs.pipeline.common import Spec, prepare_dataset


def run_data(spec: Spec, out: str | Path | None = None) -> Path:
    """Prepare the benchmark's dataset; with ``out``, record its root there when done."""
    root = prepare_dataset(spec)
    if out:
        write_json(out, {"root": str(root)})
    return root
