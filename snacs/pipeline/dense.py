"""Step ``dense``: train the dense model from its recipe, or fetch pretrained weights."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from snacs.engine import Recipe, evaluate, fit, seed_everything
from snacs.engine.distributed import barrier, is_writer
from snacs.io import fingerprint, save_checkpoint
from snacs.layout import Written, training_files
from snacs.models.published import PublishedCheckpoint
from snacs.pipeline.batches import eval_batches, train_batches
from snacs.pipeline.counts import latency
from snacs.pipeline.provenance import DataOrigin, provenance
from snacs.pruning.accounting import model_counts
from snacs.pruning.benchmark import Spec, load_bundle, load_model, new_model, published_source
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.records import DenseRecord

# How far the measured top-1 of a published checkpoint may lie from its publisher's.
PUBLISHED_TOLERANCE_PP = 1.0


def run_dense(
    spec: Spec,
    train_dir: Written[str | Path],
    record_out: Written[str | Path],
    device: torch.device,
    progress: bool = True,
) -> DenseRecord:
    """Write the dense checkpoint in ``train_dir`` and its record (accuracy, counts, latency).

    Training keeps the epoch with the best test accuracy, the protocol of the paper's
    code (docs/method.md); the README says so next to the tables. A published checkpoint
    (``source: pretrained`` with a ``pretrained`` knob naming one) is evaluated instead,
    and its publisher's top-1 is recorded beside the measured one.
    """
    files = training_files(train_dir)
    bundle = load_bundle(spec)
    dense = spec["dense"]
    seed_everything(dense["seed"])
    model = new_model(spec, bundle.num_classes)
    evaluation_batch = spec["evaluation"]["batch_size"]
    test = eval_batches(spec, bundle, evaluation_batch, device)
    if dense["source"] == "train":
        recipe = Recipe.from_dict(dense["recipe"])
        fit(
            model,
            train_batches(spec, bundle, recipe.batch_size, dense["seed"], device),
            test,
            recipe,
            files.folder,
            device=device,
            seed=dense["seed"],
            # A saved state of another dataset or architecture is started over, not resumed.
            restart_stale=True,
            inputs=fingerprint(json.dumps(_trained_on(spec), sort_keys=True)),
            progress=progress,
            compile_model=spec["compile"],
        )
    elif is_writer():
        save_checkpoint(files.best, {"model": model.state_dict(), "epoch": 0})
    barrier()  # under torchrun, best.pt is complete before any rank reads it
    best = load_model(spec, bundle.num_classes, files.best).to(device)
    metrics = evaluate(best, test, device, ks=spec["evaluation"]["topk"])
    checkpoint = published_source(spec) if dense["source"] == "pretrained" else None
    if checkpoint is not None and is_writer():
        compare_with_publisher(checkpoint, metrics["top1"], len(bundle.test))
    record = DenseRecord(
        benchmark=spec["name"],
        title=spec["title"],
        source=dense["source"],
        accuracy=metrics,
        dense=model_counts(best, bundle.input_shape),
        latency_ms=latency(best, bundle.input_shape, spec, device),
        input_shape=list(bundle.input_shape),
        num_classes=bundle.num_classes,
        layers=trace_layer_graph(best).names,
        provenance=provenance(device, DataOrigin.of(bundle, spec["dataset"]["root"])),
        spec=spec,
        published_top1=checkpoint.top1 if checkpoint is not None else None,
    )
    if is_writer():
        record.save(record_out)
    return record


def compare_with_publisher(
    checkpoint: PublishedCheckpoint, top1: float, test_images: int
) -> str | None:
    """Say in one line (stderr) when the measured top-1 cannot be, or is not, the publisher's.

    Only a test split of the publisher's size is comparable; on a subset the line says
    so instead of warning. Returns the line (None when the two agree).
    """
    if test_images != checkpoint.test_images:
        message = (
            f"checkpoint {checkpoint.name}: top-1 {top1:.2f} % on {test_images:,} test images "
            f"is not comparable with the publisher's {checkpoint.top1:.2f} % on "
            f"{checkpoint.test_images:,}"
        )
        print(f"note: {message}", file=sys.stderr)
        return message
    gap = top1 - checkpoint.top1
    if abs(gap) <= PUBLISHED_TOLERANCE_PP:
        return None
    message = (
        f"checkpoint {checkpoint.name}: measured top-1 {top1:.2f} % differs from the "
        f"publisher's {checkpoint.top1:.2f} % by {gap:+.2f} pp (more than "
        f"{PUBLISHED_TOLERANCE_PP:g}); check the dataset copy and the model's normalisation"
    )
    print(f"WARNING {message}", file=sys.stderr)
    return message


def _trained_on(spec: Spec) -> list:
    """Dataset and model settings that make a dense run; where the files lie and how they
    were checked do not."""
    where = ("root", "download", "verify")
    dataset = {k: v for k, v in spec["dataset"].items() if k not in where}
    return [dataset, spec["model"]]
