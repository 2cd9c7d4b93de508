"""Validation before compute: every bad name or option fails naming its config key."""

import copy
import inspect
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from test_layering import imported_modules

from snacs import config_checks
from snacs.cli import main
from snacs.config import methods_for, runs
from snacs.config_file import load_config, validate_config
from snacs.data import load_dataset
from snacs.errors import ConfigError
from snacs.models import build_model, model_info, model_names

ROOT = Path(__file__).resolve().parent.parent

BASE = {
    "benchmarks": {
        "b": {
            "dataset": {"name": "digits"},
            "model": {"arch": "mlp_mnist", "options": {"in_features": 64, "hidden": [8]}},
            "dense": {"recipe": {"epochs": 1}},
            "finetune": {"recipe": {"epochs": 1}},
            "statistics": {"samples_per_class": 10},
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


# --- mistakes that used to validate ----------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "key", "words"),
    [
        ({"benchmarks__b__methods": []}, "benchmarks.b.methods", "non-empty"),
        ({"benchmarks__b__methods": ["l1", "snacs", "l1"]}, "benchmarks.b.methods", "non-unique"),
        ({"methods": {}}, "methods", "non-empty"),
        ({"seeds": [0, 1, 0]}, "seeds", "non-unique"),
        ({"targets": [{"fraction": 0}]}, "targets.0.fraction", "minimum of 0"),
        ({"targets": [{"fraction": 1.0}]}, "targets.0.fraction", "maximum of 1"),
        (
            {"methods": {"snacs": {"targets": [{"fraction": 0.0, "resource": "share"}]}}},
            "methods.snacs.targets.0.fraction",
            "minimum of 0",
        ),
    ],
)
def test_empty_repeated_and_zero_settings_name_their_key(changes, key, words):
    message = error_of(config_with(**changes))
    assert f"invalid config at {key}:" in message and words in message


def test_a_benchmark_without_a_method_list_runs_every_method():
    config = validate_config(BASE)
    assert methods_for(config, "b") == ["snacs", "l1"]
    config = validate_config(config_with(benchmarks__b__methods=["l1"]))
    assert [method for _, method, _, _ in runs(config)] == ["l1"]


def test_runs_lists_each_run_once_even_from_an_unchecked_config():
    config = validate_config(config_with(seeds=[0, 1]))
    config["seeds"] = [0, 1, 0]  # what validation refuses, handed over directly
    planned = runs(config)
    assert len(planned) == len(set(planned)) == 4
    assert [seed for *_, seed in planned] == [0, 1, 0, 1]


@pytest.mark.parametrize(
    ("arch", "knobs", "knob"),
    [
        ("vgg16_cifar", {"width_mult": 0}, "width_mult"),
        ("mobilenetv2_cifar", {"width_mult": -0.5}, "width_mult"),
        ("resnet_cifar", {"depth": -4}, "depth"),
        ("resnet_cifar", {"depth": 21}, "depth"),
        ("resnet56_cifar", {"width_mult": 0.0}, "width_mult"),
        ("mlp_mnist", {"in_features": 64, "hidden": [8, 0]}, "hidden"),
        ("mlp_mnist", {"in_features": 0}, "in_features"),
        ("mlp_mnist", {"in_features": 64, "dropout": 1.0}, "dropout"),
    ],
)
def test_model_knob_values_are_checked_before_any_job(arch, knobs, knob):
    message = error_of(config_with(benchmarks__b__model={"arch": arch, "options": knobs}))
    assert f"invalid config at benchmarks.b.model.options.{knob}:" in message
    with pytest.raises(ConfigError):  # the factory refuses the same value, with the same check
        build_model(arch, 10, **knobs)


@pytest.mark.parametrize("arch", model_names())
def test_knob_checks_belong_to_real_knobs_and_accept_their_defaults(arch):
    info = model_info(arch)
    parameters = inspect.signature(info.factory).parameters
    assert set(info.knob_checks) <= set(parameters) - {"num_classes"}
    for knob, check in info.knob_checks.items():
        if knob in parameters:
            check(parameters[knob].default)


def _bench_with(dataset: dict, samples_per_class: int, replace: bool = False) -> dict:
    return config_with(
        benchmarks__b__dataset=dataset,
        benchmarks__b__model={"arch": "vgg16_cifar", "options": {"width_mult": 0.125}},
        benchmarks__b__statistics={"samples_per_class": samples_per_class, "replace": replace},
    )


SYNTHETIC = {
    "name": "cifar10",
    "root": "data/synthetic",
    "synthetic": {"format": "cifar10", "train_per_class": 40, "test_per_class": 4},
}


@pytest.mark.parametrize(
    ("dataset", "largest"),
    [
        (SYNTHETIC, 40),
        ({"name": "cifar10", "root": "data/cifar10"}, 5000),
        ({"name": "imagenet", "root": "data/imagenet"}, 732),
        ({"name": "mnist", "root": "data/mnist"}, 5421),
    ],
    ids=["synthetic", "cifar10", "imagenet", "mnist"],
)
def test_statistics_subset_must_fit_in_the_smallest_class(dataset, largest):
    validate_config(_bench_with(dataset, largest))
    message = error_of(_bench_with(dataset, largest + 1))
    assert "invalid config at benchmarks.b.statistics.samples_per_class:" in message
    assert f"at most {largest}" in message
    validate_config(_bench_with(dataset, largest + 1, replace=True))  # drawing with replacement


@pytest.mark.parametrize("test_fraction", [0.1, 0.25, 0.5])
def test_digits_subset_bound_is_at_most_one_above_the_real_split(test_fraction, tmp_path):
    """The bound is never below the real smallest class (no good config is refused)."""
    dataset = {"name": "digits", "options": {"test_fraction": test_fraction}}
    counts = Counter(load_dataset("digits", tmp_path, test_fraction=test_fraction).train_targets)
    smallest = min(counts.values())
    config = config_with(
        benchmarks__b__dataset=dataset, benchmarks__b__statistics={"samples_per_class": smallest}
    )
    validate_config(config)
    for extra in (2, 50):
        config["benchmarks"]["b"]["statistics"]["samples_per_class"] = smallest + extra
        assert "statistics.samples_per_class" in error_of(config)


# --- the config file itself ------------------------------------------------------------


def _load_error(tmp_path, text: str | bytes) -> str:
    path = tmp_path / "mine.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_a_file_that_is_not_yaml_names_the_file_line_and_column(tmp_path):
    message = _load_error(tmp_path, "benchmarks:\n  b: [1, 2\nmethods: {}\n")
    assert "not valid YAML: line 3, column 8:" in message
    assert "not valid YAML" in _load_error(tmp_path, b"methods: \xff\xfe\n")


def test_a_key_written_twice_is_refused_with_both_lines(tmp_path):
    text = yaml.safe_dump(BASE, sort_keys=False) + "methods:\n  l1: {}\n"
    message = _load_error(tmp_path, text)
    assert "'methods' is given twice" in message and "first on line" in message
    nested = "methods:\n  snacs: {groups: 4}\n  snacs: {groups: 8}\n"
    assert "line 3, column 3: key 'snacs' is given twice (first on line 2)" in _load_error(
        tmp_path, nested
    )


def test_yaml_merge_keys_may_still_be_overridden(tmp_path):
    path = tmp_path / "merge.yaml"
    path.write_text(
        "benchmarks:\n"
        "  b:\n"
        "    dataset: {name: digits}\n"
        "    model: {arch: mlp_mnist, options: {in_features: 64, hidden: [8]}}\n"
        "    dense: {recipe: &recipe {epochs: 2, lr: 0.05}}\n"
        "    finetune: {recipe: {<<: *recipe, epochs: 1}}\n"
        "    statistics: {samples_per_class: 10}\n"
        "methods: {l1: {}}\n"
    )
    recipe = load_config(path)["benchmarks"]["b"]["finetune"]["recipe"]
    assert (recipe["epochs"], recipe["lr"]) == (1, 0.05)


def test_a_file_that_is_no_mapping_says_so(tmp_path):
    assert "holds a YAML list, not a mapping" in _load_error(tmp_path, "- a\n- b\n")


def test_validate_prints_one_line_for_a_file_that_is_not_yaml(capsys, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("benchmarks: {b: [\n")
    assert main(["validate", str(path)]) == 2
    _, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and str(path) in err and "line 2" in err


def test_config_checks_do_not_import_the_config_module_back():
    """snacs.config calls the checks; the checks read methods through snacs.config_methods."""
    checks = Path(config_checks.__file__)
    assert not {n for n in imported_modules(checks) if n.split(".")[:2] == ["snacs", "config"]}
