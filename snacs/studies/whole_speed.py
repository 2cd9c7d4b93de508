"""Whole-network scoring time: SNACS's full scoring step against MINT's, on the same inputs.

The layer-pair study times the connectivity estimators alone. A user runs the whole
scoring step of a pruner, so this study times exactly what the pruners do in the
workflow, on every layer of a full network:

* SNACS: ``snacs`` pruner's ``score``: ACMI of every pair, the operating constraints
  (SVM fidelity per layer) and the sensitivity rule; its parts are recorded too;
* MINT: ``mint`` pruner's ``score``: the geometric CMI of every pair (its limits are a
  fixed option and cost nothing).

Both pruners read one activation cache (collected once, untimed), run in one process with
the same torch threads (SNACS splits them into single-threaded workers, as it does in a
run; MINT's tree-growing loop holds Python's interpreter lock, so it runs on one core
whatever the threads, hence the CPU-seconds ratio beside the wall-clock one), and are
rerun interleaved: rerun 1 of every network and method, then rerun 2, with
the method order alternating, so that both see the same machine load. Ratios are ratios
of mean seconds; their intervals come from a bootstrap over the reruns of each method.

The networks are freshly initialised (seeded): scoring cost depends on the widths, the
number of samples and the group counts, not on what the weights have learnt. The step
ratio (MINT's estimator over SNACS's ACMI) is the layer-pair study's quantity summed over
the network; the whole ratio is what a user experiences.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from snacs.errors import ConfigError
from snacs.models import build_model
from snacs.options import build_options, known_fields
from snacs.pruning.benchmark import load_bundle, statistics_subset
from snacs.pruning.context import PruneContext
from snacs.pruning.pruner import build_pruner, load_pruner_modules

INPUT_SHAPE = (3, 32, 32)
SCOPES = {"step": "step_seconds", "whole": "seconds", "whole_cpu": "cpu_seconds"}
"""Each ratio's scope and the raw column it divides (whole_cpu: CPU seconds, CPU only)."""


@dataclass(frozen=True)
class Network:
    """A network timed whole: its architecture and the pruners' group count."""

    label: str
    arch: str
    options: Mapping[str, Any]
    groups: int

    @property
    def description(self) -> str:
        width = float(self.options.get("width_mult", 1.0))
        scale = "full width" if width == 1.0 else f"width x{width:g}"
        return f"{self.label}, {scale}, {self.groups} groups (at most one per filter)"


NETWORKS = {
    "vgg16": Network("VGG16-BN", "vgg16_cifar", {}, 64),
    # Widths 16/32/64: 64 groups means one filter per group, as MINT ran ResNet56.
    "resnet56": Network("ResNet56", "resnet_cifar", {"depth": 56}, 64),
}


@dataclass(frozen=True)
class WholeSettings:
    """The ``studies.speed.whole`` config section (the schema documents every field)."""

    enabled: bool = False
    networks: tuple[str, ...] = ("vgg16", "resnet56")
    groups: Mapping[str, int] = field(default_factory=dict)
    width_mult: float = 1.0
    samples_per_class: int = 200
    reruns: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [n for n in self.networks if n not in NETWORKS]
        if unknown:
            raise ConfigError(
                f"invalid config at studies.speed.whole.networks: {unknown}; "
                f"known networks: {sorted(NETWORKS)}"
            )

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> WholeSettings:
        return build_options(cls, known_fields(cls, section))

    def network(self, name: str) -> Network:
        """The network with this run's group count and width."""
        base = NETWORKS[name]
        options = dict(base.options)
        if self.width_mult != 1.0:
            options["width_mult"] = self.width_mult
        return dataclasses.replace(
            base, options=options, groups=int(self.groups.get(name, base.groups))
        )


def prepare_context(
    network: Network,
    subset: Dataset,
    num_classes: int,
    device: torch.device,
    seed: int,
    progress: bool = True,
) -> PruneContext:
    """A seeded, freshly initialised network and its activation cache (collected, untimed)."""
    torch.manual_seed(seed)
    model = build_model(network.arch, num_classes, **network.options)
    ctx = PruneContext(model, INPUT_SHAPE, num_classes, subset, device, seed, progress=False)
    ctx.activations()
    ctx.progress = progress
    return ctx


def contexts_from_benchmark(
    spec: Mapping[str, Any], settings: WholeSettings, device: torch.device, progress: bool = True
) -> dict[str, PruneContext]:
    """Every configured network on the benchmark's statistics subset (3x32x32 images)."""
    bundle = load_bundle(spec)
    if tuple(bundle.input_shape) != INPUT_SHAPE:
        raise ConfigError(
            f"the whole-network speed study runs CIFAR networks and needs 3x32x32 images; "
            f"benchmark {spec['name']} has inputs of shape {tuple(bundle.input_shape)}"
        )
    statistics = {**spec["statistics"], "samples_per_class": settings.samples_per_class}
    subset = statistics_subset({**spec, "statistics": statistics}, bundle)
    return {
        name: prepare_context(
            settings.network(name), subset, bundle.num_classes, device, settings.seed, progress
        )
        for name in settings.networks
    }


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_scoring(ctx: PruneContext, method: str, groups: int) -> dict[str, float]:
    """Seconds of one pruner's whole ``score`` call, its estimator step and its parts, and
    the CPU seconds of the call summed over the process's threads."""
    pruner = build_pruner(method, {"groups": groups})
    pruner.prepare(ctx)  # one-time code loading, untimed as in the pruning runs
    _synchronise(ctx.device)
    start, cpu_start = time.perf_counter(), time.process_time()
    scores = pruner.score(ctx)
    _synchronise(ctx.device)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    parts = dict(scores.timings)
    step = parts["acmi_seconds"] if method == "snacs" else parts["gmi_seconds"]
    return {"seconds": seconds, "step_seconds": step, "cpu_seconds": cpu_seconds, **parts}


RAW_COLUMNS = [
    "network",
    "method",
    "rerun",
    "seconds",
    "step_seconds",
    "cpu_seconds",
    "acmi_seconds",
    "constraint_seconds",
    "sensitivity_seconds",
]


def run_whole_study(
    contexts: Mapping[str, PruneContext],
    settings: WholeSettings,
    progress: bool = True,
) -> pd.DataFrame:
    """Time both pruners on every network, reruns interleaved; one row per timed call."""
    load_pruner_modules()
    plan = []
    for rerun in range(settings.reruns):
        for name in contexts:
            methods = ("snacs", "mint") if rerun % 2 == 0 else ("mint", "snacs")
            plan += [(name, method, rerun) for method in methods]
    rows = []
    for name, method, rerun in tqdm(plan, desc="whole-network speed", disable=not progress):
        ctx = contexts[name]
        timed = time_scoring(ctx, method, settings.network(name).groups)
        rows.append({"network": name, "method": method, "rerun": rerun, **timed})
    frame = pd.DataFrame(rows).reindex(columns=RAW_COLUMNS)
    first = next(iter(contexts.values()))
    return frame.assign(
        groups=[settings.network(n).groups for n in frame["network"]],
        description=[settings.network(n).description for n in frame["network"]],
        width_mult=settings.width_mult,
        samples=first.activations().num_samples,
        threads=torch.get_num_threads(),
        device=str(first.device),
    )


@dataclass(frozen=True)
class SpeedRatio:
    """MINT's seconds over SNACS's for one network and scope, with a bootstrap interval.

    scope ``step``: MINT's estimator against SNACS's ACMI; ``whole``: both pruners' whole
    scoring step (SNACS: ACMI + operating constraints + sensitivity); ``whole_cpu``: the
    same in CPU seconds summed over threads, i.e. the ratio if both used the cores equally
    well (SNACS's workers keep every core busy; MINT's tree loop holds Python's lock and
    runs on one core). CPU runs only.
    """

    network: str
    scope: str
    groups: int
    snacs_s: float
    mint_s: float
    ratio: float
    ratio_low: float
    ratio_high: float
    reruns: int
    threads: int
    device: str


SUMMARY_COLUMNS = [f.name for f in dataclasses.fields(SpeedRatio)]


def bootstrap_ratio(
    numerator: np.ndarray, denominator: np.ndarray, seed: int = 0, draws: int = 2000
) -> tuple[float, float]:
    """95 % percentile interval of mean(numerator) / mean(denominator), each resampled."""
    rng = np.random.default_rng(seed)
    top = rng.choice(numerator, (draws, numerator.size)).mean(axis=1)
    bottom = rng.choice(denominator, (draws, denominator.size)).mean(axis=1)
    low, high = np.percentile(top / bottom, [2.5, 97.5])
    return float(low), float(high)


def summarise_whole(raw: pd.DataFrame) -> list[SpeedRatio]:
    """One ratio per network and scope from the raw timings."""
    ratios = []
    for network, rows in raw.groupby("network", sort=False):
        snacs = rows[rows["method"] == "snacs"]
        mint = rows[rows["method"] == "mint"]
        for scope, column in SCOPES.items():
            cpu_only = scope == "whole_cpu"
            if cpu_only and (rows["device"].iloc[0] != "cpu" or rows[column].isna().any()):
                continue  # CPU seconds say nothing about GPU work
            low, high = bootstrap_ratio(mint[column].to_numpy(), snacs[column].to_numpy())
            ratios.append(
                SpeedRatio(
                    network=str(network),
                    scope=scope,
                    groups=int(rows["groups"].iloc[0]),
                    snacs_s=float(snacs[column].mean()),
                    mint_s=float(mint[column].mean()),
                    ratio=float(mint[column].mean() / snacs[column].mean()),
                    ratio_low=low,
                    ratio_high=high,
                    reruns=int(min(len(snacs), len(mint))),
                    threads=int(rows["threads"].iloc[0]),
                    device=str(rows["device"].iloc[0]),
                )
            )
    return ratios


def read_whole_summary(path: str | Path) -> list[SpeedRatio]:
    """The typed records of the whole-network summary (for the report's claims panel)."""
    frame = pd.read_csv(path)
    missing = [c for c in SUMMARY_COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigError(f"{path} lacks the columns {missing}; rerun snacs speed-report")
    return [SpeedRatio(**row) for row in frame[SUMMARY_COLUMNS].to_dict("records")]
