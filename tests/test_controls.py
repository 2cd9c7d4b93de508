"""Controls: the run's per-layer pruned counts chosen at random, by magnitude, or inverted."""

import math
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from torch.utils.data import TensorDataset

from snacs.config import control_runs, controls_for, runs
from snacs.config_file import validate_config
from snacs.errors import ConfigError
from snacs.models import build_model
from snacs.pruning.connections import ConnectionOptions, connection_plan
from snacs.pruning.context import PruneContext
from snacs.pruning.controls import block_magnitudes, control_labels, control_plan, parse_control
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.groups import group_ids
from snacs.pruning.pruner import build_pruner, load_pruner_modules
from snacs.pruning.run import run_pruner
from snacs.pruning.scores import ConnectionScores, GroupScores
from snacs.pruning.target import CostModel, Target
from snacs.report.controls import control_cells, pruner_rows, with_control_margins
from tests.conftest import randomise_norms, snakemake_command

REPO = Path(__file__).resolve().parents[1]
LABELS = ["random0", "random1", "magnitude", "inverted"]


def _filter_context():
    load_pruner_modules()
    torch.manual_seed(0)
    model = randomise_norms(build_model("vgg16_cifar", 10, width_mult=0.125))
    data = TensorDataset(torch.randn(20, 3, 32, 32), torch.arange(20) % 10)
    return PruneContext(model, (3, 32, 32), 10, data, progress=False)


def _removed_filters(plan, graph):
    counts = {}
    for name in graph.filter_prunable():
        weight = plan.masks[f"{name}.weight"]
        counts[name] = int((~weight.reshape(weight.shape[0], -1).any(dim=1)).sum())
    return counts


@pytest.mark.parametrize("method", ["l1", "taylor"])
@pytest.mark.parametrize("scope", ["layerwise", "global"])
def test_filter_controls_prune_the_runs_counts_per_layer(method, scope):
    ctx = _filter_context()
    outcome = run_pruner(build_pruner(method), ctx, Target(0.4, "flops", scope))
    expected = _removed_filters(outcome.plan, ctx.graph)
    assert sum(expected.values()) > 0
    chosen = {}
    for label in LABELS:
        control = control_plan(outcome.plan, outcome.scores, label, 0, ctx.model, ctx.graph)
        assert _removed_filters(control, ctx.graph) == expected, label
        assert control.info["control"] == parse_control(label)[0]
        chosen[label] = {k: v for k, v in control.masks.items() if k.endswith(".weight")}
    differs = [
        any(not torch.equal(chosen[a][k], chosen[b][k]) for k in chosen[a])
        for a, b in [("random0", "random1"), ("magnitude", "inverted"), ("random0", "inverted")]
    ]
    assert all(differs)
    if method == "l1":  # the magnitude control of L1 is L1 itself; inverted keeps the smallest
        own = {k: v for k, v in outcome.plan.masks.items() if k.endswith(".weight")}
        assert all(torch.equal(own[k], chosen["magnitude"][k]) for k in own)
        layer = max(expected, key=expected.get)
        norms = ctx.model.get_submodule(layer).weight.detach().abs().flatten(1).sum(1)
        kept = chosen["inverted"][f"{layer}.weight"].flatten(1).any(1)
        assert norms[~kept].min() >= norms[kept].max()


def _digits_connection_run(keep_connected=True):
    model = build_model("mlp_mnist", 10, in_features=64, hidden=[128, 64])
    graph = trace_layer_graph(model)
    generator = torch.Generator().manual_seed(0)
    pairs = {}
    for node in graph:
        if node.parents[0] == "<input>":
            continue
        child_ids = group_ids(node.out_channels, node.out_channels if node.is_output else 16)
        parent_ids = group_ids(node.in_channels, 16)
        rho = torch.rand(int(child_ids.max()) + 1, 16, generator=generator)
        pairs[node.name] = GroupScores(node.name, rho, child_ids, parent_ids)
    scores = ConnectionScores(pairs)
    options = ConnectionOptions(layer_cap=0.9, keep_connected=keep_connected)
    plan = connection_plan(
        "snacs", scores, Target(0.4, "flops"), model, CostModel(model, (64,)), options
    )
    return model, graph, scores, plan


def _switched_off(plan, pair):
    """[G_c, G_p]: which (child group, parent group) blocks the plan's masks switch off."""
    mask = plan.masks[f"{pair.child}.weight"]
    off = torch.zeros_like(pair.rho, dtype=torch.bool)
    for c in range(pair.rho.shape[0]):
        for g in range(pair.rho.shape[1]):
            off[c, g] = not mask[pair.child_ids == c][:, pair.parent_ids == g].any()
    return off


def _pruned_blocks(plan, scores):
    """Per child layer: how many group blocks the masks switch off."""
    return {name: int(_switched_off(plan, pair).sum()) for name, pair in scores.groups.items()}


@pytest.mark.parametrize("keep_connected", [True, False])
def test_connection_controls_prune_the_runs_group_counts_per_layer(keep_connected):
    model, graph, scores, plan = _digits_connection_run(keep_connected)
    expected = _pruned_blocks(plan, scores)
    assert expected == plan.info["layer_pruned_groups"] and expected["fc2"] > 0
    for label in LABELS:
        control = control_plan(plan, scores, label, 0, model, graph)
        assert _pruned_blocks(control, scores) == expected, label
        assert control.info["layer_pruned_groups"] == expected
        if keep_connected:  # the run's structural guard holds in its controls too
            for mask in control.masks.values():
                assert mask.reshape(mask.shape[0], -1).any(dim=1).all(), label
    inverted = control_plan(plan, scores, "inverted", 0, model, graph)
    rho = scores.groups["fc2"].rho
    pruned = _switched_off(inverted, scores.groups["fc2"])
    # the pruner's best connections went first; under the guard each row keeps its worst
    spared = torch.zeros_like(pruned)
    if keep_connected:
        spared[torch.arange(16), rho.argmin(dim=1)] = True
    assert rho[pruned].min() >= rho[~pruned & ~spared].max()


def test_block_magnitude_is_the_mean_absolute_weight_of_the_block():
    pair = GroupScores("fc", torch.zeros(2, 3), group_ids(4, 2), group_ids(6, 3))
    weight = torch.arange(24, dtype=torch.float).reshape(4, 6) - 12
    magnitudes = block_magnitudes(pair, weight)
    assert magnitudes.shape == (2, 3)
    assert magnitudes[1, 2].item() == pytest.approx(weight[2:, 4:].abs().mean().item())


def _ci_benchmark(name):
    ci = yaml.safe_load((REPO / "config" / "ci.yaml").read_text())
    return ci["benchmarks"][name]


def test_control_labels_and_config():
    assert control_labels(["random", "inverted"], 2) == ["random0", "random1", "inverted"]
    assert parse_control("random12") == ("random", 12) and parse_control("magnitude")[1] is None
    with pytest.raises(ConfigError):
        parse_control("random")
    config = validate_config(
        {
            "benchmarks": {"digits": _ci_benchmark("digits_mlp")},
            "methods": {
                "l1": {},
                "snacs": {"controls": ["random", "magnitude"]},
                "x": {"pruner": "l1", "controls": []},
            },
            "controls": ["inverted"],
            "control_seeds": 2,
        }
    )
    assert controls_for(config, "l1") == ["inverted"]
    assert controls_for(config, "snacs") == ["random0", "random1", "magnitude"]
    assert controls_for(config, "x") == []
    assert len(control_runs(config)) == 4 and len(runs(config)) == 3
    assert validate_config({**config, "controls": []})["control_seeds"] == 2
    with pytest.raises(ConfigError, match="controls"):
        validate_config({**config, "controls": ["shuffled"]})


def test_main_table_carries_controls_and_the_margin_over_random():
    rows = []
    for control, tops in [("", [80.0, 82.0]), ("random", [70.0, 72.0, 74.0]), ("inverted", [60.0])]:
        for seed, top in enumerate(tops):
            rows.append(
                {
                    "benchmark": "b",
                    "title": "B",
                    "method": "snacs",
                    "granularity": "connection",
                    "target": "flops50-layerwise",
                    "control": control,
                    "seed": seed,
                    "pruned_top1": top,
                }
            )
    frame = pd.DataFrame(rows)
    keys = ["benchmark", "title", "method", "granularity", "target", "control"]
    grouped = frame.groupby(keys, sort=False)["pruned_top1"]
    summary = pd.concat(
        [
            grouped.mean().rename("pruned_top1_mean"),
            grouped.std().rename("pruned_top1_std"),
            grouped.count().rename("seeds"),
        ],
        axis=1,
    ).reset_index()
    table = with_control_margins(summary)
    own = table[table["control"] == ""].iloc[0]
    assert own["margin_over_random_pp"] == pytest.approx(81.0 - 72.0)
    assert table[table["control"] != ""]["margin_over_random_pp"].map(math.isnan).all()
    assert len(pruner_rows(table)) == 1
    headers, cells = control_cells(table)
    assert (
        "Margin over random (pp)" in headers
        and cells[0][headers.index("Margin over random (pp)")] == "+9.00"
    )
    assert cells[0][-1] == f"{own['pruned_top1_std']:.2f}"


def test_workflow_dry_run_plans_the_control_jobs(tmp_path):
    command = snakemake_command(
        tmp_path, REPO / "config" / "ci.yaml", "--cores", "2", "results/all", "--dry-run"
    )
    plan = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert plan.returncode == 0, plan.stderr[-2000:]
    config = validate_config(
        __import__("yaml").safe_load((REPO / "config" / "ci.yaml").read_text())
    )
    expected = len(control_runs(config))
    assert expected > 0, "config/ci.yaml must run controls so the workflow test covers them"
    counts = {}
    for row in plan.stdout.split("Job stats:")[1].strip().splitlines()[2:]:
        if not row.strip():
            break
        name, count = row.split()[:2]
        counts[name] = int(count)
    # one job per control: its plan, fine-tune and evaluation in one process
    assert counts["control"] == expected
    assert "control_finetune" not in counts and "control_evaluate" not in counts
