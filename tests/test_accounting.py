"""Honest accounting: masked counts credit the weights masks leave dead, never below slim."""

import pytest
import torch

from snacs.errors import ConfigError
from snacs.metrics import count_macs, count_params, credited_masks
from snacs.models import build_model
from snacs.pruning.accounting import model_counts
from snacs.pruning.connections import ConnectionOptions, connection_plan
from snacs.pruning.graph import INPUT, trace_layer_graph
from snacs.pruning.masking import filter_masks
from snacs.pruning.scores import ConnectionScores, GroupScores
from snacs.pruning.slim import slim_model
from snacs.pruning.target import (
    TARGET_TOLERANCE,
    CostModel,
    Target,
    select_filters,
    target_miss_reason,
)
from tests.conftest import SMALL_MODELS, randomise_norms

DIGITS = (64,)


def digits_mlp() -> torch.nn.Module:
    """The demo's digits MLP (64-128-64-10)."""
    torch.manual_seed(0)
    return build_model("mlp_mnist", 10, in_features=64, hidden=[128, 64]).eval()


def keep_all(model: torch.nn.Module, names: list[str]) -> dict[str, torch.Tensor]:
    return {
        f"{n}.weight": torch.ones_like(model.get_submodule(n).weight, dtype=bool) for n in names
    }


def random_connection_masks(model, names, share, seed=0) -> dict[str, torch.Tensor]:
    """Kernel-slice masks: each (output, input) connection pruned with probability ``share``."""
    generator = torch.Generator().manual_seed(seed)
    masks = {}
    for name in names:
        weight = model.get_submodule(name).weight
        keep = torch.rand(weight.shape[:2], generator=generator) >= share
        trailing = (1,) * (weight.dim() - 2)
        masks[f"{name}.weight"] = keep.reshape(*keep.shape, *trailing).expand_as(weight).clone()
    return masks


def reductions(dense: dict, counts: dict) -> tuple[float, float]:
    return 1 - counts["params"] / dense["params"], 1 - counts["macs"] / dense["macs"]


def slim_counts(model, masks, shape) -> dict:
    slim, _ = slim_model(model, trace_layer_graph(model), masks, shape)
    return {"params": count_params(slim), "macs": count_macs(slim, shape)}


def test_digits_connection_masks_that_kill_units_count_at_least_the_slim_reduction():
    model = digits_mlp()
    masks = keep_all(model, ["fc1", "fc2", "fc3"])
    masks["fc1.weight"][:40] = False  # 40 hidden units lose every input
    masks["fc2.weight"][:, 60:] = False  # 68 more are read by nobody
    masks["fc3.weight"][:, :30] = False  # 30 units of the second layer are never read
    dense = model_counts(model, DIGITS)
    masked = model_counts(model, DIGITS, masks)
    slim = slim_counts(model, masks, DIGITS)
    elementwise = {"params": count_params(model, masks), "macs": count_macs(model, DIGITS, masks)}
    assert reductions(dense, masked) >= reductions(dense, slim)
    # The dead units' remaining weights are credited: strictly more than the masks name.
    assert masked["params"] < elementwise["params"] and masked["macs"] < elementwise["macs"]
    # Every credited weight is one slimming removes: masked and slim agree exactly here.
    assert masked == slim


@pytest.mark.parametrize("share", [0.5, 0.9, 0.97])
@pytest.mark.parametrize("arch", sorted(SMALL_MODELS))
def test_masked_reduction_is_never_below_slim_for_random_connection_plans(arch, share):
    name, knobs, shape = SMALL_MODELS[arch]
    torch.manual_seed(0)
    model = randomise_norms(build_model(name, 10, **knobs))
    graph = trace_layer_graph(model)
    masks = random_connection_masks(model, graph.names[1:], share)
    dense = model_counts(model, shape)
    masked = model_counts(model, shape, masks)
    slim = slim_counts(model, masks, shape)
    masked_params, masked_macs = reductions(dense, masked)
    slim_params, slim_macs = reductions(dense, slim)
    assert masked_params >= slim_params - 1e-12
    assert masked_macs >= slim_macs - 1e-12


def test_residual_channel_is_dead_only_when_no_path_reads_it():
    torch.manual_seed(0)
    model = randomise_norms(build_model("resnet_cifar", 10, depth=20, width_mult=0.5))
    graph = trace_layer_graph(model)
    last_stage = [n for n in graph.names if n.startswith("layer3")]
    producers = [n for n in last_stage if graph[n].coupled]
    consumers = sorted({c for p in producers for c in graph[p].children})
    assert "fc" in consumers and len(producers) == 3
    channel = 5
    masks = keep_all(model, consumers)
    for name in consumers:
        if name == "fc":
            masks["fc.weight"][:, channel] = False
        else:
            masks[f"{name}.weight"][:, channel] = False
    # One consumer still reads the channel: the residual stream stays alive on that path.
    partial = {k: v.clone() for k, v in masks.items()}
    partial["fc.weight"][:, channel] = True
    alive = credited_masks(model, partial, graph)
    for name in producers:
        assert alive[f"{name}.weight"][channel].all()
        assert alive[f"{graph[name].norm}.bias"][channel]
    # Nobody reads it: every producer's filter and BatchNorm entries for it are credited.
    dead = credited_masks(model, masks, graph)
    for name in producers:
        assert not dead[f"{name}.weight"][channel].any()
        assert not dead[f"{graph[name].norm}.weight"][channel]
        assert not dead[f"{graph[name].norm}.bias"][channel]
    # ... and the channel before layer3's padded shortcut is kept: its mapping is unknown.
    stage2 = [n for n in graph.names if n.startswith("layer2") and graph[n].coupled]
    assert all(dead[f"{n}.weight"].all() for n in stage2)


@pytest.mark.parametrize("arch", sorted(SMALL_MODELS))
def test_plans_with_nothing_dead_keep_their_counts(arch):
    name, knobs, shape = SMALL_MODELS[arch]
    torch.manual_seed(0)
    model = randomise_norms(build_model(name, 10, **knobs))
    graph = trace_layer_graph(model)
    light = random_connection_masks(model, graph.names, 0.2, seed=1)
    assert model_counts(model, shape, light) == {
        "params": count_params(model, light),
        "macs": count_macs(model, shape, light),
    }
    # Filter masks already name everything a removed filter kills: crediting adds nothing.
    layer = graph.filter_prunable()[0]
    filters = filter_masks(model, graph, {layer: [0, 1]})
    cost = CostModel(model, shape, graph)
    assert cost.params(filters) == count_params(model, filters)
    assert cost.macs(filters) == count_macs(model, shape, filters)


# --- budgets land within one point, or the record says why -----------------------------

# The demo's sizes: VGG16 x0.125, ResNet20 x0.5 and the digits MLP (64-128-64-10).
DEMO_MODELS = {
    "vgg": SMALL_MODELS["vgg"],
    "resnet": SMALL_MODELS["resnet"],
    "digits": ("mlp_mnist", {"in_features": 64, "hidden": [128, 64]}, DIGITS),
}


@pytest.mark.parametrize("resource", ["params", "flops"])
@pytest.mark.parametrize("scope", ["layerwise", "global"])
@pytest.mark.parametrize("arch", sorted(DEMO_MODELS))
def test_filter_budgets_land_within_one_point(arch, scope, resource):
    name, knobs, shape = DEMO_MODELS[arch]
    torch.manual_seed(0)
    model = build_model(name, 10, **knobs).eval()
    graph = trace_layer_graph(model)
    cost = CostModel(model, shape, graph)
    # Tight per-layer caps (as SNACS's constraints set them) make layerwise steps coarse.
    caps = {n: 0.6 + 0.3 * (i % 3) / 2 for i, n in enumerate(graph.filter_prunable())}
    for seed in range(3):
        generator = torch.Generator().manual_seed(seed)
        scores = {
            n: torch.rand(graph[n].out_channels, generator=generator)
            for n in graph.filter_prunable()
        }
        target = Target(0.5, resource, scope)
        _, masks = select_filters(scores, target, model, graph, cost, caps)
        achieved = cost.reduction(masks, resource)
        assert abs(achieved - 0.5) <= TARGET_TOLERANCE, (seed, achieved)
        assert target_miss_reason(target, achieved, "filter") == ""


@pytest.mark.parametrize("resource", ["params", "flops"])
@pytest.mark.parametrize("arch", sorted(DEMO_MODELS))
def test_connection_budgets_land_within_one_point_on_the_credited_count(arch, resource):
    name, knobs, shape = DEMO_MODELS[arch]
    torch.manual_seed(0)
    model = build_model(name, 10, **knobs).eval()
    graph = trace_layer_graph(model)
    cost = CostModel(model, shape, graph)
    generator = torch.Generator().manual_seed(0)
    groups = {}
    for node in graph:
        if node.parents == (INPUT,) or node.merged_input and node.kind == "linear":
            continue
        groups[node.name] = GroupScores(
            child=node.name,
            rho=torch.rand(
                node.out_channels,
                node.in_channels // node.features_per_channel,
                generator=generator,
            ),
            child_ids=torch.arange(node.out_channels),
            parent_ids=torch.arange(node.in_channels // node.features_per_channel),
        )
    protected = {n: torch.zeros(g.rho.shape[0], dtype=torch.bool) for n, g in groups.items()}
    scores = ConnectionScores(groups=groups, protected=protected)
    target = Target(0.5, resource, "global")
    plan = connection_plan("test", scores, target, model, cost, ConnectionOptions(layer_cap=0.95))
    achieved = cost.reduction(plan.masks, resource)
    reason = target_miss_reason(target, achieved, "connection")
    assert abs(achieved - 0.5) <= TARGET_TOLERANCE or reason.startswith("out of reach")
    # The masked count credits dead units: it never reads below what slimming removes.
    assert achieved >= cost.reduction(plan.masks, resource, "slim")


def test_slim_count_targets_are_met_on_the_slim_count():
    model = digits_mlp()
    graph = trace_layer_graph(model)
    cost = CostModel(model, DIGITS, graph)
    scores = {n: torch.rand(graph[n].out_channels) for n in graph.filter_prunable()}
    target = Target(0.3, "params", "global", count="slim")
    _, masks = select_filters(scores, target, model, graph, cost)
    assert abs(cost.achieved(masks, target) - 0.3) <= TARGET_TOLERANCE
    slim, _ = slim_model(model, graph, masks, DIGITS)
    assert abs(1 - count_params(slim) / count_params(model) - 0.3) <= TARGET_TOLERANCE


def test_target_miss_reasons_say_why():
    target = Target(0.5, "flops")
    assert target_miss_reason(target, 0.505, "filter") == ""
    assert target_miss_reason(target, 0.491, "filter") == ""
    short = target_miss_reason(target, 0.448, "filter")
    assert short.startswith("out of reach") and "44.8%" in short and "caps" in short
    over = target_miss_reason(target, 0.555, "connection")
    assert over.startswith("overshoot") and "5.5%" in over
    assert target_miss_reason(Target(0.6, "share"), 0.1, "connection") == ""
    with pytest.raises(ConfigError, match="count"):
        Target(0.5, "flops", count="deployed")  # type: ignore[arg-type]


def test_a_budget_finer_than_one_unit_is_flagged_as_overshoot():
    # 64-32-16-10: one hidden unit of the first layer is ~3 % of all parameters.
    name, knobs, shape = SMALL_MODELS["mlp"]
    model = build_model(name, 10, **knobs).eval()
    graph = trace_layer_graph(model)
    cost = CostModel(model, shape, graph)
    generator = torch.Generator().manual_seed(0)
    scores = {
        n: torch.rand(graph[n].out_channels, generator=generator) for n in graph.filter_prunable()
    }
    misses = []
    for fraction in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6):
        target = Target(fraction, "flops", "global")
        _, masks = select_filters(scores, target, model, graph, cost)
        achieved = cost.achieved(masks, target)
        reason = target_miss_reason(target, achieved, "filter")
        assert bool(reason) == (abs(achieved - fraction) > TARGET_TOLERANCE)
        misses += [reason] if reason else []
    assert misses and all(r.startswith("overshoot") for r in misses)
