"""The command line: listings, counting, and one-line errors for bad input."""

import json

import pytest
import torch

from snacs.cli import main
from snacs.errors import CheckpointError
from snacs.io import save_checkpoint
from snacs.pipeline.common import load_model


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_listings(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0 and "resnet56_cifar" in out.split()
    code, out, _ = run(capsys, "pruners")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert {"snacs", "snacs_filter", "mint", "l1", "random", "nisp", "thinet", "hrank"} <= set(
        lines
    )
    assert "connection" in lines["snacs"] and "filter" in lines["l1"] and "ICLR 2017" in lines["l1"]


def test_count_golden_numbers_and_table(capsys):
    code, out, _ = run(capsys, "count", "--arch", "resnet56_cifar", "--json")
    assert code == 0
    assert json.loads(out) == {
        "arch": "resnet56_cifar",
        "input_shape": [3, 32, 32],
        "params": 853018,
        "macs": 125485696,
        "macs_with_bias": 125485706,
    }
    code, out, _ = run(capsys, "count", "--arch", "vgg16_cifar")
    assert "features.0" in out and "313,463,808 conv+linear MACs" in out


def test_unknown_names_list_the_choices(capsys):
    code, _, err = run(capsys, "count", "--arch", "resnet57")
    assert code == 2 and "valid choices" in err and "resnet56_cifar" in err
    code, _, err = run(capsys, "count", "--arch", "resnet_cifar", "--options", '{"dpeth": 20}')
    assert code == 2 and "dpeth" in err


def test_bad_config_names_the_key(capsys, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(
        "benchmarks:\n  b:\n    dataset: {name: digits}\n    model: {arch: mlp_mnist}\n"
        "    dense: {recipe: {epochs: 1, lr: -1}}\n    finetune: {recipe: {epochs: 1}}\n"
    )
    code, _, err = run(capsys, "validate", str(config))
    assert code == 2 and "benchmarks.b.dense.recipe.lr" in err


def test_missing_dataset_names_the_path_and_never_falls_back(capsys, tmp_path):
    spec = {
        "name": "b",
        "title": "b",
        "dataset": {
            "name": "cifar10",
            "root": str(tmp_path / "nowhere"),
            "download": False,
            "options": {},
        },
    }
    code, _, err = run(capsys, "data", "--spec", json.dumps(spec))
    assert code == 2 and str(tmp_path / "nowhere") in err


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    spec = {"model": {"arch": "mlp_mnist", "options": {"in_features": 64}}}
    wrong = tmp_path / "wrong.pt"
    save_checkpoint(wrong, {"model": {"fc1.weight": torch.zeros(3, 3)}})
    with pytest.raises(CheckpointError, match="does not match"):
        load_model(spec, 10, wrong)
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(wrong.read_bytes()[:50])
    with pytest.raises(CheckpointError, match="truncated"):
        load_model(spec, 10, truncated)
