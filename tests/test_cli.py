"""The command line: listings, counting, and one-line errors for bad input."""

import argparse
import json

import pytest
import torch

from snacs.cli import build_parser, main
from snacs.errors import CheckpointError
from snacs.io import save_checkpoint
from snacs.pruning.benchmark import load_model


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
        "num_classes": 10,
        "input_shape": [3, 32, 32],
        "params": 853018,
        "macs": 125485696,
        "macs_with_bias": 125485706,
    }
    code, out, _ = run(capsys, "count", "--arch", "vgg16_cifar")
    assert "features.0" in out and "313,463,808 conv+linear MACs" in out


def test_resnet50_counts_as_the_imagenet_model(capsys):
    code, out, _ = run(capsys, "count", "--arch", "resnet50", "--json")
    totals = json.loads(out)
    assert code == 0 and totals["num_classes"] == 1000 and totals["input_shape"] == [3, 224, 224]
    assert (totals["params"], totals["macs"]) == (25_557_032, 4_089_184_256)
    code, out, _ = run(capsys, "count", "--arch", "resnet50", "--num-classes", "10", "--json")
    assert json.loads(out)["params"] == 23_528_522


def test_count_input_shape_follows_the_mlp_width_knob(capsys):
    code, out, _ = run(capsys, "count", "--arch", "mlp_mnist", "--options", '{"in_features": 64}')
    assert code == 0 and "at input (64,)" in out


def _subcommands() -> list[str]:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(commands.choices)


@pytest.mark.parametrize("command", [None, *_subcommands()])
def test_help_of_every_command(capsys, command):
    argv = ["--help"] if command is None else [command, "--help"]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    out, err = capsys.readouterr()
    assert exit_.value.code == 0 and err == ""
    assert out.startswith("usage: snacs") and (command is None or command in out.splitlines()[0])


@pytest.mark.parametrize(
    ("argv", "culprit"),
    [
        (["count", "--arch", "vgg16_cifar", "--input-shape", "3,x"], "--input-shape"),
        (["count", "--arch", "vgg16_cifar", "--input-shape", "3,0,32"], "--input-shape"),
        (["count", "--arch", "vgg16_cifar", "--options", "{depth: 3"], "--options"),
        (["count", "--arch", "vgg16_cifar", "--options", "[1, 2]"], "--options"),
        (["data", "--spec", "not json"], "--spec"),
        (["count", "--arch", "vgg16_cifar", "--num-classes", "ten"], "--num-classes"),
        (["prune", "--method", "snacs"], "required"),
    ],
)
def test_bad_arguments_end_in_one_line_naming_the_argument(capsys, argv, culprit):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    _, err = capsys.readouterr()
    assert exit_.value.code == 2 and culprit in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_prune_targets_and_their_files_must_pair_up(capsys, tmp_path):
    argv = ["prune", "--spec", "{}", "--method", "l1", "--dense", "d"]
    argv += ["--target", "flops30-layerwise", "--target", "flops50-layerwise"]
    argv += ["--plan", "p1", "--plan", "p2", "--scores", "s1", "--scores", "s2"]
    code, _, err = run(capsys, *argv, "--out", str(tmp_path / "r1.json"))
    assert code == 2 and "2 --target" in err and "1 --out" in err
    assert len(err.strip().splitlines()) == 1


def test_input_shape_the_model_cannot_take_names_the_shape(capsys):
    code, _, err = run(capsys, "count", "--arch", "vgg16_cifar", "--input-shape", "3,16")
    assert code == 2 and "input shape 3,16 does not fit vgg16_cifar" in err
    assert len(err.strip().splitlines()) == 1


def test_missing_and_damaged_input_files_name_the_file(capsys, tmp_path):
    missing = tmp_path / "nowhere.csv"
    figure = str(tmp_path / "x.png")
    code, _, err = run(
        capsys, "figures", "--summary", str(missing), "--benchmark", "b", "--out", figure
    )
    assert code == 2 and str(missing) in err and len(err.strip().splitlines()) == 1
    broken = tmp_path / "prune.json"
    broken.write_text('{"achieved": ')
    argv = ["prune", "--spec", "{}", "--method", "l1", "--target", "match-params-layerwise-of-x"]
    out = str(tmp_path / "o")
    argv += ["--reference", str(broken), "--dense", "d", "--plan", "p", "--scores", "s"]
    code, _, err = run(capsys, *argv, "--out", out)
    assert code == 2 and str(broken) in err and "not valid JSON" in err
    code, _, err = run(capsys, "validate", str(tmp_path / "absent.yaml"))
    assert code == 2 and "absent.yaml" in err


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
