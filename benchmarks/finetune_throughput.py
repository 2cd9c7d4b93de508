"""Fine-tuning throughput of stacked runs: images per second per member and in total.

For each CIFAR model at full width (``--quick``: tiny widths) and each stack size K,
K masked members (half of every convolution's connections pruned at random, a different
mask per member) train through the fine-tune loop itself: :func:`snacs.engine.fit` with
the mask re-applied after each step for K = 1, as single runs train today, and
:func:`snacs.engine.stack.fit_stack` for K > 1. Batches come through the device data path
(:class:`snacs.data.device_data.DeviceBatches`: images held on the device, cropped and
flipped there). The timed epoch is the second: the first pays cuDNN autotuning and memory
allocation. Epoch times exclude checkpoint writing (the loop times an epoch before it
writes); they include one evaluation batch. Every JSON row names its ``k``.

    python benchmarks/finetune_throughput.py --json throughput.json     # a GPU: minutes
    python benchmarks/finetune_throughput.py --quick --json quick.json  # CPU: seconds
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from snacs.data.device_data import DeviceBatches, ImageAugment
from snacs.engine import Recipe, fit, seed_everything
from snacs.engine.stack import StackMember, fit_stack
from snacs.models import build_model
from snacs.pruning.counting import count_macs
from snacs.pruning.masking import MaskEnforcer
from snacs.report.tables import markdown_table

MODELS = {
    "vgg16": ("vgg16_cifar", {}),
    "resnet56": ("resnet56_cifar", {}),
    "mobilenetv2": ("mobilenetv2_cifar", {}),
}
QUICK_MODELS = {
    "vgg16": ("vgg16_cifar", {"width_mult": 0.125}),
    "resnet56": ("resnet_cifar", {"depth": 8, "width_mult": 0.25}),
}
STACK_SIZES = (1, 2, 4, 8, 16)
QUICK_STACK_SIZES = (1, 2)
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def random_masks(model: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Half of every convolution's connections, drawn per member."""
    generator = torch.Generator().manual_seed(seed)
    return {
        f"{name}.weight": torch.rand(module.weight.shape, generator=generator) < 0.5
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Conv2d)
    }


def measure(arch: str, knobs: dict, k: int, device: torch.device, batch: int, batches: int) -> dict:
    """Seconds of the second epoch of ``k`` stacked members over ``batches`` batches."""
    seed_everything(0)  # as training steps do: seeds, and cuDNN autotuning on
    generator = torch.Generator().manual_seed(0)
    count = batch * batches
    images = torch.randint(0, 256, (count, 3, 32, 32), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (count,), generator=generator)
    normal = {"mean": CIFAR_MEAN, "std": CIFAR_STD, "device": device}
    train = DeviceBatches(
        images, labels, batch, shuffle=True, augment=ImageAugment(4, True), **normal
    )
    one_eval_batch = [next(iter(DeviceBatches(images, labels, batch, shuffle=False, **normal)))]
    recipe = Recipe(epochs=2, batch_size=batch, lr=0.01, schedule="constant")
    models = [build_model(arch, 10, **knobs) for _ in range(k)]
    masks = [random_masks(model, seed) for seed, model in enumerate(models)]
    with tempfile.TemporaryDirectory() as out:
        if k == 1:
            after_step = MaskEnforcer(models[0], masks[0])
            after_step()
            result = fit(
                models[0], train, one_eval_batch, recipe, out, device=device,
                after_step=after_step, progress=False,
            )  # fmt: skip
            history = result.history
        else:
            members = [
                StackMember(model, Path(out) / f"m{index}", masks=member_masks)
                for index, (model, member_masks) in enumerate(zip(models, masks, strict=True))
            ]
            for member in members:
                MaskEnforcer(member.model, member.masks)()
            results = fit_stack(members, train, one_eval_batch, recipe, device=device)
            history = results[0].history
    seconds = history[-1]["seconds"]
    per_member = count / seconds
    return {
        "arch": arch,
        "knobs": knobs,
        "k": k,
        "batch": batch,
        "images": count,
        "seconds": seconds,
        "images_per_second_per_member": per_member,
        "images_per_second_total": per_member * k,
    }


def run(
    models: dict[str, tuple[str, dict]],
    stack_sizes: tuple[int, ...],
    device: torch.device,
    batch: int,
    batches: int,
) -> list[dict]:
    """One row per model and stack size; ``macs`` (per image, batch 1) on every row."""
    rows = []
    for name, (arch, knobs) in models.items():
        macs = count_macs(build_model(arch, 10, **knobs), (3, 32, 32))
        for k in stack_sizes:
            row = {"model": name, "macs": macs, **measure(arch, knobs, k, device, batch, batches)}
            rows.append(row)
            print(
                f"{name} K={k}: {row['images_per_second_per_member']:.0f} img/s per member, "
                f"{row['images_per_second_total']:.0f} in total",
                flush=True,
            )
    return rows


def table(rows: list[dict]) -> str:
    header = ["model", "K", "epoch s", "img/s per member", "img/s total", "epoch / floor"]
    body = [
        [
            row["model"],
            str(row["k"]),
            f"{row['seconds']:.2f}",
            f"{row['images_per_second_per_member']:.0f}",
            f"{row['images_per_second_total']:.0f}",
            f"{row['ratio_to_floor']:.1f}x" if "ratio_to_floor" in row else "n/a",
        ]
        for row in rows
    ]
    return markdown_table(header, body)


def add_floors(rows: list[dict], peak: float | None) -> None:
    """Compute floor of each row: 6 FLOPs per MAC and image (forward, backward twice)."""
    if not peak:
        return
    for row in rows:
        row["compute_floor_seconds"] = 6 * row["macs"] * row["images"] * row["k"] / peak
        row["ratio_to_floor"] = row["seconds"] / row["compute_floor_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the rows here")
    parser.add_argument("--quick", action="store_true", help="tiny widths, K = 1 and 2")
    parser.add_argument("--device", default="auto", help="auto, cuda, cuda:N or cpu")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--batches", type=int, default=40, help="batches per epoch")
    parser.add_argument("--ks", type=int, nargs="+", help=f"stack sizes (default {STACK_SIZES})")
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), help="default: all")
    parser.add_argument("--threads", type=int, help="torch threads (CPU)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.batch, args.batches = 8, 2
    models = QUICK_MODELS if args.quick else MODELS
    if args.models:
        models = {name: models[name] for name in args.models if name in models}
    ks = tuple(args.ks or (QUICK_STACK_SIZES if args.quick else STACK_SIZES))
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    started = time.perf_counter()
    rows = run(models, ks, device, args.batch, args.batches)
    report = {
        "device": name,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "quick": args.quick,
        "rows": rows,
        "wall_seconds": time.perf_counter() - started,
    }
    print(f"{name}, torch {torch.__version__}, batch {args.batch}, {args.batches} batches/epoch")
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
