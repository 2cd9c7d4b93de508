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
from snacs.data.normalisation import with_normalisation
from snacs.errors import ConfigError, SnacsError
from snacs.io import load_checkpoint, load_state_dict_strict
from snacs.models import build_model, weight_free_knobs
from snacs.models.published import Normalisation, PublishedCheckpoint, checkpoint_of

Spec = Mapping[str, Any]


def read_dataset(spec: Spec, download: bool) -> DatasetBundle:
    """The benchmark's dataset as its files hold it (checked as ``dataset.verify`` says)."""
    dataset = spec["dataset"]
    return load_dataset(
        dataset["name"],
        dataset["root"],
        download=download,
        verify=dataset.get("verify", "release"),
        **dataset["options"],
    )


def load_bundle(spec: Spec) -> DatasetBundle:
    """The benchmark's dataset as its model reads it: normalised as the model expects.

    Every step that feeds the model (dense evaluation, pruning statistics, fine-tuning,
    evaluation) reads its data through here, so a published checkpoint's normalisation
    reaches all of them.
    """
    bundle = read_dataset(spec, spec["dataset"]["download"])
    wanted = input_normalisation(spec, bundle)
    return bundle if wanted is None else with_normalisation(bundle, wanted.mean, wanted.std)


def published_source(spec: Spec) -> PublishedCheckpoint | None:
    """The published checkpoint the benchmark's model starts from, if any."""
    return checkpoint_of(spec["model"]["options"])


def input_normalisation(spec: Spec, bundle: DatasetBundle) -> Normalisation | None:
    """The mean/std a published checkpoint's inputs need; None: the dataset's own."""
    checkpoint = published_source(spec)
    if checkpoint is None:
        return None
    if checkpoint.dataset != bundle.name:
        raise ConfigError(
            f"benchmarks.{spec['name']}.model.options.pretrained: checkpoint {checkpoint.name} "
            f"was trained on {checkpoint.dataset}, not on {bundle.name}"
        )
    return checkpoint.normalisation


def model_options(spec: Spec, *, for_loading: bool) -> dict:
    """Model knobs; when loading our own checkpoint, never fetch pretrained weights again."""
    options = dict(spec["model"]["options"])
    return weight_free_knobs(options) if for_loading else options


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
