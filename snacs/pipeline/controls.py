"""Step ``control``: a run's control plan (same per-layer counts, another choice).

Reads the run's ``plan.pt``, ``scores.pt`` and ``prune.json`` and writes the control's
``plan.pt`` and ``prune.json`` in the run's layout, so the control is fine-tuned and
evaluated by the same steps as the run itself. Its result row carries ``control``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from snacs.io import read_json, write_json
from snacs.pipeline.common import Spec, load_bundle, load_model
from snacs.pipeline.counts import model_counts
from snacs.pipeline.provenance import provenance
from snacs.pruning.controls import control_plan
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.plan import PruningPlan
from snacs.pruning.scores import load_scores


def run_control(
    spec: Spec,
    run_dir: str | Path,
    label: str,
    dense_checkpoint: str | Path,
    out_dir: str | Path,
    device: torch.device,
) -> dict:
    """Write control ``label`` of the run in ``run_dir`` to ``out_dir``; return its summary."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    run = read_json(run_dir / "prune.json")
    plan = PruningPlan.load(run_dir / "plan.pt")
    scores = load_scores(run_dir / "scores.pt")
    bundle = load_bundle(spec)
    model = load_model(spec, bundle.num_classes, dense_checkpoint)
    plan.check_against(model)
    control = control_plan(plan, scores, label, run["seed"], model, trace_layer_graph(model))
    control.info["target_met"] = plan.info.get("target_met")
    control.save(out_dir / "plan.pt")
    dense = run["dense"]
    masked = model_counts(model, bundle.input_shape, control.masks)
    summary = {
        **{k: run[k] for k in ("method", "pruner", "granularity", "citation", "target", "seed")},
        "control": control.info["control"],
        "control_seed": control.info["control_seed"],
        # The control's choice is not a pruner's scoring: nothing of it is timed.
        "timings": dict.fromkeys(run["timings"], 0.0),
        "activations_cached": False,
        "dense": dense,
        "masked": masked,
        "achieved": {
            "params_reduction": 1 - masked["params"] / dense["params"],
            "flops_reduction": 1 - masked["macs"] / dense["macs"],
        },
        "plan_info": control.info,
        "provenance": provenance(device),
    }
    write_json(out_dir / "prune.json", summary)
    return summary
