"""Wall time of the ACMI base matrix: EDGE CMI of every child group vs every parent group.

Reproduces the setting of the paper's runtime study (docs/method.md): one 512 -> 512 layer
pair (VGG16 conv9), N = 2000 samples, equal numbers of parent and child groups, CMI
computation only. The activations are synthetic but carry real dependence:
child = relu(parent @ W + noise) with parent coordinates correlated through a few
shared factors. Then every scored pair of a VGG16-like net at 64 groups is timed.

    python benchmarks/acmi_speed.py                  # 2 workers (2 cores), all sizes
    python benchmarks/acmi_speed.py --groups 64 --skip-vgg --workers 1

Timings depend on the machine and on other load; the script prints both.
"""

import argparse
import os
import platform
import time

import numpy as np
import torch

from snacs.estimators.edge import EdgeOptions, edge_cmi_matrix

# ACMI (phi = 1) seconds per layer pair reported by the paper's code (docs/method.md).
PAPER_ACMI_SECONDS = {16: 45.56, 32: 205.25, 64: 839.93, 128: 2439.35, 256: 9999.00}

# Scored (parent width, child width, number of classes if the child is the classifier)
# pairs of VGG16-BN for CIFAR-10 (docs/method.md): conv1->conv2 ... conv12->conv13,
# conv13->linear1, linear1->linear3.
VGG16_CONV_WIDTHS = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
VGG16_PAIRS = [
    *[
        (f"conv{i + 1}->conv{i + 2}", VGG16_CONV_WIDTHS[i], VGG16_CONV_WIDTHS[i + 1], None)
        for i in range(12)
    ],
    ("conv13->linear1", 512, 512, None),
    ("linear1->linear3", 512, 10, 10),
]


def synthetic_layer_pair(
    n_samples: int, parent_width: int, child_width: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(parent [N, P], child [N, C]) activations with dependence between and within layers."""
    rng = np.random.default_rng(seed)
    factors = rng.standard_normal((n_samples, 8))
    parent = rng.standard_normal((n_samples, parent_width)) + factors @ rng.standard_normal(
        (8, parent_width)
    ) / np.sqrt(8)
    weights = rng.standard_normal((parent_width, child_width)) / np.sqrt(parent_width)
    child = np.maximum(parent @ weights + 0.5 * rng.standard_normal((n_samples, child_width)), 0)
    return parent, child


def group_ids(width: int, groups: int) -> np.ndarray:
    """Contiguous equal-size groups (docs/method.md): filter f belongs to group f * G // width."""
    return np.arange(width) * groups // width


def time_matrix(
    parent: np.ndarray,
    child: np.ndarray,
    parent_groups: int,
    child_groups: int,
    options: EdgeOptions,
    device: str,
    workers: int,
) -> float:
    start = time.perf_counter()
    edge_cmi_matrix(
        child,
        group_ids(child.shape[1], child_groups),
        parent,
        group_ids(parent.shape[1], parent_groups),
        options,
        device=device,
        workers=workers,
    )
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--groups", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    parser.add_argument("--workers", type=int, default=2, help="parent groups in parallel")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=1, help="report the fastest of n runs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-debias", action="store_true", help="plain direct reading")
    parser.add_argument("--skip-vgg", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    options = EdgeOptions(debias=False if args.no_debias else None)
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, "
        f"workers {args.workers}, torch threads {torch.get_num_threads()}, device {args.device}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"# options: {options}")
    parent, child = synthetic_layer_pair(args.samples, args.width, args.width, seed=0)
    time_matrix(parent, child, 4, 4, options, args.device, args.workers)  # warm-up

    print(f"\n{args.width}->{args.width} layer pair, N={args.samples}")
    print("groups  pairs   seconds  ms/pair  paper ACMI(s)  paper/ours")
    for groups in args.groups:
        seconds = min(
            time_matrix(parent, child, groups, groups, options, args.device, args.workers)
            for _ in range(args.repeats)
        )
        paper = PAPER_ACMI_SECONDS.get(groups)
        ratio = f"{paper / seconds:10.0f}x" if paper else ""
        paper_text = f"{paper:13.2f}" if paper else " " * 13
        print(
            f"{groups:6d}  {groups * groups:5d}  {seconds:8.2f}  "
            f"{1000 * seconds / groups**2:7.2f}  {paper_text}  {ratio}"
        )

    if args.skip_vgg:
        return
    print(
        f"\nVGG16-like net, all scored pairs, 64 groups (fewer if a layer is narrower), "
        f"N={args.samples}"
    )
    print("pair                 parent->child  groups(p x c)  seconds")
    total = 0.0
    for seed, (name, parent_width, child_width, classes) in enumerate(VGG16_PAIRS):
        parent, child = synthetic_layer_pair(args.samples, parent_width, child_width, seed)
        parent_groups = min(64, parent_width)
        child_groups = classes or min(64, child_width)
        seconds = time_matrix(
            parent, child, parent_groups, child_groups, options, args.device, args.workers
        )
        total += seconds
        print(
            f"{name:20s} {parent_width:6d}->{child_width:<6d} "
            f"{parent_groups:6d} x {child_groups:<5d} {seconds:8.2f}"
        )
    print(f"{'total':20s} {'':28s} {total:8.2f}")


if __name__ == "__main__":
    main()
