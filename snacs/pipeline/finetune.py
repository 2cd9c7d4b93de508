"""Steps ``finetune`` and ``reference``: retrain under a plan's fixed masks, or without any.

The ``reference`` step fine-tunes the dense model itself with the same recipe, so the
report can show what the extra epochs alone give ("dense (fine-tuned)"), apart from
what pruning costs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from snacs.data import DatasetBundle
from snacs.engine import Recipe, evaluate, fit, seed_everything
from snacs.engine.stack import StackMember, dropout_layers, fit_stack
from snacs.errors import ConfigError
from snacs.io import fingerprint, load_checkpoint
from snacs.layout import RunKey, Written, training_files
from snacs.models import build_model
from snacs.pipeline.batches import eval_batches, train_batches
from snacs.pipeline.counts import latency
from snacs.pipeline.provenance import provenance
from snacs.pruning.benchmark import Spec, load_bundle, load_model, model_options
from snacs.pruning.masking import MaskEnforcer, apply_masks
from snacs.pruning.plan import PruningPlan
from snacs.pruning.records import DenseRecord, ReferenceRecord

DENSE_REFERENCE = "dense (fine-tuned)"
"""Method name of the reference row: the dense model fine-tuned with the pruners' recipe."""


@dataclass(frozen=True)
class FinetuneMember:
    """One fine-tune of a stack: what it starts from, where it writes, its seed.

    ``plan`` ``None`` fine-tunes the dense model itself (the reference row's training).
    """

    plan: str | Path | None
    dense_checkpoint: str | Path
    out_dir: Written[str | Path]
    seed: int


def run_finetune(
    spec: Spec,
    plan_path: str | Path,
    dense_checkpoint: str | Path,
    out_dir: Written[str | Path],
    device: torch.device,
    seed: int,
    progress: bool = True,
) -> None:
    """Fine-tune with masks re-applied after every step; the best epoch is kept in ``out_dir``.

    Every method gets the same recipe from the benchmark's ``finetune`` section, which is
    what makes the accuracy columns of different pruners comparable. An interrupted run
    resumes; a saved state made from another plan, dense model or recipe is started over.
    """
    member = FinetuneMember(plan_path, dense_checkpoint, out_dir, seed)
    run_finetune_stack(spec, [member], device, progress)


def stack_chunks(spec: Spec, runs: Sequence[RunKey], size: int) -> list[list[RunKey]]:
    """How the workflow stacks a benchmark's fine-tunes: each seed's runs, sorted by their
    folder, in chunks of ``size``. Empty (every run alone) for a size of 1 or a model with
    dropout, which a stack would draw differently from single runs."""
    if size <= 1:  # the default: no model to build while the workflow is planned
        return []
    model = build_model(spec["model"]["arch"], None, **model_options(spec, for_loading=True))
    if dropout_layers(model):
        return []
    chunks = []
    for seed in sorted({run.seed for run in runs}, key=str):
        mine = sorted((run for run in runs if run.seed == seed), key=lambda run: run.folder)
        chunks += [mine[start : start + size] for start in range(0, len(mine), size)]
    return chunks


def run_finetune_stack(
    spec: Spec,
    members: Sequence[FinetuneMember],
    device: torch.device,
    progress: bool = True,
) -> None:
    """Fine-tune every member, stacked into one model when there are several.

    Each member writes the ``last.pt``, ``best.pt`` and ``log.csv`` that
    :func:`run_finetune` (or, for a plan of ``None``, the reference's fine-tune) writes for
    it alone, to float32 rounding, and resumes on its own (see :mod:`snacs.engine.stack`).
    One member is exactly today's single run. The members share the batches, so they must
    share the seed.
    """
    if not members:
        raise ConfigError(f"benchmarks.{spec['name']}: a fine-tune stack needs a member")
    seeds = sorted({member.seed for member in members})
    if len(seeds) > 1:
        raise ConfigError(
            f"benchmarks.{spec['name']}: stacked fine-tunes share one data order, so they need "
            f"one seed; got seeds {seeds}: stack each seed's runs separately"
        )
    bundle = load_bundle(spec)
    prepared = [_prepared(spec, bundle, member) for member in members]
    seed = seeds[0]
    if len(prepared) == 1:
        (stacked,) = prepared
        enforcer = MaskEnforcer(stacked.model, stacked.masks) if stacked.masks else None
        _fine_tune(spec, bundle, stacked, device, seed, progress, enforcer)
        return
    recipe = Recipe.from_dict(spec["finetune"]["recipe"])
    seed_everything(seed)
    fit_stack(
        prepared,
        train_batches(spec, bundle, recipe.batch_size, seed, device),
        eval_batches(spec, bundle, spec["evaluation"]["batch_size"], device),
        recipe,
        device=device,
        seed=seed,
        restart_stale=True,
        progress=progress,
    )


def _prepared(spec: Spec, bundle: DatasetBundle, member: FinetuneMember) -> StackMember:
    """The member's starting model (masks applied) and the fingerprint of what made it."""
    model = load_model(spec, bundle.num_classes, member.dense_checkpoint)
    if member.plan is None:
        return StackMember(model, member.out_dir, inputs=fingerprint(model.state_dict()))
    plan = PruningPlan.load(member.plan)
    plan.check_against(model)
    inputs = fingerprint(model.state_dict(), plan.masks)  # what the fine-tune starts from
    apply_masks(model, plan.masks)
    return StackMember(model, member.out_dir, inputs=inputs, masks=plan.masks)


def run_dense_reference(
    spec: Spec,
    dense_checkpoint: str | Path,
    dense_json: str | Path,
    out_dir: Written[str | Path],
    out: Written[str | Path],
    device: torch.device,
    seed: int,
    progress: bool = True,
) -> ReferenceRecord:
    """Fine-tune the unpruned dense model with the fine-tune recipe; write its record ``out``.

    The record has the run records' accuracy fields (``pruned_top1`` is the fine-tuned
    dense accuracy), so the report can put it beside the pruned runs as a reference row.
    """
    run_finetune_stack(
        spec, [FinetuneMember(None, dense_checkpoint, out_dir, seed)], device, progress
    )
    bundle = load_bundle(spec)
    best_path = training_files(out_dir).best
    best = load_model(spec, bundle.num_classes, best_path).to(device)
    evaluation = spec["evaluation"]
    accuracy = evaluate(
        best,
        eval_batches(spec, bundle, evaluation["batch_size"], device),
        device,
        ks=evaluation["topk"],
    )
    dense_record = DenseRecord.load(dense_json)
    record = ReferenceRecord(
        benchmark=dense_record.benchmark,
        title=dense_record.title,
        method=DENSE_REFERENCE,
        seed=seed,
        baseline_top1=dense_record.accuracy["top1"],
        baseline_top5=dense_record.accuracy.get("top5"),
        pruned_top1=accuracy["top1"],
        pruned_top5=accuracy.get("top5"),
        finetune_epochs=spec["finetune"]["recipe"]["epochs"],
        finetune_epoch=load_checkpoint(best_path).get("epoch"),
        dense=dense_record.dense,
        latency_ms=latency(best, bundle.input_shape, spec, device),
        provenance=provenance(device),
    )
    record.save(out)
    return record


def _fine_tune(
    spec: Spec,
    bundle: DatasetBundle,
    member: StackMember,
    device: torch.device,
    seed: int,
    progress: bool,
    after_step: Callable[[nn.Module], None] | None,
) -> None:
    """One fine-tune with the benchmark's recipe (shared by pruned runs and the reference)."""
    recipe = Recipe.from_dict(spec["finetune"]["recipe"])
    seed_everything(seed)
    member.model.to(device)
    fit(
        member.model,
        train_batches(spec, bundle, recipe.batch_size, seed, device),
        eval_batches(spec, bundle, spec["evaluation"]["batch_size"], device),
        recipe,
        member.out_dir,
        device=device,
        seed=seed,
        after_step=after_step,
        restart_stale=True,
        inputs=member.inputs,
        progress=progress,
        compile_model=spec["compile"],
    )
