"""Device check: how fast this GPU trains the paper's CIFAR models and scores whole networks.

Writes one JSON (and prints a table) with, on the current device:

* CIFAR-10 training epoch time of VGG16 and ResNet56 through the device data path
  (images held on the GPU, augmented there) and through the classic loader (PIL
  transforms in ``--workers`` processes), images per second, the compute floor
  (training FLOPs of an epoch, 2 per multiply-accumulate and the backward pass twice the
  forward, over the GPU's peak dense bfloat16 rate from ``PEAK_BF16_FLOPS``) and the
  ratio of the measured time to that floor;
* stacked fine-tuning throughput (``finetune_throughput.py``): images per second per
  member and in total for K = 1, 2, 4, 8, 16 members of VGG16, ResNet56 and MobileNetV2
  trained as one model, with the same compute floor and ratio; ``snacs cost`` reads
  this section (``--throughput``);
* ImageNet input pipeline throughput (images per second, no model): JPEG bytes decoded
  and augmented on the GPU against PIL decoding in loader workers;
* SNACS and MINT whole-network scoring time (the workflow's whole-network speed study,
  on freshly initialised networks and synthetic CIFAR-format images);
* the GPU's name, torch version and the settings used.

The timed epoch is the second one (the first pays cuDNN autotuning and worker start-up).
Images are the project's synthetic CIFAR-format and ImageFolder data written to a
temporary folder, read through the same loaders as real data.

    python benchmarks/gpu_check.py --json gpu_check.json     # one GPU, about 10 minutes
    python benchmarks/gpu_check.py --quick --json quick.json # CPU, seconds: narrow models
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import finetune_throughput
import torch
from whole_scoring import QUICK as QUICK_SCORING
from whole_scoring import synthetic_subset

from snacs.data import load_dataset, write_synthetic_cifar, write_synthetic_imagefolder
from snacs.engine import Recipe, fit, seed_everything
from snacs.models import build_model
from snacs.pipeline.batches import eval_batches, train_batches
from snacs.pruning.counting import count_macs
from snacs.report.tables import markdown_table
from snacs.studies.whole_speed import (
    WholeSettings,
    prepare_context,
    run_whole_study,
    summarise_whole,
)

# Peak dense (no sparsity) bfloat16 tensor-core FLOP/s by GPU name, from the vendors'
# data sheets; the first key contained in the device name wins, so specific names first.
PEAK_BF16_FLOPS: dict[str, float] = {
    "H200": 989e12,
    "H100 PCIe": 756e12,
    "H100": 989e12,
    "GH200": 989e12,
    "B200": 2250e12,
    "A100": 312e12,
    "L40S": 362e12,
    "L40": 181e12,
    "L4": 121e12,
    "A10": 125e12,
    "V100": 125e12,  # float16: V100 has no bfloat16 tensor cores
}
CIFAR_MODELS = {"vgg16": ("vgg16_cifar", {}), "resnet56": ("resnet56_cifar", {})}
QUICK_MODELS = {
    "vgg16": ("vgg16_cifar", {"width_mult": 0.125}),
    "resnet56": ("resnet_cifar", {"depth": 20, "width_mult": 0.25}),
}


def peak_flops(device_name: str) -> float | None:
    for key, flops in PEAK_BF16_FLOPS.items():
        if key in device_name:
            return flops
    return None


def epoch_check(arch, knobs, bundle, data_path, device, batch, workers) -> dict:
    """Seconds of the second training epoch of ``arch`` reading through ``data_path``."""
    seed_everything(0)  # as training steps do: seeds, and cuDNN autotuning on
    model = build_model(arch, bundle.num_classes, **knobs)
    spec = {"name": "gpu_check", "data_path": data_path, "workers": workers}
    train = train_batches(spec, bundle, batch, seed=0, device=device)
    one_eval_batch = [next(iter(eval_batches(spec, bundle, batch, device)))]
    recipe = Recipe(epochs=2, batch_size=batch, lr=0.05, schedule="constant")
    with tempfile.TemporaryDirectory() as out:
        result = fit(model, train, one_eval_batch, recipe, out, device=device, progress=False)
    seconds = result.history[-1]["seconds"]
    images = len(train) * batch
    return {"seconds": seconds, "images": images, "images_per_second": images / seconds}


def cifar_checks(args, device: torch.device, peak: float | None, root: Path) -> dict:
    per_class = 10 if args.quick else 5000
    write_synthetic_cifar(root, seed=0, train_per_class=per_class, test_per_class=10)
    bundle = load_dataset("cifar10", root)
    results = {}
    for name, (arch, knobs) in (QUICK_MODELS if args.quick else CIFAR_MODELS).items():
        macs = count_macs(build_model(arch, 10, **knobs), (3, 32, 32))
        entry: dict = {"arch": arch, "knobs": knobs, "macs": macs}
        for path in ("device", "loader"):
            measured = epoch_check(arch, knobs, bundle, path, device, args.batch, args.workers)
            if peak:
                floor = 6 * macs * measured["images"] / peak
                measured["compute_floor_seconds"] = floor
                measured["ratio_to_floor"] = measured["seconds"] / floor
            entry[path] = measured
            print(f"{name} {path}: {measured['seconds']:.2f} s/epoch", flush=True)
        results[name] = entry
    return results


def stacked_finetune_check(args, device: torch.device, peak: float | None) -> dict:
    """Images/s per member and in total of K stacked fine-tunes, with compute floors."""
    if args.quick:
        models, ks = finetune_throughput.QUICK_MODELS, finetune_throughput.QUICK_STACK_SIZES
    else:
        models, ks = finetune_throughput.MODELS, finetune_throughput.STACK_SIZES
    rows = finetune_throughput.run(models, ks, device, args.batch, args.stack_batches)
    finetune_throughput.add_floors(rows, peak)
    return {"device": report_name(device), "rows": rows}


def report_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def imagenet_input_check(args, device: torch.device, root: Path) -> dict:
    """Images per second of the ImageNet input path alone (decode, crop, flip, normalise)."""
    per_class, size, crop = (3, 48, 40) if args.quick else (100, 320, 224)
    write_synthetic_imagefolder(
        root, seed=0, num_classes=10, train_per_class=per_class, val_per_class=2, image_size=size
    )
    bundle = load_dataset("imagenet", root, image_size=crop)
    results = {"images": len(bundle.train), "stored_size": size, "crop": crop}
    for path in ("device", "loader"):
        spec = {"name": "gpu_check", "data_path": path, "workers": args.workers}
        batches = train_batches(spec, bundle, args.imagenet_batch, seed=0, device=device)
        for _ in batches:  # warm-up pass: worker start-up, nvJPEG handles
            pass
        _synchronise(device)
        started = time.perf_counter()
        count = 0
        for images, _ in batches:
            count += len(images)
        _synchronise(device)
        results[path] = {"images_per_second": count / (time.perf_counter() - started)}
        print(f"imagenet input {path}: {results[path]['images_per_second']:.0f} img/s")
    return results


def scoring_check(args, device: torch.device) -> dict:
    values = {"enabled": True, "reruns": 1, "samples_per_class": args.scoring_samples_per_class}
    if args.quick:
        values.update({k: v for k, v in QUICK_SCORING.items() if k != "groups"})
        values["reruns"] = 1
        values["groups"] = dict.fromkeys(("vgg16", "resnet56"), QUICK_SCORING["groups"])
    settings = WholeSettings(**values)
    subset = synthetic_subset(settings.samples_per_class, 0)
    contexts = {
        name: prepare_context(settings.network(name), subset, 10, device, 0, False)
        for name in settings.networks
    }
    raw = run_whole_study(contexts, settings, progress=False)
    return {
        ratio.network: {
            "snacs_seconds": ratio.snacs_s,
            "mint_seconds": ratio.mint_s,
            "mint_over_snacs": ratio.ratio,
        }
        for ratio in summarise_whole(raw)
        if ratio.scope == "whole"
    } | {"samples_per_class": settings.samples_per_class}


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _table(report: dict) -> str:
    rows = []
    for name, entry in report["cifar"].items():
        for path in ("device", "loader"):
            measured = entry[path]
            ratio = measured.get("ratio_to_floor")
            rows.append(
                [
                    name,
                    path,
                    f"{measured['seconds']:.2f}",
                    f"{measured['images_per_second']:.0f}",
                    f"{measured['compute_floor_seconds']:.3f}" if ratio else "n/a",
                    f"{ratio:.1f}x" if ratio else "n/a",
                ]
            )
    header = ["model", "data path", "epoch s", "images/s", "floor s", "epoch / floor"]
    return markdown_table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the report here")
    parser.add_argument("--quick", action="store_true", help="seconds on a CPU: tiny setting")
    parser.add_argument("--device", default="auto", help="auto, cuda, cuda:N or cpu")
    parser.add_argument("--batch", type=int, default=128, help="CIFAR batch size")
    parser.add_argument("--imagenet-batch", type=int, default=128)
    parser.add_argument("--workers", type=int, default=8, help="loader processes (loader path)")
    parser.add_argument("--scoring-samples-per-class", type=int, default=50)
    parser.add_argument("--skip-scoring", action="store_true")
    parser.add_argument(
        "--stack-batches", type=int, default=40, help="batches per epoch of the stacking check"
    )
    args = parser.parse_args()
    if args.quick:
        args.batch, args.imagenet_batch, args.workers, args.stack_batches = 20, 10, 0, 2
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    name = report_name(device)
    peak = peak_flops(name) if device.type == "cuda" else None
    started = time.perf_counter()
    report: dict = {
        "gpu": name,
        "device": str(device),
        "torch": torch.__version__,
        "peak_bf16_flops": peak,
        "quick": args.quick,
        "settings": {"batch": args.batch, "workers": args.workers},
    }
    with tempfile.TemporaryDirectory() as scratch:
        report["cifar"] = cifar_checks(args, device, peak, Path(scratch) / "cifar10")
        report["imagenet_input"] = imagenet_input_check(args, device, Path(scratch) / "imagenet")
    report["stacked_finetune"] = stacked_finetune_check(args, device, peak)
    if not args.skip_scoring:
        report["scoring"] = scoring_check(args, device)
    report["wall_seconds"] = time.perf_counter() - started
    print(f"{name}, torch {torch.__version__}, peak bf16 {peak or math.nan:.3g} FLOP/s")
    print(_table(report))
    print(finetune_throughput.table(report["stacked_finetune"]["rows"]))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
