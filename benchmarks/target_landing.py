"""How close filter plans land to their compression target, on the demo's model sizes.

For each model, resource (params, flops) and scope (layerwise, global), random filter
scores under mixed per-layer caps (0.6, 0.75, 0.9 of a layer, as SNACS's operating
constraints set them) are turned into a plan for a 50 % target by the harness's filter
search; the table gives the achieved reduction minus the target in percentage points
(masked count, dead weights credited) over several score seeds. A budget is met within
+-1 pp. No timing: the numbers do not depend on the machine.

    python benchmarks/target_landing.py
    python benchmarks/target_landing.py --seeds 10 --json landing.json
"""

import argparse
import json
import warnings

import torch

from snacs.models import build_model
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.target import TARGET_TOLERANCE, CostModel, Target, select_filters
from snacs.report.tables import markdown_table

MODELS = {
    "VGG16 x0.125": ("vgg16_cifar", {"width_mult": 0.125}, (3, 32, 32)),
    "ResNet20 x0.5": ("resnet_cifar", {"depth": 20, "width_mult": 0.5}, (3, 32, 32)),
    "digits MLP 64-128-64": ("mlp_mnist", {"in_features": 64, "hidden": [128, 64]}, (64,)),
}


def landing_rows(seeds: int, fraction: float) -> list[dict]:
    rows = []
    for label, (arch, knobs, shape) in MODELS.items():
        torch.manual_seed(0)
        model = build_model(arch, 10, **knobs).eval()
        graph = trace_layer_graph(model)
        cost = CostModel(model, shape, graph)
        layers = graph.filter_prunable()
        caps = {name: (0.6, 0.75, 0.9)[i % 3] for i, name in enumerate(layers)}
        for resource in ("params", "flops"):
            for scope in ("layerwise", "global"):
                gaps = []
                for seed in range(seeds):
                    generator = torch.Generator().manual_seed(seed)
                    scores = {
                        n: torch.rand(graph[n].out_channels, generator=generator) for n in layers
                    }
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        target = Target(fraction, resource, scope)
                        _, masks = select_filters(scores, target, model, graph, cost, caps)
                    gaps.append(100 * (cost.achieved(masks, target) - fraction))
                rows.append(
                    {
                        "model": label,
                        "resource": resource,
                        "scope": scope,
                        "mean_gap_pp": sum(gaps) / len(gaps),
                        "worst_gap_pp": max(gaps, key=abs),
                        "within_1pp": sum(abs(g) <= 100 * TARGET_TOLERANCE for g in gaps),
                        "seeds": len(gaps),
                    }
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="random score draws per cell")
    parser.add_argument("--fraction", type=float, default=0.5, help="target fraction removed")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = landing_rows(args.seeds, args.fraction)
    table = [
        [
            r["model"],
            r["resource"],
            r["scope"],
            f"{r['mean_gap_pp']:+.2f}",
            f"{r['worst_gap_pp']:+.2f}",
            f"{r['within_1pp']}/{r['seeds']}",
        ]
        for r in rows
    ]
    headers = ["model", "resource", "scope", "mean gap (pp)", "worst gap (pp)", "within 1 pp"]
    print(markdown_table(headers, table))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
