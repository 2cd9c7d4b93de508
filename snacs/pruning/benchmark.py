"""Loading a benchmark's data and models from its (validated) config section.

In the pruning core, below the workflow steps and the studies, because both load a
benchmark the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import Subset

from snacs.data import DatasetBundle, class_balanced_indices, load_dataset
from snacs.errors import SnacsError
from snacs.io import load_checkpoint, load_state_dict_strict
from snacs.models import build_model

Spec = Mapping[str, Any]


def load_bundle(spec: Spec) -> DatasetBundle:
    dataset = spec["dataset"]
    return load_dataset(
        dataset["name"], dataset["root"], download=dataset["download"], **dataset["options"]
    )


def model_options(spec: Spec, *, for_loading: bool) -> dict:
    """Model knobs; when loading our own checkpoint, never fetch pretrained weights again."""
    options = dict(spec["model"]["options"])
    if for_loading:
        options.pop("weights_path", None)
        if "pretrained" in options:
            options["pretrained"] = False
    return options


def new_model(spec: Spec, num_classes: int) -> nn.Module:
    return build_model(spec["model"]["arch"], num_classes, **model_options(spec, for_loading=False))


def load_model(spec: Spec, num_classes: int, checkpoint: str | Path) -> nn.Module:
    """Build the benchmark's architecture and load weights from one of our checkpoints."""
    model = build_model(spec["model"]["arch"], num_classes, **model_options(spec, for_loading=True))
    payload = load_checkpoint(checkpoint)
    if "model" not in payload:
        raise SnacsError(f"{checkpoint} has no 'model' entry; it was not written by snacs")
    load_state_dict_strict(model, payload["model"], str(checkpoint))
    return model


def statistics_subset(spec: Spec, bundle: DatasetBundle) -> Subset:
    """The class-balanced, non-augmented training subset pruners compute statistics on."""
    stats = spec["statistics"]
    indices = class_balanced_indices(
        bundle.train_targets, stats["samples_per_class"], stats["seed"], replace=stats["replace"]
    )
    return Subset(bundle.train_eval, indices.tolist())
