"""Do the connection-plan options help? Accuracy after the same fine-tune, per plan variant.

For one benchmark of a config (default: the demo's digits MLP), the dense model is trained
once (or reused from --work), a connection pruner (default SNACS, as configured for that
method) scores once, and the same scores are planned under several option sets at the same
target; each plan is fine-tuned with the benchmark's recipe and evaluated. Printed per
variant: top-1 before and after fine-tuning, the FLOPs reduction reached, and how many child
rows (filters, output classes) lost every incoming connection. Random controls at each
plan's own per-layer counts show what the ranking is worth there.

    python benchmarks/connection_plans.py --config config/demo.yaml --benchmark digits_mlp
    python benchmarks/connection_plans.py --benchmark synth_resnet --work /tmp/plans_resnet \\
        --json resnet.json

Numbers move with the machine's load only in time, not in accuracy (all seeded).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from snacs.config import pruner_options, step_spec
from snacs.config_file import load_config
from snacs.engine import evaluate, resolve_device
from snacs.layout import training_files
from snacs.pipeline.batches import eval_batches
from snacs.pipeline.data import prepare_dataset
from snacs.pipeline.dense import run_dense
from snacs.pipeline.finetune import run_finetune
from snacs.pipeline.prune import _context
from snacs.pruning.benchmark import load_bundle, load_model
from snacs.pruning.controls import control_plan
from snacs.pruning.masking import apply_masks
from snacs.pruning.pruner import build_pruner, load_pruner_modules
from snacs.pruning.target import Target

PUBLISHED = {"keep_connected": False, "normalise": "none", "cost_aware": False}
GUARD = {**PUBLISHED, "keep_connected": True}
VARIANTS = {
    "published (no guard)": PUBLISHED,
    "guard": GUARD,
    "guard + mean": {**GUARD, "normalise": "mean"},
    "guard + rank": {**GUARD, "normalise": "rank"},
    "guard + cost-aware": {**GUARD, "cost_aware": True},
    "guard + rank + cost-aware": {**GUARD, "normalise": "rank", "cost_aware": True},
}


def disconnected_rows(masks: dict[str, torch.Tensor]) -> int:
    return sum(int((~m.reshape(m.shape[0], -1).any(dim=1)).sum()) for m in masks.values())


def accuracy(spec, masks, checkpoint, device) -> float:
    bundle = load_bundle(spec)
    model = load_model(spec, bundle.num_classes, checkpoint)
    apply_masks(model, masks)
    test = eval_batches(spec, bundle, spec["evaluation"]["batch_size"], device)
    return evaluate(model.to(device), test, device)["top1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/demo.yaml")
    parser.add_argument("--benchmark", default="digits_mlp")
    parser.add_argument("--method", default="snacs", help="configured connection method")
    parser.add_argument("--target", default="flops50-layerwise")
    parser.add_argument("--work", default="/tmp/connection_plans", help="scratch folder")
    parser.add_argument("--controls", type=int, default=2, help="random controls per plan")
    parser.add_argument("--estimator", type=json.loads, help="override estimator options")
    parser.add_argument(
        "--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS), metavar="NAME"
    )
    parser.add_argument("--json", help="write the table as JSON here")
    args = parser.parse_args()

    config = load_config(args.config)
    device = resolve_device("auto")
    work = Path(args.work) / args.benchmark
    dense_spec = step_spec(config, args.benchmark, "dense")
    prepare_dataset(dense_spec)
    dense = training_files(work / "dense").best
    if not dense.is_file():
        run_dense(dense_spec, dense.parent, work / "dense.json", device, progress=False)
    spec = step_spec(config, args.benchmark, "prune", args.method)
    finetune_spec = step_spec(config, args.benchmark, "finetune")
    load_pruner_modules()
    options = pruner_options(config, args.method)
    if args.estimator is not None:
        options["estimator"] = args.estimator
    ctx = _context(spec, dense, device, 0, None, False)
    base = build_pruner(spec["pruner"], options)
    scores = base.score(ctx)
    target = Target.parse(args.target)
    rows = []
    for name in args.variants:
        changes = VARIANTS[name]
        pruner = build_pruner(spec["pruner"], {**options, **changes})
        plan = pruner.plan(scores, target, ctx)
        plans = {name: plan}
        for seed in range(args.controls):
            plans[f"{name} [random {seed}]"] = control_plan(
                plan, scores, f"random{seed}", 0, ctx.model, ctx.graph
            )
        for label, chosen in plans.items():
            folder = work / "variants" / label.replace(" ", "_").replace("[", "").replace("]", "")
            chosen.save(folder / "plan.pt")
            run_finetune(finetune_spec, folder / "plan.pt", dense, folder, device, 0, False)
            rows.append(
                {
                    "variant": label,
                    "flops_reduction_pct": 100 * ctx.cost.reduction(chosen.masks, "flops"),
                    "disconnected_rows": disconnected_rows(chosen.masks),
                    "top1_no_finetune": accuracy(finetune_spec, chosen.masks, dense, device),
                    "top1_finetuned": accuracy(
                        finetune_spec, chosen.masks, training_files(folder).best, device
                    ),
                    "layer_pruned_groups": chosen.info.get("layer_pruned_groups"),
                }
            )
            print(
                f"{label:<40} FLOPs -{rows[-1]['flops_reduction_pct']:5.1f} %  "
                f"cut rows {rows[-1]['disconnected_rows']:3d}  "
                f"top-1 {rows[-1]['top1_no_finetune']:6.2f} -> {rows[-1]['top1_finetuned']:6.2f}",
                flush=True,
            )
    if args.json:
        setup = {"config": args.config, "benchmark": args.benchmark, "options": options}
        Path(args.json).write_text(json.dumps({"setup": setup, "rows": rows}, indent=2))


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
