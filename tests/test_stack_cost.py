"""`snacs cost` with measured stacking throughput: the K it assumes and what that costs."""

import json
import math

import pytest

from snacs.config import runs
from snacs.config_file import load_config
from snacs.errors import ConfigError
from snacs.pipeline import cost

TOTALS = {1: 1000.0, 2: 1800.0, 4: 3000.0, 8: 2900.0}  # K=4 trains fastest


@pytest.fixture
def measured(tmp_path):
    rows = [
        {"model": "vgg16", "arch": "vgg16_cifar", "knobs": {}, "k": k, "images_per_second_total": v}
        for k, v in TOTALS.items()
    ]
    path = tmp_path / "gpu_check.json"
    path.write_text(json.dumps({"gpu": "X", "stacked_finetune": {"device": "GPU X", "rows": rows}}))
    return cost.MeasuredThroughput.load(path)


def test_stack_cost_takes_the_fastest_measured_k_and_fills_stacks(measured):
    config = load_config("config/config.yaml")
    estimate = cost.estimate_cost(config, throughput=measured)
    assert estimate.stack_k["cifar10_vgg16"] == 4
    assert estimate.stack_k["cifar10_resnet56"] == 1  # not measured: planning table, alone
    assert "GPU X (measured" in estimate.throughput_source
    assert "cifar10_resnet56" in estimate.throughput_source
    rows = {(row.benchmark, row.rule): row for row in estimate.rows}
    assert estimate.train_images_per_second["cifar10_vgg16"] == TOTALS[1]
    members = math.ceil(sum(1 for r in runs(config) if r[0] == "cifar10_vgg16")) + 1
    per_run = TOTALS[4] * members / (math.ceil(members / 4) * 4)  # a ragged last stack
    finetune = rows[("cifar10_vgg16", "finetune")]
    assert finetune.stack_k == 4 and rows[("cifar10_vgg16", "dense")].stack_k == 1
    expected = (finetune.train_images / per_run + finetune.eval_images / (3 * per_run)) / 3600
    assert finetune.gpu_hours == pytest.approx(expected)
    dense = rows[("cifar10_vgg16", "dense")]
    assert dense.gpu_hours == pytest.approx(
        (dense.train_images / TOTALS[1] + dense.eval_images / (3 * TOTALS[1])) / 3600
    )
    printed = cost.format_cost_table(estimate)
    assert "cifar10_vgg16 K=4" in printed


def test_stack_cost_honours_an_asked_k_and_refuses_an_unmeasured_one(measured):
    config = load_config("config/config.yaml")
    assert cost.estimate_cost(config, throughput=measured, stack_k=2).stack_k["cifar10_vgg16"] == 2
    with pytest.raises(ConfigError, match="stack size 3 was not measured"):
        cost.estimate_cost(config, throughput=measured, stack_k=3)


def test_stack_cost_names_a_file_that_is_no_throughput_json(tmp_path):
    path = tmp_path / "other.json"
    path.write_text("{}")
    with pytest.raises(ConfigError, match="other.json"):
        cost.MeasuredThroughput.load(path)
