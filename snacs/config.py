"""Reading experiment configs: the workflow's JSON schema with its defaults, and the grid
of runs, controls and step specs a config describes.

Validation fills every default from the schema, and an invalid value is reported with
its key path. Loading a file and checking names against the registries is
:mod:`snacs.config_file` (the workflow glue), which ends here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from itertools import product
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from snacs.config_methods import pruner_name, pruner_options
from snacs.errors import ConfigError, UnknownNameError
from snacs.pruning.controls import control_labels
from snacs.pruning.target import Target

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"


def _with_defaults(validator_class: type) -> type:
    """A validator that also writes schema defaults into the instance."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(key, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def load_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def apply_schema(config: Mapping[str, Any]) -> dict:
    """Return a defaulted copy of ``config``; raise ConfigError naming the first bad key.

    This checks the schema and how the sections refer to each other. Names and options
    are checked against the registries by :func:`snacs.config_file.validate_config`, the
    one entry point for a config a person wrote.
    """
    instance = copy.deepcopy(dict(config))
    validator = _with_defaults(jsonschema.Draft202012Validator)(load_schema())
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        key = ".".join(str(p) for p in error.absolute_path) or "<top level>"
        raise ConfigError(f"invalid config at {key}: {error.message}")
    for name, bench in instance["benchmarks"].items():
        if bench["dense"].get("source", "train") == "train" and "recipe" not in bench["dense"]:
            raise ConfigError(
                f"invalid config at benchmarks.{name}.dense: source 'train' needs a recipe"
            )
        unknown = set(bench.get("methods", [])) - set(instance["methods"])
        if unknown:
            raise ConfigError(
                f"invalid config at benchmarks.{name}.methods: {sorted(unknown)} are not "
                f"configured under top-level methods ({sorted(instance['methods'])})"
            )
    reference = instance.get("matched_budget", {}).get("reference")
    if reference is not None and reference not in instance["methods"]:
        raise ConfigError(
            f"invalid config at matched_budget.reference: {reference!r} is not a "
            f"configured method ({sorted(instance['methods'])})"
        )
    return instance


def benchmark(config: Mapping[str, Any], name: str) -> dict:
    try:
        return config["benchmarks"][name]
    except KeyError:
        raise UnknownNameError("benchmark", name, list(config["benchmarks"])) from None


def methods_for(config: Mapping[str, Any], name: str) -> list[str]:
    """The benchmark's own method list if it has the key, else every configured method.

    An empty list is refused by validation rather than read as "all".
    """
    return list(benchmark(config, name).get("methods", config["methods"]))


def targets_for(config: Mapping[str, Any], method: str) -> list[Target]:
    """The method's own targets if it has the key, else the top-level ones."""
    entry = config["methods"][method]
    return [Target(**t) for t in entry.get("targets", config["targets"])]


MATCH_PREFIX = "match-"


def matched_label(resource: str, scope: str, reference_target: str) -> str:
    """Target label of a run pruned to the budget the reference reached at ``reference_target``."""
    return f"{MATCH_PREFIX}{resource}-{scope}-of-{reference_target}"


def parse_matched_label(label: str) -> tuple[str, str, str]:
    """(resource, scope, reference target label) of a matched-budget label."""
    head, _, reference = label.removeprefix(MATCH_PREFIX).partition("-of-")
    resource, _, scope = head.partition("-")
    if not label.startswith(MATCH_PREFIX) or not reference or not scope:
        raise ConfigError(f"{label!r} is not a matched-budget target label")
    return resource, scope, reference


def runs(config: Mapping[str, Any]) -> list[tuple[str, str, str, int]]:
    """Every (benchmark, method, target label, seed) the config asks for, each once.

    With ``matched_budget``, every other method also runs once per reference run, at the
    compression the reference reached there.
    """
    planned = [
        (bench, method, target.label, seed)
        for bench in config["benchmarks"]
        for method in methods_for(config, bench)
        for target, seed in product(targets_for(config, method), config["seeds"])
    ]
    matched = config.get("matched_budget")
    if matched:
        reference = matched["reference"]
        planned += [
            (bench, method, matched_label(matched["resource"], matched["scope"], label), seed)
            for bench, ref_method, label, seed in planned
            if ref_method == reference
            for method in methods_for(config, bench)
            if method != reference
        ]
    # Two equal runs would write the same files: each run is listed once, in order.
    return list(dict.fromkeys(planned))


def controls_for(config: Mapping[str, Any], method: str) -> list[str]:
    """Control labels (random0 ..., magnitude, inverted) of every run of ``method``.

    The method's own ``controls`` if it has the key, else the top-level ones.
    """
    entry = config["methods"][method]
    kinds = entry["controls"] if "controls" in entry else config.get("controls", [])
    return control_labels(list(kinds), config.get("control_seeds", 3))


def control_runs(config: Mapping[str, Any]) -> list[tuple[str, str, str, int, str]]:
    """Every (benchmark, method, target label, seed, control label) the config asks for."""
    return [
        (bench, method, target, seed, control)
        for bench, method, target, seed in runs(config)
        for control in controls_for(config, method)
    ]


STEP_KEYS: dict[str, tuple[str, ...]] = {
    "data": ("dataset",),
    "weights": ("model",),
    "dense": ("dataset", "model", "dense", "evaluation", "workers", "data_path", "compile"),
    "activations": ("dataset", "model", "statistics", "workers"),
    "prune": ("dataset", "model", "statistics", "workers"),
    # a control's whole chain (plan, fine-tune, evaluation) runs as one job
    "control": ("dataset", "model", "finetune", "evaluation", "workers", "data_path", "compile"),
    "finetune": ("dataset", "model", "finetune", "evaluation", "workers", "data_path", "compile"),
    "evaluate": ("dataset", "model", "evaluation", "workers", "data_path"),
}


def step_spec(config: Mapping[str, Any], name: str, step: str, method: str | None = None) -> dict:
    """The part of benchmark ``name``'s config that step ``step`` reads.

    Rules pass exactly this to the command line, so Snakemake reruns a step when, and
    only when, something it reads has changed.
    """
    bench = benchmark(config, name)
    spec = {key: copy.deepcopy(bench[key]) for key in STEP_KEYS[step] if key in bench}
    spec["name"] = name
    spec["title"] = bench.get("title", name)
    if step == "prune":
        if method is None:
            raise ConfigError("the prune step needs a method")
        if method not in config["methods"]:
            raise UnknownNameError("configured method", method, list(config["methods"]))
        spec["pruner"] = pruner_name(config, method)
        spec["method_options"] = pruner_options(config, method)
        spec["pruner_modules"] = list(config["pruner_modules"])
        if config.get("matched_budget"):
            spec["matched_budget_count"] = config["matched_budget"]["count"]
    return spec
