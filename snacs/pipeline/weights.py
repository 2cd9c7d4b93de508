"""Step ``weights``: fetch a pretrained model's published weights before any training job.

Compute nodes of clusters often have no internet access, so the workflow runs this step
on the machine that submits jobs (a Snakemake ``localrule``). Building the model with
its ``pretrained`` knob downloads the weights into torch hub's cache (``$TORCH_HOME``),
or checks the file a ``weights_path`` knob names; the dense step then finds them there.
"""

from __future__ import annotations

from pathlib import Path

import torch

from snacs.io import write_json
from snacs.layout import Written
from snacs.models import build_model
from snacs.pruning.benchmark import Spec


def fetch_weights(spec: Spec, out: Written[str | Path | None] = None) -> dict:
    """Load the benchmark's pretrained weights once (downloading them if needed)."""
    model = spec["model"]
    build_model(model["arch"], **model["options"])
    record = {
        "arch": model["arch"],
        "options": model["options"],
        "torch_hub_cache": str(Path(torch.hub.get_dir()) / "checkpoints"),
    }
    if out:
        write_json(out, record)
    return record
