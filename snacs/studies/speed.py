"""Scoring speed of one layer pair: SNACS's ACMI against MINT's geometric CMI (docs/method.md).

The paper's "over 17x faster" claim times the connectivity scores of one layer pair,
VGG16 conv9 (512 parent filters -> 512 child filters), on N = 2000 samples (200 per class),
for equal parent and child group counts of 16 ... 256. This study repeats that with the
harness's own implementations, called exactly as the pruners call them:

* SNACS: :func:`snacs.algorithm.acmi.score_pair` — the EDGE CMI matrix times phi of the
  group-mean normalised weights — once per configured phi, with the SNACS pruner's
  worker rule (one worker per torch thread on CPU, each single-threaded);
* MINT: :func:`snacs.estimators.geometric.gmi_matrix`, as ``baselines/mint.py`` scores a
  pair (one seeded split, one MST per group pair).

Activation collection is outside the timed region, as in the paper. Reruns are
interleaved (rerun 1 of every method and group count, then rerun 2, ...) so that both
methods see the same machine load, and every ratio comes from one run on one machine.

Where the activations come from (``studies.speed.weights``):

* ``trained``: the benchmark's dense checkpoint and its cached activations, restricted to
  the first ``samples_per_class`` samples of each class (the benchmark's model must be a
  full-width ``vgg16_cifar`` and its cache must hold that many samples per class);
* ``random``: a freshly initialised full-width ``vgg16_cifar`` (seeded) run on the
  benchmark's statistics subset drawn with ``samples_per_class``. Used by the demo, whose
  VGG16 is 1/8 wide: the cost of scoring depends on the widths, N and the group counts,
  not on what the weights have learnt, although the data-dependent bucket counts of EDGE
  make it not exactly identical;
* ``auto`` (default): ``trained`` when the benchmark's model allows it, else ``random``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from snacs.algorithm.acmi import score_pair
from snacs.algorithm.weights import PHIS, normalisation_range
from snacs.errors import ConfigError, UnknownNameError
from snacs.estimators.edge import EdgeOptions
from snacs.estimators.geometric import gmi_matrix
from snacs.models import build_model
from snacs.options import build_options, known_fields
from snacs.pruning.activations import Activations, collect_activations
from snacs.pruning.benchmark import Spec, load_bundle, load_model, statistics_subset
from snacs.pruning.graph import INPUT, LayerNode, trace_layer_graph
from snacs.pruning.groups import group_ids
from snacs.tabular import read_reference_csv

ARCH = "vgg16_cifar"
INPUT_SHAPE = (3, 32, 32)
#: MINT's method label in the raw timings, the name the MINT pruner is registered under
MINT = "mint"
SNACS_PREFIX = "snacs_phi_"


def snacs_method(phi: str) -> str:
    return f"{SNACS_PREFIX}{phi}"


@dataclass(frozen=True)
class SpeedSettings:
    """The ``studies.speed`` config section (schema documents every field)."""

    groups: tuple[int, ...] = (16, 32, 64, 128, 256)
    mint_groups: tuple[int, ...] = (16, 32, 64, 128, 256)
    reruns: int = 10
    mint_reruns: int = 10
    samples_per_class: int = 200
    child_layer: int = 9
    phis: tuple[str, ...] = ("one", "weight")
    estimator: EdgeOptions = field(default_factory=EdgeOptions)
    mint_mst: str = "prim"
    seed: int = 0
    workers: int | None = None
    weights: str = "auto"

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> SpeedSettings:
        return build_options(cls, known_fields(cls, section))


@dataclass(frozen=True)
class Measurement:
    method: str
    groups: int
    rerun: int


def measurement_plan(settings: SpeedSettings) -> list[Measurement]:
    """Every timed call, rerun by rerun, so slow drifts in machine load hit all methods."""
    plan = []
    for rerun in range(max(settings.reruns, settings.mint_reruns)):
        for groups in sorted(set(settings.groups) | set(settings.mint_groups)):
            if rerun < settings.reruns and groups in settings.groups:
                plan += [Measurement(snacs_method(p), groups, rerun) for p in settings.phis]
            if rerun < settings.mint_reruns and groups in settings.mint_groups:
                plan.append(Measurement(MINT, groups, rerun))
    return plan


def speed_benchmark(config: Mapping[str, Any]) -> str:
    """The benchmark feeding the study: the configured one, else the first VGG16 one."""
    name = config["studies"]["speed"]["benchmark"]
    if name is not None:
        if name not in config["benchmarks"]:
            raise UnknownNameError("benchmark", name, list(config["benchmarks"]))
        return name
    for candidate, bench in config["benchmarks"].items():
        if bench["model"]["arch"] == ARCH:
            return candidate
    raise ConfigError(
        "invalid config at studies.speed.benchmark: no benchmark uses model vgg16_cifar; "
        "name a benchmark with 3x32x32 images (CIFAR format)"
    )


def weights_source(weights: str, spec: Spec) -> str:
    """``trained`` or ``random``: what ``weights`` (auto|trained|random) means for ``spec``."""
    model = spec["model"]
    full_width = model["arch"] == ARCH and float(model["options"].get("width_mult", 1.0)) == 1.0
    if weights == "auto":
        return "trained" if full_width else "random"
    if weights == "trained" and not full_width:
        raise ConfigError(
            f"invalid config at studies.speed.weights: 'trained' needs a full-width {ARCH} "
            f"benchmark, but {spec['name']} uses {model['arch']} with options {model['options']}"
        )
    return weights


@dataclass
class LayerPair:
    """What every timed method receives: one child layer, its producer and their activations."""

    node: LayerNode
    module: nn.Module
    activations: Activations  # the study's samples; holds the parent's and the child's rows
    weight_range: tuple[float, float]
    source: str

    @property
    def parent(self) -> str:
        return self.node.parents[0]

    @property
    def child_acts(self) -> torch.Tensor:
        return self.activations.layers[self.node.name]

    @property
    def parent_acts(self) -> torch.Tensor:
        return self.activations.layers[self.parent]


def find_child(model: nn.Module, child_layer: int) -> LayerNode:
    """The ``child_layer``-th conv/linear layer (from 1, forward order), fed by one layer."""
    graph = trace_layer_graph(model)
    names = graph.names
    if not 2 <= child_layer <= len(names):
        raise ConfigError(
            f"invalid config at studies.speed.child_layer: {child_layer} is not in 2..{len(names)}"
        )
    node = graph[names[child_layer - 1]]
    if len(node.parents) != 1 or node.parents[0] == INPUT:
        raise ConfigError(
            f"studies.speed.child_layer {child_layer} ({node.name}) is not fed by a single layer"
        )
    return node


def balanced_rows(labels: torch.Tensor, per_class: int) -> torch.Tensor:
    """Row indices of the first ``per_class`` samples of every class, in their order."""
    rows = []
    for label in torch.unique(labels):
        members = torch.nonzero(labels == label).squeeze(1)
        if members.numel() < per_class:
            raise ConfigError(
                f"the activation cache holds {members.numel()} samples of class {int(label)}, "
                f"fewer than studies.speed.samples_per_class = {per_class}; raise the "
                "benchmark's statistics.samples_per_class or use weights: random"
            )
        rows.append(members[:per_class])
    return torch.sort(torch.cat(rows)).values


def _pair(model: nn.Module, node: LayerNode, activations: Activations, source: str) -> LayerPair:
    return LayerPair(
        node=node,
        module=model.get_submodule(node.name),
        activations=activations,
        weight_range=normalisation_range(model, "conv_linear"),
        source=source,
    )


def pair_from_trained(
    spec: Spec, dense_checkpoint: str | Path, activations_path: str | Path, settings: SpeedSettings
) -> LayerPair:
    """The benchmark's trained VGG16 and its cached activations, subsampled per class."""
    model = load_model(spec, load_bundle(spec).num_classes, dense_checkpoint).eval()
    node = find_child(model, settings.child_layer)
    cache = Activations.load(activations_path)
    rows = balanced_rows(cache.labels, settings.samples_per_class)
    kept = Activations(
        layers={name: cache.layers[name][rows] for name in (node.parents[0], node.name)},
        labels=cache.labels[rows],
        seconds=cache.seconds,
    )
    return _pair(model, node, kept, f"trained ({spec['name']} dense checkpoint, cached)")


def pair_from_random_init(
    spec: Spec, settings: SpeedSettings, device: torch.device, progress: bool = True
) -> LayerPair:
    """A seeded, freshly initialised full-width VGG16 run on the benchmark's subset."""
    bundle = load_bundle(spec)
    if tuple(bundle.input_shape) != INPUT_SHAPE:
        raise ConfigError(
            f"the speed study runs a CIFAR VGG16 and needs 3x32x32 images; benchmark "
            f"{spec['name']} has inputs of shape {tuple(bundle.input_shape)}"
        )
    torch.manual_seed(settings.seed)
    model = build_model(ARCH, bundle.num_classes).to(device).eval()
    node = find_child(model, settings.child_layer)
    statistics = {**spec["statistics"], "samples_per_class": settings.samples_per_class}
    subset = statistics_subset({**spec, "statistics": statistics}, bundle)
    loader = DataLoader(subset, batch_size=statistics["batch_size"], shuffle=False)
    activations = collect_activations(model, [node.parents[0], node.name], loader, device, progress)
    return _pair(model, node, activations, f"random init (seed {settings.seed}) on {spec['name']}")


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def snacs_workers(settings: SpeedSettings, device: torch.device) -> int:
    """The SNACS pruner's rule: one worker per torch thread on CPU, one on a GPU."""
    return settings.workers or (torch.get_num_threads() if device.type == "cpu" else 1)


def time_snacs(
    pair: LayerPair,
    groups: int,
    phi: str,
    estimator: EdgeOptions,
    device: torch.device,
    workers: int,
) -> float:
    """Seconds to score the pair's ACMI matrix at ``groups`` x ``groups`` groups."""
    threads = torch.get_num_threads()
    if workers > 1:  # as the pruner does: workers share the cores, one thread each
        torch.set_num_threads(1)
    try:
        _synchronise(device)
        start = time.perf_counter()
        score_pair(
            pair.node,
            pair.module,
            pair.activations,
            child_groups=groups,
            parent_groups=groups,
            phi_name=phi,
            weight_range=pair.weight_range,
            parent_signal="producer",
            estimator=estimator,
            device=device,
            workers=workers,
        )
        _synchronise(device)
        return time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)


def time_mint(pair: LayerPair, groups: int, seed: int, mst: str, device: torch.device) -> float:
    """Seconds to score the pair with MINT's estimator at ``groups`` x ``groups`` groups."""
    _synchronise(device)
    start = time.perf_counter()
    gmi_matrix(
        pair.child_acts,
        group_ids(pair.node.out_channels, groups).numpy(),
        pair.parent_acts,
        group_ids(pair.parent_acts.shape[1], groups).numpy(),
        seed=seed,
        device=device,
        mst=mst,  # type: ignore[arg-type]
    )
    _synchronise(device)
    return time.perf_counter() - start


RAW_COLUMNS = ["method", "groups", "rerun", "seconds"]


def run_speed_study(
    pair: LayerPair, settings: SpeedSettings, device: torch.device, progress: bool = True
) -> pd.DataFrame:
    """Time every measurement of the plan; one row per (method, groups, rerun).

    Constant columns record the setting (layers, widths, N, device, threads, workers,
    where the activations came from), so the CSV stands on its own.
    """
    estimator = settings.estimator
    workers = snacs_workers(settings, device)
    plan = measurement_plan(settings)
    # Untimed warm-up of both code paths (lazy imports, allocator, caches).
    time_snacs(pair, 2, settings.phis[0], estimator, device, workers)
    if any(m.method == MINT for m in plan):
        time_mint(pair, 2, settings.seed, settings.mint_mst, device)
    rows = []
    for item in tqdm(plan, desc="speed study", disable=not progress, leave=False):
        if item.method == MINT:
            seconds = time_mint(pair, item.groups, settings.seed, settings.mint_mst, device)
        else:
            phi = item.method.removeprefix(SNACS_PREFIX)
            seconds = time_snacs(pair, item.groups, phi, estimator, device, workers)
        rows.append([item.method, item.groups, item.rerun, seconds])
    frame = pd.DataFrame(rows, columns=RAW_COLUMNS)
    parent_width = pair.parent_acts.shape[1]
    frame["child_groups"] = [min(g, pair.node.out_channels) for g in frame["groups"]]
    frame["parent_groups"] = [min(g, parent_width) for g in frame["groups"]]
    return frame.assign(
        child_layer=pair.node.name,
        parent_layer=pair.parent,
        child_width=pair.node.out_channels,
        parent_width=parent_width,
        samples=pair.activations.num_samples,
        device=str(device),
        threads=torch.get_num_threads(),
        snacs_workers=workers if any(m.method != MINT for m in plan) else 0,
        mint_mst=settings.mint_mst,
        activations=pair.source,
    )


def summarise_speed(raw: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std of the seconds per (method, groups), with the rerun count."""
    grouped = raw.groupby(["method", "groups"], sort=True)["seconds"]
    summary = pd.concat(
        [
            grouped.count().rename("runs"),
            grouped.mean().rename("seconds_mean"),
            grouped.std(ddof=1).fillna(0.0).rename("seconds_std"),
        ],
        axis=1,
    )
    return summary.reset_index()


def read_paper_speed(path: str | Path) -> pd.DataFrame:
    """The paper's runtimes (``paper_figures/speed_paper.csv``): method, groups, mean, std."""
    return read_reference_csv(path, ["groups", "method", "seconds_mean", "seconds_std", "source"])


def _phis_of(methods: Sequence[str]) -> list[str]:
    found = {m.removeprefix(SNACS_PREFIX) for m in methods if m.startswith(SNACS_PREFIX)}
    return [p for p in PHIS if p in found] + sorted(found - set(PHIS))


def speedup_table(summary: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """One row per group count: our and the paper's seconds and MINT/SNACS speed-ups.

    Speed-ups are ratios of mean seconds, only where both methods were measured.
    ``min_speedup`` is the smaller over the phis, the number the paper annotates.
    """
    phis = _phis_of([*summary["method"], *paper["method"]])
    methods = [MINT, *(snacs_method(p) for p in phis)]
    groups = sorted(set(summary["groups"]) | set(paper["groups"]))
    ours = summary.set_index(["method", "groups"])
    theirs = paper.set_index(["method", "groups"])
    rows = []
    for g in groups:
        row: dict[str, float] = {"groups": g}
        for method in methods:
            for column, source in (("seconds_mean", ours), ("seconds_std", ours)):
                key = f"{method}_{column.removeprefix('seconds_')}"
                row[key] = source[column].get((method, g), float("nan"))
            row[f"{method}_runs"] = ours["runs"].get((method, g), 0)
            row[f"paper_{method}_mean"] = theirs["seconds_mean"].get((method, g), float("nan"))
        for prefix in ("", "paper_"):
            ratios = [
                row[f"{prefix}{MINT}_mean"] / row[f"{prefix}{snacs_method(p)}_mean"] for p in phis
            ]
            for phi, ratio in zip(phis, ratios, strict=True):
                row[f"{prefix}speedup_{phi}"] = ratio
            row[f"{prefix}min_speedup"] = min(ratios, default=float("nan"))
        rows.append(row)
    return pd.DataFrame(rows)
