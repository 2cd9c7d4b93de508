"""Typed records the workflow's steps write and later steps (and the report) read.

Each step writes one record as JSON: ``dense`` a :class:`DenseRecord`, ``prune`` a
:class:`PruneRecord`, ``oneshot`` a :class:`OneShotRecords` (every plan of a benchmark
right after pruning), ``evaluate`` a :class:`RunRecord`, ``reference`` (the dense model
fine-tuned with the pruners' recipe) a :class:`ReferenceRecord`. A record carries everything a
later step needs (benchmark, layer order, achieved counts, timings, target met), so no
reader re-traces a model, reopens a checkpoint or parses a result path to learn them.
Loading checks the fields: a record written by an older version of the harness is
refused with the file and the missing field named, instead of failing later on a key.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Self

from snacs.errors import SnacsError
from snacs.io import read_json, write_json
from snacs.pruning.target import Count, Resource, Scope, Target


class RecordError(SnacsError):
    """A record file lacks a field its reader needs (written by another version)."""


class Record:
    """JSON save/load shared by the records; subclasses are dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def save(self, path: str | os.PathLike) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "record") -> Self:
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        required = {
            f.name
            for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        missing = sorted(required - set(data))
        if missing:
            raise RecordError(
                f"{source} lacks {', '.join(missing)}: it was written by another version of "
                "snacs; delete it and rerun the step that writes it"
            )
        known = {f.name for f in fields}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def load(cls, path: str | os.PathLike) -> Self:
        return cls.from_dict(read_json(path), source=str(path))


@dataclass
class DenseRecord(Record):
    """The dense model of one benchmark: accuracy, counts, latency and its layer order."""

    benchmark: str
    title: str
    source: str
    accuracy: dict[str, float]
    dense: dict[str, int]
    latency_ms: dict[str, Any]
    input_shape: list[int]
    num_classes: int
    #: conv/linear layers in traced forward order, the order of per-layer figures
    layers: list[str]
    provenance: dict[str, Any]
    spec: dict[str, Any]
    #: the publisher's top-1 (%) of a published checkpoint, beside the measured ``accuracy``
    published_top1: float | None = None


@dataclass(frozen=True)
class TargetRecord(Record):
    """A run's target: ``label`` as the config names it, and the budget it resolved to.

    The label differs from the resolved target's own for matched budgets
    (``match-params-global-of-share60-global``), so results group under the config's name.
    """

    label: str
    fraction: float
    resource: Resource
    scope: Scope
    count: Count

    @classmethod
    def of(cls, target: Target, label: str | None = None) -> TargetRecord:
        return cls(
            label or target.label, target.fraction, target.resource, target.scope, target.count
        )


@dataclass(frozen=True)
class Reductions(Record):
    """Fractions of the dense model's parameters and FLOPs a plan removes.

    ``params`` and ``flops`` are the masked count (pruned weights and the weights they
    leave dead), ``slim_params`` and ``slim_flops`` what physically removing dead
    channels saves.
    """

    params: float
    flops: float
    slim_params: float
    slim_flops: float

    @classmethod
    def between(
        cls, dense: dict[str, int], masked: dict[str, int], slim: dict[str, int]
    ) -> Reductions:
        """The reductions from the dense to the masked and the slim counts (params, macs)."""
        return cls(
            params=1 - masked["params"] / dense["params"],
            flops=1 - masked["macs"] / dense["macs"],
            slim_params=1 - slim["params"] / dense["params"],
            slim_flops=1 - slim["macs"] / dense["macs"],
        )

    def of(self, resource: Resource, count: Count) -> float:
        """The reduction a target in ``resource`` on ``count`` is judged on.

        A ``share`` target sets a connection pruner's global threshold rather than a
        budget; what it achieves is read, like the paper's, on FLOPs.
        """
        if resource == "params":
            return self.slim_params if count == "slim" else self.params
        return self.slim_flops if count == "slim" else self.flops


@dataclass
class PruneRecord(Record):
    """One pruner run (benchmark, method, target, seed): counts, timings, per-layer shares."""

    benchmark: str
    method: str
    pruner: str
    granularity: str
    citation: str
    target: TargetRecord
    seed: int
    timings: dict[str, float]
    activations_cached: bool
    dense: dict[str, int]
    masked: dict[str, int]
    slim: dict[str, int]
    #: achieved reductions, the numbers ``target_met`` was judged on
    achieved: Reductions
    #: pruned share (%) of each conv/linear weight, keyed by layer name
    layer_pruned_pct: dict[str, float]
    plan_info: dict[str, Any]
    provenance: dict[str, Any]
    #: the parts a pruner timed inside its scoring (e.g. SNACS's ACMI), seconds
    score_timings: dict[str, float] = field(default_factory=dict)
    #: whether the achieved budget landed within ``target_tolerance`` of the target
    target_met: bool | None = None
    #: why it did not, in words ("" when it did)
    target_miss_reason: str = ""
    target_tolerance: float | None = None
    #: a control of the run (random, magnitude, inverted: same per-layer counts, another
    #: choice), "" for the pruner's own run; ``control_seed`` numbers random controls
    control: str = ""
    control_seed: int | None = None
    #: target labels of the runs planned from this run's one scoring, its own included
    #: (one label when scored alone; empty for a control, which scores nothing): their
    #: activation, loading and scoring seconds are one measurement, copied, not reruns
    scored_with: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "record") -> Self:
        record = super().from_dict(data, source)
        record.target = TargetRecord.from_dict(data["target"], f"{source} (target)")
        record.achieved = Reductions.from_dict(data["achieved"], f"{source} (achieved)")
        return record


def run_name(prune: PruneRecord) -> str:
    """A run in words, e.g. ``snacs flops50-layerwise seed 0 [random control 1]``."""
    name = f"{prune.method} {prune.target.label} seed {prune.seed}"
    if not prune.control:
        return name
    number = "" if prune.control_seed is None else f" {prune.control_seed}"
    return f"{name} [{prune.control} control{number}]"


@dataclass
class RunRecord(Record):
    """One fine-tuned, evaluated run: the row every result table is built from."""

    benchmark: str
    title: str
    method: str
    granularity: str
    target: str
    seed: int
    baseline_top1: float
    baseline_top5: float | None
    pruned_top1: float
    pruned_top5: float | None
    slim_top1: float
    #: one-shot: the dense weights under the masks, BatchNorm statistics re-estimated,
    #: no fine-tuning (copied from the benchmark's one-shot records)
    one_shot_top1: float
    one_shot_top5: float | None
    #: the dense model under the same BatchNorm re-estimation: one-shot's reference
    one_shot_baseline_top1: float
    bn_recalibration_batches: int
    dense: dict[str, int]
    masked: dict[str, int]
    slim: dict[str, int]
    params_reduction_pct: float
    flops_reduction_pct: float
    slim_params_reduction_pct: float
    slim_flops_reduction_pct: float
    channels_removed: dict[str, Any]
    timings: dict[str, float]
    latency_ms: dict[str, Any]
    #: where the slimmed model was exported and how closely the export matches it (None
    #: for controls: a control is a yardstick, not a model anyone deploys)
    slim_export: dict[str, Any] | None
    finetune_epoch: int | None
    provenance: dict[str, Any]
    #: copied from the run's prune record: met, why not, within what, on which count
    target_met: bool | None = None
    target_miss_reason: str = ""
    target_tolerance: float | None = None
    target_count: str = "masked"
    #: copied from the prune record: "" for the pruner's own run, else the control's kind
    control: str = ""
    control_seed: int | None = None


@dataclass
class ReferenceRecord(Record):
    """The dense model fine-tuned with the pruners' recipe: the "dense (fine-tuned)" row.

    Accuracy fields are named like a run's (``pruned_top1`` is the fine-tuned dense
    accuracy), so the report puts it beside the pruned runs.
    """

    benchmark: str
    title: str
    method: str
    seed: int
    baseline_top1: float
    baseline_top5: float | None
    pruned_top1: float
    pruned_top5: float | None
    finetune_epochs: int
    finetune_epoch: int | None
    dense: dict[str, int]
    latency_ms: dict[str, Any]
    provenance: dict[str, Any]


@dataclass
class OneShotAccuracy(Record):
    """Top-1 (and top-5) of one plan right after pruning: no fine-tuning, BatchNorm re-estimated.

    ``method`` is empty for the dense model, measured under the same re-estimation so that
    a plan's one-shot accuracy is read against it rather than against the dense record.
    """

    method: str
    target: str
    seed: int | None
    control: str
    control_seed: int | None
    top1: float
    top5: float | None
    #: this plan's masking, re-estimation and evaluation, without the shared loading
    seconds: float

    def matches(self, prune: PruneRecord) -> bool:
        """Whether this is the one-shot accuracy of ``prune``'s plan."""
        return (self.method, self.target, self.seed, self.control, self.control_seed) == (
            prune.method,
            prune.target.label,
            prune.seed,
            prune.control,
            prune.control_seed,
        )


@dataclass
class OneShotRecords(Record):
    """Every plan of one benchmark evaluated one-shot in one process, and the dense model.

    All of them were re-estimated on the same training batches (drawn with
    ``bn_recalibration_seed``), so their accuracies differ by the masks alone.
    """

    benchmark: str
    bn_recalibration_batches: int
    bn_recalibration_seed: int
    dense: OneShotAccuracy
    plans: list[OneShotAccuracy]
    #: data and dense-model loading, and caching the batches, once for every plan
    setup_seconds: float
    provenance: dict[str, Any]

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "record") -> Self:
        record = super().from_dict(data, source)
        record.dense = OneShotAccuracy.from_dict(data["dense"], f"{source} (dense)")
        record.plans = [
            OneShotAccuracy.from_dict(plan, f"{source} (plan {i})")
            for i, plan in enumerate(data["plans"])
        ]
        return record

    def of(self, prune: PruneRecord, source: str = "one-shot records") -> OneShotAccuracy:
        """The one-shot accuracy of ``prune``'s plan; an error naming the run when absent."""
        found = [plan for plan in self.plans if plan.matches(prune)]
        if len(found) != 1:
            raise RecordError(
                f"{source} holds {len(found)} one-shot results for {run_name(prune)}, "
                "expected one: "
                "rerun the oneshot step of this benchmark"
            )
        return found[0]
