"""Step ``oneshot``: every plan of a benchmark right after pruning, in one process.

One-shot accuracy is the dense weights under a plan's masks, with BatchNorm statistics
re-estimated on training batches first (stale dense statistics would put every pruned
BatchNorm network at chance), and no fine-tuning. It is the cheapest test of a pruning
criterion, and the one where a benchmark has many plans: every pruner, budget, seed and
control. Loading the data, the dense model and the batches dominates one such evaluation,
so this step does it once per benchmark: the test batches and the re-estimation batches
are read once and kept in memory, and each plan only masks, re-estimates and evaluates.

The re-estimation batches are drawn with ``evaluation.bn_recalibration_seed``, not with
a run's seed: every plan, every control and the dense model see the same batches, so their
accuracies differ by the masks alone and a rerun gives the same numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import torch
from torch import nn

from snacs.data import DatasetBundle
from snacs.engine import evaluate, recalibrate_batchnorm, seed_rngs
from snacs.errors import SnacsError
from snacs.layout import Written
from snacs.pipeline.batches import eval_batches, train_batches
from snacs.pipeline.provenance import provenance
from snacs.pruning.benchmark import Spec, load_bundle, load_model
from snacs.pruning.masking import apply_masks
from snacs.pruning.plan import PruningPlan
from snacs.pruning.records import OneShotAccuracy, OneShotRecords, PruneRecord, run_name

#: batches larger than this (all of them together) are read again on every pass instead of
#: held: a CIFAR-10 test set is 123 MB, an ImageNet validation set 30 GB
HOLD_BYTES = 4 * 2**30


class ReplayedBatches:
    """The first ``count`` batches of a source, read once and replayed from memory.

    ``make`` builds the source anew (seeded, so every build yields the same batches). A
    source larger than ``hold_bytes`` is not held: each pass builds and reads it again,
    which gives the same batches at the cost the one-shot step otherwise saves.
    """

    def __init__(
        self, make: Callable[[], Iterable], count: int | None, hold_bytes: int = HOLD_BYTES
    ):
        self._make = make
        self._count = count
        self._held = self._read(hold_bytes)

    def _read(self, hold_bytes: int) -> list | None:
        held, size = [], 0
        for batch in islice(self._make(), self._count):
            size += sum(t.numel() * t.element_size() for t in batch)
            if size > hold_bytes:
                return None
            held.append(batch)
        return held

    @property
    def held(self) -> bool:
        return self._held is not None

    def __iter__(self) -> Iterator:
        if self._held is not None:
            return iter(self._held)
        return islice(self._make(), self._count)


@dataclass(frozen=True)
class OneShotBatches:
    """What every one-shot evaluation of a benchmark reads: the same batches for all."""

    calibration: ReplayedBatches
    test: ReplayedBatches
    #: batches BatchNorm statistics are averaged over (``evaluation.bn_recalibration_batches``)
    count: int
    seed: int


def one_shot_batches(spec: Spec, bundle: DatasetBundle, device: torch.device) -> OneShotBatches:
    """The benchmark's re-estimation batches (seeded by the evaluation config) and test set."""
    evaluation = spec["evaluation"]
    size, seed = evaluation["batch_size"], evaluation["bn_recalibration_seed"]
    count = evaluation["bn_recalibration_batches"]

    def training() -> Iterable:
        # Loader augmentations without workers draw from the global generators.
        seed_rngs(seed)
        return train_batches(spec, bundle, size, seed, device)

    return OneShotBatches(
        calibration=ReplayedBatches(training, count),
        test=ReplayedBatches(lambda: eval_batches(spec, bundle, size, device), None),
        count=count,
        seed=seed,
    )


def one_shot_accuracy(
    model: nn.Module,
    dense_state: Mapping[str, torch.Tensor],
    masks: Mapping[str, torch.Tensor] | None,
    batches: OneShotBatches,
    topk: Sequence[int],
    device: torch.device,
) -> tuple[dict, int]:
    """(accuracy, batches used): ``model`` reset to ``dense_state``, masked, re-estimated.

    ``masks=None`` measures the dense model under the same re-estimation. The model is
    reset first, so the plans evaluated before leave nothing behind.
    """
    model.load_state_dict(dense_state)
    if masks is not None:
        apply_masks(model, masks)
    used = recalibrate_batchnorm(model, batches.calibration, batches.count, device)
    return evaluate(model, batches.test, device, ks=topk), used


class OneShotEvaluator:
    """The benchmark's data, dense model and batches, loaded once; then one plan per call.

    Built once by the ``oneshot`` step for every run of a benchmark, and by a control's
    job for its one plan (chosen in that same job): both read the same seeded batches, so
    a control's one-shot accuracy is the one the step would have measured.
    """

    def __init__(self, spec: Spec, dense_checkpoint: str | Path, device: torch.device):
        start = time.perf_counter()
        self.spec, self.device = spec, device
        bundle = load_bundle(spec)
        self.model = load_model(spec, bundle.num_classes, dense_checkpoint).to(device)
        self.dense_state = {n: t.detach().clone() for n, t in self.model.state_dict().items()}
        self.batches = one_shot_batches(spec, bundle, device)
        self.setup_seconds = time.perf_counter() - start
        held = "held in memory" if self.batches.test.held else "too large to hold: read each time"
        print(
            f"data, dense model and batches loaded in {self.setup_seconds:.1f} s (test set {held})"
        )

    def measure(self, prune: PruneRecord | None, plan: PruningPlan | None) -> OneShotAccuracy:
        """One-shot accuracy of ``plan`` (``None``: the dense model) of run ``prune``."""
        if prune is not None and prune.benchmark != self.spec["name"]:
            raise SnacsError(
                f"{run_name(prune)} is a run of benchmark {prune.benchmark!r}, "
                f"not of {self.spec['name']!r}"
            )
        began = time.perf_counter()
        masks = None
        if plan is not None:
            plan.check_against(self.model)
            masks = plan.masks
        topk = self.spec["evaluation"]["topk"]
        accuracy, self.batches_used = one_shot_accuracy(
            self.model, self.dense_state, masks, self.batches, topk, self.device
        )
        result = OneShotAccuracy(
            method=prune.method if prune else "",
            target=prune.target.label if prune else "",
            seed=prune.seed if prune else None,
            control=prune.control if prune else "",
            control_seed=prune.control_seed if prune else None,
            top1=accuracy["top1"],
            top5=accuracy.get("top5"),
            seconds=time.perf_counter() - began,
        )
        name = run_name(prune) if prune else "dense model"
        print(f"{name}: one-shot top-1 {result.top1:.2f} % ({result.seconds:.2f} s)")
        return result


@dataclass(frozen=True)
class OneShotJob:
    """One plan to evaluate, and the prune record naming its run."""

    plan: str | Path
    prune_record: str | Path


def run_one_shot(
    spec: Spec,
    dense_checkpoint: str | Path,
    jobs: Sequence[OneShotJob],
    out: Written[str | Path],
    device: torch.device,
) -> OneShotRecords:
    """Evaluate every plan of ``jobs`` and the dense model one-shot; write the records."""
    evaluator = OneShotEvaluator(spec, dense_checkpoint, device)
    dense = evaluator.measure(None, None)
    plans = []
    for job in jobs:
        try:
            prune = PruneRecord.load(job.prune_record)
            plans.append(evaluator.measure(prune, PruningPlan.load(job.plan)))
        except SnacsError as error:
            raise SnacsError(f"{job.prune_record}: {error}") from None
    record = OneShotRecords(
        benchmark=spec["name"],
        bn_recalibration_batches=evaluator.batches_used,
        bn_recalibration_seed=evaluator.batches.seed,
        dense=dense,
        plans=plans,
        setup_seconds=evaluator.setup_seconds,
        provenance=provenance(device),
    )
    record.save(out)
    return record
