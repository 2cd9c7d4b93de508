"""Validation before compute: every bad name or option fails naming its config key."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from snacs.cli import main
from snacs.config import load_config, validate_config
from snacs.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

BASE = {
    "benchmarks": {
        "b": {
            "dataset": {"name": "digits"},
            "model": {"arch": "mlp_mnist", "options": {"in_features": 64, "hidden": [8]}},
            "dense": {"recipe": {"epochs": 1}},
            "finetune": {"recipe": {"epochs": 1}},
        }
    },
    "methods": {"snacs": {"groups": 4}, "l1": {}},
    "studies": {"layer_compression": {"enabled": False}},
}


def config_with(**changes) -> dict:
    """BASE with dotted-path replacements, e.g. ``{"methods.snacs": {...}}``."""
    config = copy.deepcopy(BASE)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = config
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return config


def error_of(config: dict) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("path", sorted((ROOT / "config").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    load_config(path)


def test_base_config_is_valid():
    validate_config(BASE)


def test_unknown_pruner_names_the_method_and_lists_pruners():
    message = error_of(config_with(methods={"snac": {}}))
    assert "methods.snac:" in message and "unknown pruner 'snac'" in message
    assert "valid choices" in message and "snacs" in message and "mint" in message


def test_misspelt_pruner_option_names_the_key_and_lists_the_options():
    message = error_of(config_with(methods={"snacs": {"grups": 16}}))
    assert "methods.snacs.grups" in message and "valid options" in message
    assert "groups" in message and "layer_groups" in message and "did you mean 'groups'" in message


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"groups": "many"}, "methods.snacs.groups"),
        ({"groups": 0}, "methods.snacs"),
        ({"constraints": "yes"}, "methods.snacs.constraints"),
        ({"global_share": [0.5]}, "methods.snacs.global_share"),
        ({"layer_groups": {"fc1": "four"}}, "methods.snacs.layer_groups"),
        ({"estimator": {"ensemble": 4}}, "methods.snacs"),
    ],
)
def test_pruner_option_values_are_checked_against_the_options_type(options, key):
    assert f"invalid config at {key}" in error_of(config_with(methods={"snacs": options}))


def test_method_variants_check_the_named_pruner_and_its_options():
    message = error_of(config_with(methods={"fast": {"pruner": "snackz"}}))
    assert "methods.fast.pruner" in message and "unknown pruner 'snackz'" in message
    message = error_of(config_with(methods={"fast": {"pruner": "l1", "groups": 4}}))
    assert "methods.fast.groups" in message and "pruner 'l1' has no option" in message
    assert "(none)" in message
    validate_config(config_with(methods={"snacs16": {"pruner": "snacs", "groups": 16}}))


def test_unknown_dataset_and_dataset_options():
    message = error_of(config_with(benchmarks__b__dataset={"name": "cifar11"}))
    assert "benchmarks.b.dataset.name" in message and "cifar10" in message
    message = error_of(
        config_with(benchmarks__b__dataset={"name": "digits", "options": {"test_frac": 0.2}})
    )
    assert "benchmarks.b.dataset.options.test_frac" in message and "test_fraction" in message
    message = error_of(
        config_with(benchmarks__b__dataset={"name": "imagenet", "options": {"image_size": "big"}})
    )
    assert "benchmarks.b.dataset.options.image_size" in message


def test_synthetic_format_must_match_the_dataset_reading_it():
    dataset = {
        "name": "imagenet",
        "synthetic": {"format": "cifar10", "train_per_class": 1, "test_per_class": 1},
    }
    message = error_of(config_with(benchmarks__b__dataset=dataset))
    assert "benchmarks.b.dataset.synthetic.format" in message and "'cifar10'" in message


def test_unknown_architecture_and_knobs():
    message = error_of(config_with(benchmarks__b__model={"arch": "resnet57"}))
    assert "benchmarks.b.model.arch" in message and "resnet56_cifar" in message
    message = error_of(
        config_with(benchmarks__b__model={"arch": "mlp_mnist", "options": {"hiden": [8]}})
    )
    assert "benchmarks.b.model.options.hiden" in message
    assert "valid knobs: dropout, hidden, in_features" in message
    message = error_of(
        config_with(benchmarks__b__model={"arch": "vgg16_cifar", "options": {"width_mult": "half"}})
    )
    assert "benchmarks.b.model.options.width_mult" in message and "number" in message


def test_pretrained_source_needs_a_model_with_pretrained_weights():
    message = error_of(config_with(benchmarks__b__dense={"source": "pretrained"}))
    assert "benchmarks.b.dense.source" in message


def test_targets_must_be_whole_distinct_percentages():
    message = error_of(config_with(targets=[{"fraction": 0.505}]))
    assert "targets[0].fraction" in message and "whole percentage" in message
    message = error_of(config_with(targets=[{"fraction": 0.5}, {"fraction": 0.50}]))
    assert "targets[1]" in message and "targets[0]" in message
    methods = {"snacs": {"targets": [{"fraction": 0.3, "resource": "share"}, {"fraction": 0.333}]}}
    assert "methods.snacs.targets[1].fraction" in error_of(config_with(methods=methods))


def test_studies_are_checked():
    speed = {"enabled": True, "benchmark": "nope"}
    message = error_of(config_with(studies={"speed": speed}))
    assert "studies.speed.benchmark" in message and "valid choices: b" in message
    speed = {"enabled": True, "benchmark": "b", "weights": "trained"}
    assert "studies.speed.weights" in error_of(config_with(studies={"speed": speed}))
    estimator = {"enabled": True, "estimator": {"ensemble_sise": 3}}
    message = error_of(config_with(studies={"estimator": estimator}))
    assert "studies.estimator.estimator.ensemble_sise" in message and "ensemble_size" in message
    layers = {"enabled": True, "methods": ["snacs", "mnit"]}
    message = error_of(config_with(studies={"layer_compression": layers}))
    assert "studies.layer_compression.methods[1]" in message and "'mnit'" in message


def test_missing_pruner_module_names_the_key(tmp_path):
    message = error_of(config_with(pruner_modules=[str(tmp_path / "mine.py")]))
    assert "pruner_modules" in message and "mine.py" in message


def test_snacs_validate_prints_one_line_with_the_key(capsys, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config_with(methods={"snacs": {"grups": 16}})))
    assert main(["validate", str(path)]) == 2
    _, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and "methods.snacs.grups" in err


def test_snakefile_refuses_a_bad_config_before_any_job(tmp_path):
    path = tmp_path / "bad.yaml"
    config = config_with(methods={"snacs": {"grups": 16}})
    config["results_dir"] = str(tmp_path / "results")
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "methods.snacs.grups" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
