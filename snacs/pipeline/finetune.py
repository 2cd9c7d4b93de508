"""Step ``finetune``: retrain the dense weights under a plan's fixed masks."""

from __future__ import annotations

from pathlib import Path

import torch

from snacs.engine import Recipe, fit, seed_everything
from snacs.io import fingerprint
from snacs.pipeline.batches import eval_batches, train_batches
from snacs.pipeline.common import Spec, load_bundle, load_model
from snacs.pruning.masking import MaskEnforcer, apply_masks
from snacs.pruning.plan import PruningPlan


def run_finetune(
    spec: Spec,
    plan_path: str | Path,
    dense_checkpoint: str | Path,
    out_dir: str | Path,
    device: torch.device,
    seed: int,
    progress: bool = True,
) -> None:
    """Fine-tune with masks re-applied after every step; ``best.pt`` keeps the best epoch.

    Every method gets the same recipe from the benchmark's ``finetune`` section, which is
    what makes the accuracy columns of different pruners comparable. An interrupted run
    resumes; a saved state made from another plan, dense model or recipe is started over.
    """
    bundle = load_bundle(spec)
    plan = PruningPlan.load(plan_path)
    model = load_model(spec, bundle.num_classes, dense_checkpoint)
    plan.check_against(model)
    inputs = fingerprint(model.state_dict(), plan.masks)  # what the fine-tune starts from
    apply_masks(model, plan.masks)
    recipe = Recipe.from_dict(spec["finetune"]["recipe"])
    seed_everything(seed)
    model.to(device)
    fit(
        model,
        train_batches(spec, bundle, recipe.batch_size, seed, device),
        eval_batches(spec, bundle, spec["evaluation"]["batch_size"], device),
        recipe,
        out_dir,
        device=device,
        seed=seed,
        after_step=MaskEnforcer(model, plan.masks),
        restart_stale=True,
        inputs=inputs,
        progress=progress,
        compile_model=spec["compile"],
    )
