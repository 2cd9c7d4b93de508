"""What a config costs before it runs: runs, epochs, images and GPU-hours per step.

Images processed follow from the config alone (dataset sizes, recipes, the grid of runs).
Turning images into hours needs a throughput per architecture: measured on the current
GPU by a short calibration (random inputs, the training loop's settings), or, on a
machine without one, taken from ``REFERENCE_TRAIN_IMAGES_PER_SECOND``: planning figures
for one NVIDIA A100 with bfloat16 autocast, channels-last and the device data path. They
are round estimates for budgeting, not measurements; calibrate on the GPU you will use.
A configured model that differs from the reference (width, depth, image size) is scaled
by its multiply-accumulates. Evaluation is taken as three times faster than training
(a forward pass without backward or optimizer step). Scoring by the pruners is not
included: it is measured by the runs themselves and is small next to fine-tuning.
A benchmark whose dense model is a published checkpoint (``dense.source: pretrained``)
costs one evaluation instead of its training; when its dense recipe is still in the
config, the hours that training would have cost are reported as saved.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch

from snacs.config import benchmark, runs
from snacs.engine.throughput import measure_throughput
from snacs.models import build_model, model_info, weight_free_knobs
from snacs.pruning.counting import count_macs

REFERENCE_GPU = "NVIDIA A100 (planning table)"
# Training images per second at each architecture's default size on REFERENCE_GPU.
REFERENCE_TRAIN_IMAGES_PER_SECOND: dict[str, float] = {
    "vgg16_cifar": 12_000.0,
    "resnet_cifar": 9_000.0,  # depth 56
    "resnet56_cifar": 9_000.0,
    "mobilenetv2_cifar": 6_000.0,
    "resnet50": 2_600.0,  # 224x224
    "mlp_mnist": 300_000.0,
}
EVAL_SPEEDUP = 3.0
# (train, test) samples of the real datasets; digits splits 1,797 images by test_fraction.
DATASET_SIZES: dict[str, tuple[int, int]] = {
    "cifar10": (50_000, 10_000),
    "mnist": (60_000, 10_000),
    "imagenet": (1_281_167, 50_000),
}
DATASET_CLASSES = {"cifar10": 10, "mnist": 10, "digits": 10, "imagenet": 1000}
_DIGITS = 1_797


@dataclass(frozen=True)
class CostRow:
    """One step of one benchmark: how many jobs, what they process, what it costs."""

    benchmark: str
    rule: str
    runs: int
    epochs: int  # per run (0 for steps that only evaluate)
    train_images: int  # images through a training step, all runs together
    eval_images: int  # images through a forward pass only, all runs together
    gpu_hours: float
    #: GPU-hours a published dense checkpoint saves: its recipe's training (dense rows only)
    saved_gpu_hours: float = 0.0


@dataclass(frozen=True)
class CostEstimate:
    rows: list[CostRow]
    throughput_source: str  # the calibrated GPU's name, or REFERENCE_GPU
    train_images_per_second: dict[str, float]  # per benchmark

    @property
    def total_gpu_hours(self) -> float:
        return sum(row.gpu_hours for row in self.rows)

    @property
    def saved_gpu_hours(self) -> float:
        return sum(row.saved_gpu_hours for row in self.rows)

    def to_dict(self) -> dict:
        return {
            "rows": [asdict(row) for row in self.rows],
            "throughput_source": self.throughput_source,
            "train_images_per_second": self.train_images_per_second,
            "total_gpu_hours": self.total_gpu_hours,
            "saved_gpu_hours": self.saved_gpu_hours,
        }


def dataset_sizes(dataset: Mapping[str, Any]) -> tuple[int, int]:
    """(train, test) samples of a benchmark's dataset, without reading it."""
    synthetic = dataset.get("synthetic")
    if synthetic:
        classes = synthetic.get("num_classes", 10)
        return synthetic["train_per_class"] * classes, synthetic["test_per_class"] * classes
    if dataset["name"] == "digits":
        test = math.ceil(dataset.get("options", {}).get("test_fraction", 0.25) * _DIGITS)
        return _DIGITS - test, test
    return DATASET_SIZES[dataset["name"]]


def input_shape(spec: Mapping[str, Any]) -> tuple[int, ...]:
    """Per-sample input shape of a benchmark, from the model registry and dataset options."""
    dataset = spec["dataset"]
    if dataset["name"] == "imagenet":
        size = dataset.get("options", {}).get("image_size", 224)
        return (3, size, size)
    if dataset.get("synthetic", {}).get("format") == "imagefolder":
        size = dataset["synthetic"]["image_size"]
        return (3, size, size)
    model = spec["model"]
    return model_info(model["arch"]).input_shape_for(model.get("options", {}))


def num_classes(dataset: Mapping[str, Any]) -> int:
    synthetic = dataset.get("synthetic")
    if synthetic:
        return synthetic.get("num_classes", 10)
    return DATASET_CLASSES[dataset["name"]]


def reference_throughput(spec: Mapping[str, Any]) -> float:
    """Training images/s from the planning table, scaled by the configured model's MACs."""
    arch = spec["model"]["arch"]
    if arch not in REFERENCE_TRAIN_IMAGES_PER_SECOND:
        raise KeyError(
            f"no planning throughput for architecture {arch!r}; run `snacs cost` on a GPU "
            "to calibrate it"
        )
    info = model_info(arch)
    default_knobs = {"depth": 56} if arch == "resnet_cifar" else {}
    options = weight_free_knobs(spec["model"].get("options", {}))
    shape, classes = input_shape(spec), num_classes(spec["dataset"])
    speed = REFERENCE_TRAIN_IMAGES_PER_SECOND[arch]
    if options == default_knobs and shape == info.input_shape and classes == info.num_classes:
        return speed  # the reference model itself
    reference = count_macs(build_model(arch, **default_knobs), info.input_shape)
    return speed * reference / count_macs(build_model(arch, classes, **options), shape)


def calibrated_throughput(spec: Mapping[str, Any], device: torch.device) -> float:
    """Training images/s of the benchmark's model measured on ``device``."""
    options = weight_free_knobs(spec["model"].get("options", {}))
    classes = num_classes(spec["dataset"])
    model = build_model(spec["model"]["arch"], classes, **options)
    batch = spec["finetune"]["recipe"].get("batch_size", 128)
    measured = measure_throughput(model, input_shape(spec), classes, batch, device)
    return measured.train_images_per_second


def estimate_cost(config: Mapping[str, Any], device: torch.device | None = None) -> CostEstimate:
    """Cost of every benchmark's steps: dense, activations, prune, finetune, reference, evaluate.

    ``device`` a CUDA device: calibrate throughput there; None: the planning table.
    """
    grid = runs(config)
    rows: list[CostRow] = []
    speeds: dict[str, float] = {}
    for name in config["benchmarks"]:
        spec = benchmark(config, name)
        if device is not None:
            speeds[name] = calibrated_throughput(spec, device)
        else:
            speeds[name] = reference_throughput(spec)
        pruning_runs = sum(1 for run in grid if run[0] == name)
        rows += _benchmark_rows(name, spec, pruning_runs, len(config["seeds"]), speeds[name])
    source = torch.cuda.get_device_name(device) if device is not None else REFERENCE_GPU
    return CostEstimate(rows, source, speeds)


def _benchmark_rows(
    name: str, spec: Mapping[str, Any], pruning_runs: int, seeds: int, speed: float
) -> list[CostRow]:
    train_size, test_size = dataset_sizes(spec["dataset"])
    subset = spec.get("statistics", {}).get("samples_per_class", 250)
    subset *= num_classes(spec["dataset"])

    def hours(train_images: int, eval_images: int) -> float:
        return (train_images / speed + eval_images / (speed * EVAL_SPEEDUP)) / 3600.0

    def training(rule: str, count: int, recipe: Mapping[str, Any]) -> CostRow:
        epochs = recipe["epochs"]
        evaluations = math.ceil(epochs / recipe.get("eval_every", 1)) + 1  # + the final check
        train = count * epochs * train_size
        evaluated = count * evaluations * test_size
        return CostRow(name, rule, count, epochs, train, evaluated, hours(train, evaluated))

    def forward_only(rule: str, count: int, images_per_run: int) -> CostRow:
        evaluated = count * images_per_run
        return CostRow(name, rule, count, 0, 0, evaluated, hours(0, evaluated))

    dense = spec["dense"]
    rows = []
    if dense.get("source", "train") == "train":
        rows.append(training("dense", 1, dense["recipe"]))
    else:
        evaluated = forward_only("dense", 1, test_size)
        saved = training("dense", 1, dense["recipe"]).gpu_hours if "recipe" in dense else 0.0
        rows.append(dataclasses.replace(evaluated, saved_gpu_hours=saved))
    rows.append(forward_only("activations", 1, subset))
    rows.append(forward_only("prune", pruning_runs, subset))
    rows.append(training("finetune", pruning_runs, spec["finetune"]["recipe"]))
    # the dense model fine-tuned with the same recipe, once per seed (the reference row)
    rows.append(training("dense_reference", seeds, spec["finetune"]["recipe"]))
    rows.append(forward_only("evaluate", pruning_runs, 2 * test_size))  # masked and slim
    return rows


def format_cost_table(estimate: CostEstimate) -> str:
    header = (
        f"{'benchmark':<24} {'rule':<16} {'runs':>5} {'epochs':>6} {'images (M)':>11} {'GPU-h':>8}"
    )
    lines = [f"throughput: {estimate.throughput_source}", header, "-" * len(header)]
    for row in estimate.rows:
        images = (row.train_images + row.eval_images) / 1e6
        lines.append(
            f"{row.benchmark:<24} {row.rule:<16} {row.runs:>5} {row.epochs:>6} "
            f"{images:>11.2f} {row.gpu_hours:>8.2f}"
        )
    saving = [row for row in estimate.rows if row.saved_gpu_hours > 0]
    if saving:
        parts = ", ".join(f"{row.benchmark} {row.saved_gpu_hours:.2f}" for row in saving)
        lines.append(
            f"published dense checkpoints save {estimate.saved_gpu_hours:.2f} GPU-h of dense "
            f"training ({parts}); their dense rows count one evaluation"
        )
    lines.append("-" * len(header))
    total_images = sum(r.train_images + r.eval_images for r in estimate.rows) / 1e6
    lines.append(
        f"{'total':<24} {'':<16} {'':>5} {'':>6} {total_images:>11.2f} "
        f"{estimate.total_gpu_hours:>8.1f}"
    )
    return "\n".join(lines)


def cost_command(config_path: str, table: bool, json_path: str | None) -> str:
    """``snacs cost``: calibrate on CUDA unless ``table``; return the printed table."""
    from snacs.config import load_config
    from snacs.io import write_json

    config = load_config(config_path)
    device = None
    if torch.cuda.is_available() and not table:
        device = torch.device("cuda", torch.cuda.current_device())
        torch.backends.cudnn.benchmark = True  # as in training (seed_everything)
    estimate = estimate_cost(config, device)
    if json_path:
        write_json(json_path, estimate.to_dict())
    return format_cost_table(estimate)
