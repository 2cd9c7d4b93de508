"""Checks of a schema-valid config against what the code has registered.

The JSON schema knows the shape of a config, not which pruners, datasets and models
exist or which options each takes: those live in registries and in the pruners'
``Options`` types. ``check_config`` runs before any job (in ``snacs validate`` and when
the Snakefile loads the config), so a misspelt name or option fails in a second with a
message that names the config key and lists the valid choices, not in a job's log after
the dense models trained.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

from snacs.config_methods import pruner_name, pruner_options
from snacs.data import DATASETS, check_dataset_options
from snacs.errors import ConfigError, SnacsError, UnknownNameError
from snacs.estimators.edge.options import EdgeOptions
from snacs.models import MODELS, check_model_knobs
from snacs.options import check_options
from snacs.pruning.pruner import PRUNERS, load_pruner_modules
from snacs.pruning.target import Target

# Synthetic data formats and the dataset loader that reads each.
SYNTHETIC_READERS = {"cifar10": "cifar10", "imagefolder": "imagenet"}

# Images in the smallest class of each real dataset's training split, as released:
# CIFAR-10 has 5,000 of every class, MNIST 5,421 fives, ILSVRC-2012 732 images in its
# smallest class. A root holding fewer (a subset) is found out when the statistics
# subset is drawn from the files themselves.
RELEASED_SMALLEST_TRAIN_CLASS = {"cifar10": 5000, "mnist": 5421, "imagenet": 732}
# scikit-learn's digits: 174 eights are the smallest class of the 1,797 images; the
# training part keeps at most ceil(174 * (1 - test_fraction)) of them.
DIGITS_SMALLEST_CLASS = 174


def check_config(config: Mapping[str, Any]) -> None:
    """Raise ConfigError naming the first config key that no registry or option type accepts."""
    _check_pruners(config)
    for name, bench in config["benchmarks"].items():
        _check_benchmark(f"benchmarks.{name}", bench)
    _check_targets("targets", config["targets"])
    for method, entry in config["methods"].items():
        if "targets" in entry:
            _check_targets(f"methods.{method}.targets", entry["targets"])
    _check_studies(config)


def _unknown(where: str, error: UnknownNameError) -> ConfigError:
    return ConfigError(f"invalid config at {where}: {error}")


def _check_pruners(config: Mapping[str, Any]) -> None:
    try:
        load_pruner_modules(config["pruner_modules"])
    except SnacsError as exc:
        raise ConfigError(f"invalid config at pruner_modules: {exc}") from None
    for method, entry in config["methods"].items():
        pruner = pruner_name(config, method)
        where = f"methods.{method}.pruner" if "pruner" in entry else f"methods.{method}"
        if pruner not in PRUNERS:
            hint = (
                "" if "pruner" in entry else " (or add `pruner: NAME` to run one under this name)"
            )
            raise ConfigError(
                f"invalid config at {where}: unknown pruner {pruner!r}{hint}; valid choices: "
                f"{', '.join(PRUNERS.names())}"
            )
        options = pruner_options(config, method)
        check_options(
            PRUNERS.get(pruner).Options, options, f"methods.{method}", f"pruner {pruner!r}"
        )


def _check_benchmark(where: str, bench: Mapping[str, Any]) -> None:
    dataset = bench["dataset"]
    if dataset["name"] not in DATASETS:
        raise _unknown(
            f"{where}.dataset.name", UnknownNameError("dataset", dataset["name"], DATASETS.names())
        )
    check_dataset_options(dataset["name"], dataset["options"], f"{where}.dataset.options")
    synthetic = dataset.get("synthetic")
    if synthetic and SYNTHETIC_READERS[synthetic["format"]] != dataset["name"]:
        raise ConfigError(
            f"invalid config at {where}.dataset.synthetic.format: format "
            f"{synthetic['format']!r} is read by dataset "
            f"{SYNTHETIC_READERS[synthetic['format']]!r}, but the dataset is {dataset['name']!r}"
        )
    model = bench["model"]
    if model["arch"] not in MODELS:
        raise _unknown(
            f"{where}.model.arch", UnknownNameError("model", model["arch"], MODELS.names())
        )
    check_model_knobs(model["arch"], model["options"], f"{where}.model.options")
    _check_statistics_subset(where, bench)
    knobs = inspect.signature(MODELS.get(model["arch"]).factory).parameters
    if bench["dense"].get("source") == "pretrained" and "pretrained" not in knobs:
        raise ConfigError(
            f"invalid config at {where}.dense.source: model {model['arch']!r} has no "
            "pretrained weights to fetch; use source: train with a recipe"
        )


def _smallest_train_class(where: str, dataset: Mapping[str, Any]) -> tuple[int, str] | None:
    """An upper bound on the smallest training class of ``dataset``, and where it comes from.

    Known from the config for synthetic data and the bundled digits, from the release
    for the real datasets; None for a dataset this table does not know.
    """
    synthetic = dataset.get("synthetic")
    if synthetic:
        return synthetic["train_per_class"], f"{where}.dataset.synthetic.train_per_class"
    name = dataset["name"]
    if name == "digits":
        default = inspect.signature(DATASETS.get("digits")).parameters["test_fraction"].default
        test_fraction = dataset["options"].get("test_fraction", default)
        if not 0 < test_fraction < 1:  # refused by the loader itself
            return None
        share = 1 - test_fraction
        return math.ceil(DIGITS_SMALLEST_CLASS * share), "the digits' training split"
    if name in RELEASED_SMALLEST_TRAIN_CLASS:
        return RELEASED_SMALLEST_TRAIN_CLASS[name], f"the {name} release"
    return None


def _check_statistics_subset(where: str, bench: Mapping[str, Any]) -> None:
    """The statistics subset, drawn without replacement, fits in every training class."""
    statistics = bench["statistics"]
    known = _smallest_train_class(where, bench["dataset"])
    if statistics["replace"] or known is None:
        return
    size, source = known
    if statistics["samples_per_class"] > size:
        raise ConfigError(
            f"invalid config at {where}.statistics.samples_per_class: "
            f"{statistics['samples_per_class']} samples per class without replacement, but "
            f"the smallest training class has at most {size} ({source}); lower it or set "
            "statistics.replace: true"
        )


def _check_targets(where: str, targets: list[Mapping[str, Any]]) -> None:
    """Every target is valid, a whole percentage, and distinct from the others.

    Result folders and the workflow's wildcards carry the target's label (``flops50``),
    and a step re-reads the fraction from that label: a fraction such as 0.505 would
    silently run at 0.50 or 0.51, and two fractions sharing a label would share a folder.
    """
    seen: dict[str, int] = {}
    for index, entry in enumerate(targets):
        key = f"{where}[{index}]"
        try:
            target = Target(**entry)
        except ConfigError as exc:
            raise ConfigError(f"invalid config at {key}: {exc}") from None
        if abs(target.fraction * 100 - round(target.fraction * 100)) > 1e-9:
            raise ConfigError(
                f"invalid config at {key}.fraction: {target.fraction} is not a whole percentage "
                f"(results are labelled {target.label}); use e.g. "
                f"{round(target.fraction * 100) / 100}"
            )
        if target.label in seen:
            raise ConfigError(
                f"invalid config at {key}: same target as {where}[{seen[target.label]}] "
                f"({target.label})"
            )
        seen[target.label] = index


def _check_studies(config: Mapping[str, Any]) -> None:
    from snacs.studies.speed import speed_benchmark, weights_source

    studies = config["studies"]
    speed = studies["speed"]
    if speed["enabled"]:
        try:
            name = speed_benchmark(config)
        except UnknownNameError as exc:
            raise _unknown("studies.speed.benchmark", exc) from None
        bench = config["benchmarks"][name]
        weights_source(speed["weights"], {"name": name, "model": bench["model"]})
        check_options(
            EdgeOptions, speed["estimator"], "studies.speed.estimator", "the estimator", False
        )
    estimator = studies["estimator"]
    if estimator["enabled"]:
        check_options(
            EdgeOptions,
            estimator["estimator"],
            "studies.estimator.estimator",
            "the estimator",
            False,
        )
    layers = studies["layer_compression"]
    if layers["enabled"]:
        known = sorted(set(config["methods"]) | set(PRUNERS.names()))
        for index, method in enumerate(layers["methods"]):
            if method not in known:
                raise _unknown(
                    f"studies.layer_compression.methods[{index}]",
                    UnknownNameError("method", method, sorted(config["methods"])),
                )
