"""The command line: listings, counting, and one-line errors for bad input."""

import argparse
import inspect
import json
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import pytest
import torch

from snacs.cli import STEP_COMMANDS, build_parser, main
from snacs.errors import CheckpointError, SnacsError
from snacs.io import save_checkpoint
from snacs.layout import ControlFiles, PruneFiles, StudyTables, Written
from snacs.pipeline.finetune import FinetuneMember
from snacs.pipeline.oneshot import OneShotJob
from snacs.pipeline.prune import PruneTarget
from snacs.pruning.benchmark import Spec, load_model
from snacs.pruning.target import Target
from snacs.step_arguments import (
    BY_TYPE,
    Arguments,
    StepCommand,
    StepSignatureError,
    param,
    qualified_name,
)


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
    argv = ["prune", "--spec", "{}", "--method", "l1", "--seed", "0", "--dense-checkpoint", "d"]
    argv += ["--targets", "flops30-layerwise", "flops50-layerwise"]
    argv += ["--targets-plan", str(tmp_path / "p1"), str(tmp_path / "p2")]
    argv += ["--targets-scores", str(tmp_path / "s1"), str(tmp_path / "s2")]
    code, _, err = run(capsys, *argv, "--targets-record", str(tmp_path / "r1.json"))
    assert code == 2 and "2 --targets but 1 --targets-record" in err
    assert len(err.strip().splitlines()) == 1


def test_input_shape_the_model_cannot_take_names_the_shape(capsys):
    code, _, err = run(capsys, "count", "--arch", "vgg16_cifar", "--input-shape", "3,16")
    assert code == 2 and "input shape 3,16 does not fit vgg16_cifar" in err
    assert len(err.strip().splitlines()) == 1


def test_missing_and_damaged_input_files_name_the_file(capsys, tmp_path):
    missing = tmp_path / "nowhere.csv"
    figure = str(tmp_path / "x.png")
    code, _, err = run(
        capsys, "figures", "--summary-csv", str(missing), "--benchmark", "b", "--out", figure
    )
    assert code == 2 and str(missing) in err and len(err.strip().splitlines()) == 1
    broken = tmp_path / "prune.json"
    broken.write_text('{"achieved": ')
    argv = ["prune", "--spec", "{}", "--method", "l1", "--targets", "match-params-layerwise-of-x"]
    out = str(tmp_path / "o")
    argv += ["--reference", str(broken), "--dense-checkpoint", "d", "--seed", "0"]
    argv += ["--targets-plan", str(tmp_path / "p"), "--targets-scores", str(tmp_path / "s")]
    code, _, err = run(capsys, *argv, "--targets-record", out)
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


def _step_parser(command: StepCommand) -> tuple[argparse.ArgumentParser, Arguments]:
    parser = argparse.ArgumentParser(prog=f"snacs {command.name}")
    return parser, command.add_arguments(parser)


@pytest.mark.parametrize("command", STEP_COMMANDS, ids=lambda c: c.name)
def test_every_parameter_of_a_step_has_a_flag(command):
    """A parameter the command line could not give would fail here, not in the workflow."""
    parser, arguments = _step_parser(command)
    function = command.step().function
    hints = typing.get_type_hints(function, include_extras=True)
    covered = [name for binding in arguments.bindings for name in binding.parameters]
    assert sorted(covered) == sorted(inspect.signature(function).parameters)
    options = {flag for action in parser._actions for flag in action.option_strings}
    for binding in arguments.bindings:
        assert set(binding.flags) <= options
        if not binding.flags:  # only what another step hands over in process has none
            (name,) = binding.parameters
            assert BY_TYPE[qualified_name(param(name, hints[name]).hint)].__name__ == "_in_process"


def _values(name: str, *argv: str) -> tuple[dict, list[str]]:
    (command,) = [c for c in STEP_COMMANDS if c.name == name]
    parser, arguments = _step_parser(command)
    args = parser.parse_args(list(argv))
    return arguments.values(args), arguments.outputs(args)


def test_records_of_files_come_from_one_flag_per_field():
    argv = ["--spec", "{}", "--run-files-plan", "p.pt", "--run-files-scores", "s.pt"]
    argv += ["--run-files-record", "r.json", "--label", "magnitude", "--dense-checkpoint", "d"]
    argv += ["--dense-json", "d.json", "--out-plan", "cp.pt", "--out-record", "cr.json"]
    argv += ["--train-dir", "T", "--metrics-out", "m.json", "--one-shot", "o.json"]
    values, outputs = _values("control", *argv, "--device", "cpu")
    assert values["run_files"] == PruneFiles("p.pt", "s.pt", "r.json")
    assert values["out"] == ControlFiles("cp.pt", "cr.json") and values["label"] == "magnitude"
    assert values["progress"]
    assert sorted(outputs) == ["T", "cp.pt", "cr.json", "m.json"]  # what it writes is locked
    argv = ["--raw", "r.csv", "--paper", "p.csv", "--figure", "f.png", "f.pdf"]
    argv += ["--tables-summary", "t.csv", "--tables-markdown", "t.md", "--tables-latex", "t.tex"]
    values, outputs = _values("speed-report", *argv)
    assert values["tables"] == StudyTables("t.csv", "t.md", "t.tex")
    assert values["whole_tables"] is None and values["figure"] == ["f.png", "f.pdf"]
    assert sorted(outputs) == ["f.pdf", "f.png", "t.csv", "t.md", "t.tex"]
    with pytest.raises(
        SnacsError, match="--whole-tables-summary must come with --whole-tables-markdown"
    ):
        _values("speed-report", *argv, "--whole-tables-summary", "w.csv")


def test_a_prune_step_takes_its_target_labels_and_a_file_of_each_per_label():
    argv = ["--spec", "{}", "--method", "l1", "--seed", "2", "--dense-checkpoint", "d.pt"]
    argv += ["--device", "cpu", "--targets", "flops30-layerwise", "params50-global"]
    argv += ["--targets-plan", "p1", "p2", "--targets-scores", "s1", "s2"]
    values, outputs = _values("prune", *argv, "--targets-record", "r1", "r2")
    assert values["targets"] == [
        PruneTarget(
            Target.parse("flops30-layerwise"), PruneFiles("p1", "s1", "r1"), "flops30-layerwise"
        ),
        PruneTarget(
            Target.parse("params50-global"), PruneFiles("p2", "s2", "r2"), "params50-global"
        ),
    ]
    assert values["seed"] == 2 and values["progress"] and values["activations_path"] is None
    assert sorted(outputs) == ["p1", "p2", "r1", "r2", "s1", "s2"]  # every file it writes
    with pytest.raises(SnacsError, match="2 --targets but 1 --targets-plan, 3 --targets-scores"):
        _values(
            "prune",
            *argv[:-6],
            "--targets-plan",
            "p",
            "--targets-scores",
            "a",
            "b",
            "c",
            "--targets-record",
            "r1",
            "r2",
        )


def test_a_sequence_of_records_takes_a_value_per_record_or_one_for_all():
    argv = ["--spec", "{}", "--device", "cpu", "--members-plan", "a.pt", "b.pt"]
    argv += ["--members-out-dir", "A", "B", "--members-dense-checkpoint", "d.pt"]
    values, outputs = _values("finetune-stack", *argv, "--members-seed", "1")
    assert values["members"] == [
        FinetuneMember("a.pt", "d.pt", "A", 1),
        FinetuneMember("b.pt", "d.pt", "B", 1),
    ]
    assert sorted(outputs) == ["A", "B"]
    argv = ["--spec", "{}", "--device", "cpu", "--dense-checkpoint", "d.pt", "--out", "o.json"]
    with pytest.raises(SnacsError, match="--jobs-prune-record gives 2 values for 3 jobs"):
        values, _ = _values(
            "oneshot", *argv, "--jobs-plan", "a", "b", "c", "--jobs-prune-record", "x", "y"
        )
    argv += ["--jobs-plan", "a", "b", "--jobs-prune-record", "x", "y"]
    assert _values("oneshot", *argv)[0]["jobs"] == [OneShotJob("a", "x"), OneShotJob("b", "y")]


def _new_step(
    spec: Spec,
    dense_checkpoint: str | Path,
    out: Written[PruneFiles],
    device: torch.device,
    batches: int = 3,
    scale: Literal["linear", "log"] = "log",
    layers: Sequence[str] = (),
    progress: bool = True,
) -> None:
    """A step as a new one would be written: its flags need no edit of the command line."""


def _broken_step(spec: Spec, shape: complex) -> None:
    """A parameter of a type the command line has no converter for."""


def _unannotated_step(spec: Spec, shape) -> None:
    """A parameter without an annotation."""


def test_a_new_steps_parameters_become_flags():
    command = StepCommand("new", f"{__name__}:_new_step", "a new step", part="prune")
    parser, arguments = _step_parser(command)
    argv = ["--config", "c.yaml", "--benchmark", "b", "--dense-checkpoint", "d.pt", "--out-plan"]
    args = parser.parse_args(
        [*argv, "p", "--out-scores", "s", "--out-record", "r", "--no-progress"]
    )
    assert (args.batches, args.scale, args.layers, args.progress) == (3, "log", (), False)
    with pytest.raises(SystemExit):
        parser.parse_args([*argv, "p", "--out-scores", "s", "--out-record", "r", "--scale", "x"])
    assert arguments.outputs(args) == ["p", "s", "r"]


@pytest.mark.parametrize(
    ("step", "culprit"),
    [("_broken_step", "'shape' is <class 'complex'>"), ("_unannotated_step", "'shape' has no")],
)
def test_a_parameter_without_a_flag_is_an_error_when_the_parser_is_built(step, culprit):
    command = StepCommand("broken", f"{__name__}:{step}", "a broken step")
    with pytest.raises(StepSignatureError, match=culprit):
        _step_parser(command)
