"""Whole-network scoring time of SNACS and MINT: the table a user's runtime depends on.

Times each pruner's whole scoring step on freshly initialised networks fed the project's
synthetic CIFAR-format images (class-structured, rendered in memory): SNACS = ACMI +
operating constraints + sensitivity, MINT = its geometric CMI estimator (its limits are a
fixed option). Same activations, same torch threads, reruns interleaved; the code is the
workflow's speed study (``snacs.studies.whole_speed``).

    python benchmarks/whole_scoring.py                  # paper setting: full-width VGG16 at
                                                        # 64 groups and ResNet56 one filter
                                                        # per group, 200 samples per class
    python benchmarks/whole_scoring.py --json whole.json --reruns 2
    python benchmarks/whole_scoring.py --quick          # seconds: narrow nets, few samples

Timings depend on the machine and on other load; run it on an otherwise idle machine.
"""

import argparse
import dataclasses
import json
import platform

import torch
from torch.utils.data import TensorDataset

from snacs.data.synthetic import make_synthetic_arrays
from snacs.report.speed import whole_cells, whole_setup_summary
from snacs.studies.whole_speed import (
    WholeSettings,
    prepare_context,
    run_whole_study,
    summarise_whole,
)
from snacs.tabular import markdown_table

CLASSES = 10
QUICK = {"width_mult": 0.125, "samples_per_class": 10, "reruns": 2, "groups": 4}


def synthetic_subset(per_class: int, seed: int) -> TensorDataset:
    """Class-structured 3x32x32 images, standardised, ``per_class`` of each class."""
    images, labels = make_synthetic_arrays(
        seed=seed, num_classes=CLASSES, per_class=per_class, image_size=32, difficulty=0.6, split=0
    )
    tensor = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    tensor = (tensor - tensor.mean(dim=(0, 2, 3), keepdim=True)) / tensor.std(
        dim=(0, 2, 3), keepdim=True
    )
    return TensorDataset(tensor, torch.from_numpy(labels).long())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", nargs="+", default=["vgg16", "resnet56"])
    parser.add_argument("--samples-per-class", type=int, default=200)
    parser.add_argument("--groups", type=int, help="groups for every network (default 64)")
    parser.add_argument("--reruns", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny setting, for tests")
    parser.add_argument("--json", help="write {network: {snacs_s, mint_s, ratio, ...}} here")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    values = {
        "enabled": True,
        "networks": tuple(args.networks),
        "samples_per_class": args.samples_per_class,
        "reruns": args.reruns,
        "seed": args.seed,
    }
    groups = args.groups
    if args.quick:
        values.update({k: v for k, v in QUICK.items() if k != "groups"})
        groups = groups or QUICK["groups"]
    if groups:
        values["groups"] = dict.fromkeys(args.networks, groups)
    settings = WholeSettings(**values)
    device = torch.device(args.device)
    subset = synthetic_subset(settings.samples_per_class, args.seed)
    contexts = {
        name: prepare_context(
            settings.network(name), subset, CLASSES, device, args.seed, not args.no_progress
        )
        for name in settings.networks
    }
    raw = run_whole_study(contexts, settings, not args.no_progress)
    ratios = summarise_whole(raw)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}")
    print(whole_setup_summary(raw))
    print(markdown_table(*whole_cells(raw, ratios)))
    if args.json:
        result = {}
        for name, rows in raw.groupby("network", sort=False):
            snacs = rows[rows["method"] == "snacs"]
            by_scope = {r.scope: r for r in ratios if r.network == name}
            whole, step = by_scope["whole"], by_scope["step"]
            cpu = by_scope.get("whole_cpu")
            result[name] = {
                "snacs_s": whole.snacs_s,
                "mint_s": whole.mint_s,
                "ratio": whole.ratio,
                "ratio_interval": [whole.ratio_low, whole.ratio_high],
                "snacs_parts_s": {
                    part: float(snacs[f"{part}_seconds"].mean())
                    for part in ("acmi", "constraint", "sensitivity")
                },
                "step": dataclasses.asdict(step),
                "cpu": dataclasses.asdict(cpu) if cpu else None,
                "reruns": whole.reruns,
                "threads": whole.threads,
                "device": whole.device,
            }
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
