"""Step ``dense``: train the dense model from its recipe, or fetch pretrained weights."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from snacs.engine import Recipe, evaluate, fit, seed_everything
from snacs.engine.distributed import barrier, is_writer
from snacs.io import fingerprint, save_checkpoint
from snacs.layout import training_files
from snacs.pipeline.batches import eval_batches, train_batches
from snacs.pipeline.common import Spec, load_bundle, load_model, new_model
from snacs.pipeline.counts import latency, model_counts
from snacs.pipeline.provenance import provenance
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.records import DenseRecord


def run_dense(
    spec: Spec,
    train_dir: str | Path,
    record_out: str | Path,
    device: torch.device,
    progress: bool = True,
) -> DenseRecord:
    """Write the dense checkpoint in ``train_dir`` and its record (accuracy, counts, latency).

    Training keeps the epoch with the best test accuracy, the protocol of the paper's
    code (docs/method.md); the README says so next to the tables.
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
        provenance=provenance(device),
        spec=spec,
    )
    if is_writer():
        record.save(record_out)
    return record


def _trained_on(spec: Spec) -> list:
    """Dataset and model settings that make a dense run; where the files lie does not."""
    dataset = {k: v for k, v in spec["dataset"].items() if k not in ("root", "download")}
    return [dataset, spec["model"]]
