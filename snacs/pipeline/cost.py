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

Given the JSON of ``benchmarks/gpu_check.py`` (or ``benchmarks/finetune_throughput.py``),
the measured figures replace both: single runs (dense training) at the measured K = 1
rate, fine-tunes and the dense reference (which stack, see :mod:`snacs.engine.stack`) at
the total rate of the stack size K that trains fastest there, or the K asked for. A
benchmark's fine-tunes of one seed (its runs plus the reference) fill
``ceil(members / K)`` stacks; a last, partly filled stack is costed as a full one.
Models the check did not measure keep the planning table, unstacked.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from snacs.config import benchmark, control_runs, runs
from snacs.engine.throughput import measure_throughput
from snacs.errors import ConfigError
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
    stack_k: int = 1  # runs trained together as one stacked model


@dataclass(frozen=True)
class MeasuredThroughput:
    """Training images/s measured for stacks of K runs, per model, from a check's JSON."""

    device: str
    path: str
    # (arch, knobs as sorted JSON) -> {K: images per second, all members together}
    totals: dict[tuple[str, str], dict[int, float]]

    @classmethod
    def load(cls, path: str | Path) -> MeasuredThroughput:
        """Read ``stacked_finetune`` of a gpu check JSON, or a finetune_throughput JSON."""
        try:
            report = json.loads(Path(path).read_text())
            section = report.get("stacked_finetune", report)
            totals: dict[tuple[str, str], dict[int, float]] = {}
            for row in section["rows"]:
                key = (row["arch"], _knobs_key(row["knobs"]))
                totals.setdefault(key, {})[int(row["k"])] = float(row["images_per_second_total"])
            device = section["device"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(
                f"{path}: not a throughput JSON of benchmarks/gpu_check.py or "
                f"benchmarks/finetune_throughput.py ({type(exc).__name__}: {exc})"
            ) from exc
        return cls(device, str(path), totals)

    def for_spec(self, spec: Mapping[str, Any]) -> dict[int, float] | None:
        """{K: total images/s} measured for the benchmark's model, or None."""
        return self.totals.get((spec["model"]["arch"], _knobs_key(_model_knobs(spec))))


@dataclass(frozen=True)
class CostEstimate:
    rows: list[CostRow]
    throughput_source: str  # the calibrated GPU's name, the measurement, or REFERENCE_GPU
    train_images_per_second: dict[str, float]  # per benchmark, one run alone
    stack_k: dict[str, int] = field(default_factory=dict)  # per benchmark, for fine-tunes

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
            "stack_k": self.stack_k,
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


def estimate_cost(
    config: Mapping[str, Any],
    device: torch.device | None = None,
    throughput: MeasuredThroughput | None = None,
    stack_k: int | None = None,
) -> CostEstimate:
    """Cost of every benchmark's steps: dense, activations, prune, finetune, reference, evaluate.

    ``device`` a CUDA device: calibrate throughput there; None: the planning table.
    ``throughput``: measured stacking figures, used for the models they cover (before
    calibration or the table); ``stack_k`` fixes the stack size, else the fastest is taken.
    """
    grid = runs(config)
    control_grid = control_runs(config)
    seeds = len(config["seeds"])
    rows: list[CostRow] = []
    speeds: dict[str, float] = {}
    stacks: dict[str, int] = {}
    unmeasured: list[str] = []
    for name in config["benchmarks"]:
        spec = benchmark(config, name)
        pruning_runs = sum(1 for run in grid if run[0] == name)
        controls = sum(1 for run in control_grid if run[0] == name)
        measured = throughput.for_spec(spec) if throughput is not None else None
        if measured:
            # one seed's runs and controls, and its reference
            members = math.ceil((pruning_runs + controls) / seeds) + 1
            stacks[name] = _stack_size(measured, members, stack_k, name)
            speeds[name] = measured.get(1, measured[min(measured)] / min(measured))
            groups = math.ceil(members / stacks[name])
            stacked = measured[stacks[name]] * members / (groups * stacks[name])
        else:
            unmeasured.append(name)
            stacks[name] = 1
            if device is not None:
                speeds[name] = calibrated_throughput(spec, device)
            else:
                speeds[name] = reference_throughput(spec)
            stacked = speeds[name]
        rows += _benchmark_rows(
            name, spec, (pruning_runs, controls), seeds, speeds[name], (stacked, stacks[name])
        )
    source = torch.cuda.get_device_name(device) if device is not None else REFERENCE_GPU
    if throughput is not None:
        rest = f"; {source} for {', '.join(unmeasured)}" if unmeasured else ""
        source = f"{throughput.device} (measured, {throughput.path}){rest}"
    return CostEstimate(rows, source, speeds, stacks)


def _stack_size(measured: Mapping[int, float], members: int, wanted: int | None, name: str) -> int:
    """The asked-for K, or the measured K with the most images/s that has members to fill."""
    if wanted is not None:
        if wanted not in measured:
            raise ConfigError(
                f"stack size {wanted} was not measured for {name}; measured: {sorted(measured)}"
            )
        return wanted
    fillable = [k for k in measured if k <= members] or [min(measured)]
    return max(fillable, key=lambda k: measured[k])


def _benchmark_rows(
    name: str,
    spec: Mapping[str, Any],
    grid: tuple[int, int],
    seeds: int,
    speed: float,
    stacked: tuple[float, int],
) -> list[CostRow]:
    """The steps' rows for ``grid`` (pruning runs, controls): fine-tunes and the reference
    as ``stacked`` (images/s per run, averaged over the stacks, and K), everything else
    at ``speed``. A control is fine-tuned and evaluated like a run; choosing its plan is
    not counted (no forward pass)."""
    pruning_runs, controls = grid
    stacked_speed, stack_k = stacked
    train_size, test_size = dataset_sizes(spec["dataset"])
    subset = spec.get("statistics", {}).get("samples_per_class", 250)
    subset *= num_classes(spec["dataset"])

    def hours(train_images: int, eval_images: int, rate: float = speed) -> float:
        return (train_images / rate + eval_images / (rate * EVAL_SPEEDUP)) / 3600.0

    def training(
        rule: str, count: int, recipe: Mapping[str, Any], rate: float, k: int = 1
    ) -> CostRow:
        epochs = recipe["epochs"]
        evaluations = math.ceil(epochs / recipe.get("eval_every", 1)) + 1  # + the final check
        train = count * epochs * train_size
        evaluated = count * evaluations * test_size
        gpu_hours = hours(train, evaluated, rate)
        return CostRow(name, rule, count, epochs, train, evaluated, gpu_hours, stack_k=k)

    def forward_only(rule: str, count: int, images_per_run: int) -> CostRow:
        evaluated = count * images_per_run
        return CostRow(name, rule, count, 0, 0, evaluated, hours(0, evaluated))

    dense = spec["dense"]
    rows = []
    if dense.get("source", "train") == "train":
        rows.append(training("dense", 1, dense["recipe"], speed))
    else:
        evaluated = forward_only("dense", 1, test_size)
        saved = training("dense", 1, dense["recipe"], speed).gpu_hours if "recipe" in dense else 0.0
        rows.append(dataclasses.replace(evaluated, saved_gpu_hours=saved))
    rows.append(forward_only("activations", 1, subset))
    rows.append(forward_only("prune", pruning_runs, subset))
    rows.append(
        training("finetune", pruning_runs, spec["finetune"]["recipe"], stacked_speed, stack_k)
    )
    # the dense model fine-tuned with the same recipe, once per seed (the reference row)
    rows.append(
        training("dense_reference", seeds, spec["finetune"]["recipe"], stacked_speed, stack_k)
    )
    rows.append(forward_only("evaluate", pruning_runs, 2 * test_size))  # masked and slim
    # right after pruning: BatchNorm re-estimated on training batches, then the test set,
    # for every run and the dense model (controls measure theirs in their own job)
    evaluation = spec.get("evaluation", {})
    one_shot = evaluation.get("bn_recalibration_batches", 20) * evaluation.get("batch_size", 256)
    one_shot = min(one_shot, train_size) + test_size
    rows.append(forward_only("oneshot", pruning_runs + 1, one_shot))
    if controls:
        recipe = spec["finetune"]["recipe"]
        # one job per control: its fine-tune, then its evaluation (masked and slim)
        tuned = training("control", controls, recipe, stacked_speed, stack_k)
        evaluated = forward_only("control", controls, 2 * test_size + one_shot)
        rows.append(
            dataclasses.replace(
                tuned,
                eval_images=tuned.eval_images + evaluated.eval_images,
                gpu_hours=tuned.gpu_hours + evaluated.gpu_hours,
            )
        )
    return rows


def format_cost_table(estimate: CostEstimate) -> str:
    header = (
        f"{'benchmark':<24} {'rule':<16} {'runs':>5} {'epochs':>6} {'images (M)':>11} {'GPU-h':>8}"
    )
    lines = [f"throughput: {estimate.throughput_source}"]
    stacked = {name: k for name, k in estimate.stack_k.items() if k > 1}
    if stacked:
        sizes = ", ".join(f"{name} K={k}" for name, k in stacked.items())
        lines.append(f"stacked fine-tunes (runs per stacked job): {sizes}; the rest K=1")
    else:
        lines.append("stacked fine-tunes: none (K=1, one run per job)")
    lines += [header, "-" * len(header)]
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


def cost_command(
    config: Mapping[str, Any],
    table: bool,
    json_path: str | None,
    throughput_path: str | None = None,
    stack_k: int | None = None,
) -> str:
    """``snacs cost`` of a validated config: calibrate on CUDA unless ``table``; return the
    printed table.

    ``throughput_path``: a gpu check JSON whose measured stacking figures are used for the
    models it covers; ``stack_k`` the stack size to assume (default: the fastest measured).
    """
    from snacs.io import write_json

    device = None
    if torch.cuda.is_available() and not table:
        device = torch.device("cuda", torch.cuda.current_device())
        torch.backends.cudnn.benchmark = True  # as in training (seed_everything)
    measured = MeasuredThroughput.load(throughput_path) if throughput_path else None
    estimate = estimate_cost(config, device, measured, stack_k)
    if json_path:
        write_json(json_path, estimate.to_dict())
    return format_cost_table(estimate)


def _model_knobs(spec: Mapping[str, Any]) -> dict:
    return {k: v for k, v in spec["model"].get("options", {}).items() if k != "pretrained"}


def _knobs_key(knobs: Mapping[str, Any]) -> str:
    return json.dumps(dict(knobs), sort_keys=True)
