"""`snacs cost`: images and GPU-hours per benchmark and step, from the config alone."""

import json

import pytest
import torch

from snacs.cli import main
from snacs.config import benchmark, runs
from snacs.config_file import load_config
from snacs.pipeline import cost


def test_paper_config_prints_a_total(capsys, tmp_path):
    out = tmp_path / "cost.json"
    assert main(["cost", "--config", "config/config.yaml", "--table", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    total_line = printed.strip().splitlines()[-1]
    assert total_line.startswith("total")
    record = json.loads(out.read_text())
    assert float(total_line.split()[-1]) == pytest.approx(record["total_gpu_hours"], abs=0.05)
    assert record["total_gpu_hours"] > 10  # 300-epoch CIFAR recipes and ImageNet: many hours
    rules = {(row["benchmark"], row["rule"]) for row in record["rows"]}
    assert ("ilsvrc2012_resnet50", "finetune") in rules and ("cifar10_vgg16", "dense") in rules


def test_rows_count_the_grid_the_recipes_and_the_split_sizes():
    config = load_config("config/ci.yaml")
    estimate = cost.estimate_cost(config)
    rows = {(row.benchmark, row.rule): row for row in estimate.rows}
    for name in config["benchmarks"]:
        spec = benchmark(config, name)
        train, test = cost.dataset_sizes(spec["dataset"])
        planned = sum(1 for run in runs(config) if run[0] == name)
        finetune = rows[(name, "finetune")]
        epochs = spec["finetune"]["recipe"]["epochs"]
        assert finetune.runs == planned and finetune.epochs == epochs
        assert finetune.train_images == planned * epochs * train
        assert finetune.eval_images == planned * (epochs + 1) * test
        assert rows[(name, "evaluate")].eval_images == planned * 2 * test
        reference = rows[(name, "dense_reference")]
        assert reference.runs == len(config["seeds"])
        assert reference.train_images == len(config["seeds"]) * epochs * train
        speed = estimate.train_images_per_second[name]
        expected = (finetune.train_images / speed + finetune.eval_images / (3 * speed)) / 3600
        assert finetune.gpu_hours == pytest.approx(expected)
    assert estimate.total_gpu_hours == pytest.approx(sum(r.gpu_hours for r in estimate.rows))


def test_dataset_sizes():
    assert cost.dataset_sizes({"name": "cifar10"}) == (50_000, 10_000)
    assert cost.dataset_sizes({"name": "digits", "options": {}}) == (1347, 450)
    synthetic = {"name": "cifar10", "synthetic": {"train_per_class": 7, "test_per_class": 3}}
    assert cost.dataset_sizes(synthetic) == (70, 30)


def test_narrower_models_are_planned_faster_by_their_macs():
    spec = {"model": {"arch": "vgg16_cifar", "options": {}}, "dataset": {"name": "cifar10"}}
    full = cost.reference_throughput(spec)
    half = {"arch": "vgg16_cifar", "options": {"width_mult": 0.5}}
    narrow = cost.reference_throughput({**spec, "model": half})
    assert full == cost.REFERENCE_TRAIN_IMAGES_PER_SECOND["vgg16_cifar"]
    assert 3.0 < narrow / full < 4.5  # about a quarter of the MACs


def test_calibration_measures_the_model_on_a_device():
    spec = {
        "model": {"arch": "mlp_mnist", "options": {"in_features": 64, "hidden": [16]}},
        "dataset": {"name": "digits"},
        "finetune": {"recipe": {"epochs": 1, "batch_size": 32}},
    }
    assert cost.calibrated_throughput(spec, torch.device("cpu")) > 0
