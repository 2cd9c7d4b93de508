"""Shared connection planning: the never-disconnect guard, normalisation, cost-aware
allocation, and typed scores that survive a round trip to disk."""

import pytest
import torch

from snacs.errors import ConfigError
from snacs.models import build_model
from snacs.pruning.connections import ConnectionOptions, block_costs, connection_plan
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.groups import group_ids
from snacs.pruning.scores import (
    ConnectionScores,
    GroupScores,
    Scores,
    load_scores,
    save_scores,
)
from snacs.pruning.target import TARGET_TOLERANCE, CostModel, Target

DIGITS_MLP = {"in_features": 64, "hidden": [128, 64]}


def _digits_mlp():
    model = build_model("mlp_mnist", 10, **DIGITS_MLP)
    return model, trace_layer_graph(model), CostModel(model, (64,))


def _scores(graph, groups=16, seed=0, weak_class=3):
    """Random scores; every connection into output class ``weak_class`` scores lowest."""
    generator = torch.Generator().manual_seed(seed)
    pairs = {}
    for node in graph:
        if node.parents[0] == "<input>":
            continue
        child_ids = group_ids(node.out_channels, node.out_channels if node.is_output else groups)
        parent_ids = group_ids(node.in_channels, groups)
        rho = 0.1 + torch.rand(
            int(child_ids.max()) + 1, int(parent_ids.max()) + 1, generator=generator
        )
        if node.is_output:
            rho[weak_class] = torch.linspace(0.0, 0.01, rho.shape[1])
        pairs[node.name] = GroupScores(node.name, rho, child_ids, parent_ids)
    return ConnectionScores(pairs)


def _disconnected_rows(plan, model):
    rows = {}
    for name, mask in plan.masks.items():
        rows[name.removesuffix(".weight")] = int((~mask.reshape(mask.shape[0], -1).any(1)).sum())
    return rows


@pytest.mark.parametrize("target", [Target(0.5, "share", "global"), Target(0.4, "flops")])
def test_guard_keeps_every_output_class_connected(target):
    model, graph, cost = _digits_mlp()
    scores = _scores(graph)
    caps = ConnectionOptions(layer_cap=1.0, keep_connected=False)
    unguarded = connection_plan("t", scores, target, model, cost, caps)
    assert _disconnected_rows(unguarded, model)["fc3"] >= 1  # class 3 cut off entirely
    guarded = connection_plan("t", scores, target, model, cost, ConnectionOptions(layer_cap=1.0))
    assert all(count == 0 for count in _disconnected_rows(guarded, model).values())
    kept = guarded.masks["fc3.weight"][3]
    # the class keeps exactly its best parent group (the last one: highest score)
    assert kept.any() and kept[-(64 // 16) :].all() and not kept[: -(64 // 16)].any()
    if target.resource == "flops":
        assert abs(cost.reduction(guarded.masks, "flops") - 0.4) <= TARGET_TOLERANCE


def test_guard_holds_at_any_share_with_ties_at_zero():
    model, graph, cost = _digits_mlp()
    scores = _scores(graph)
    for pair in scores.groups.values():
        pair.rho[:, : pair.rho.shape[1] // 2] = 0.0  # clipped estimates: many exact ties
    for share in (0.3, 0.9, 1.0):
        plan = connection_plan(
            "t",
            scores,
            Target(share, "share", "global") if share < 1 else Target(0.99, "params"),
            model,
            cost,
            ConnectionOptions(layer_cap=1.0),
        )
        assert all(count == 0 for count in _disconnected_rows(plan, model).values()), share


def test_layer_caps_bound_every_layer_and_plan_records_counts():
    model, graph, cost = _digits_mlp()
    scores = _scores(graph)
    scores.layer_caps = {"fc2": 0.25}
    plan = connection_plan(
        "t", scores, Target(0.9, "share", "global"), model, cost, ConnectionOptions(layer_cap=0.6)
    )
    assert plan.info["layer_caps"] == {"fc2": 0.25, "fc3": 0.6}
    groups = plan.info["layer_pruned_groups"]
    assert groups["fc2"] == int(0.25 * 16 * 16) and groups["fc3"] <= int(0.6 * 10 * 16)
    assert plan.info["protected_groups"] == {"fc2": 0, "fc3": 0}


def test_mean_normalisation_spreads_pruning_over_layers_of_different_scale():
    model, graph, cost = _digits_mlp()
    scores = _scores(graph)
    scores.groups["fc3"].rho *= 100.0  # one layer's scores on a much larger scale
    target = Target(0.5, "share", "global")
    raw = connection_plan("t", scores, target, model, cost, ConnectionOptions(layer_cap=1.0))
    assert raw.info["layer_pruned_groups"]["fc3"] <= 15  # only the weak class, guard aside
    for mode in ("mean", "rank"):
        normalised = connection_plan(
            "t", scores, target, model, cost, ConnectionOptions(layer_cap=1.0, normalise=mode)
        )
        share = normalised.info["layer_pruned_share"]
        assert 0.3 < share["fc3"] < 0.7 and 0.3 < share["fc2"] < 0.7, mode


def test_cost_aware_allocation_prunes_where_macs_are():
    model, graph, cost = _digits_mlp()
    scores = _scores(graph)
    for pair in scores.groups.values():
        pair.rho.fill_(1.0)
    scores.groups["fc3"].rho[0, 0] = 0.5  # lowest raw score, but a cheap block
    options = ConnectionOptions(layer_cap=1.0, keep_connected=False, global_share=0.001)
    plain = connection_plan("t", scores, Target(0.0, "share", "global"), model, cost, options)
    assert plain.info["layer_pruned_groups"] == {"fc2": 0, "fc3": 1}
    aware = connection_plan(
        "t",
        scores,
        Target(0.0, "share", "global"),
        model,
        cost,
        ConnectionOptions(layer_cap=1.0, keep_connected=False, global_share=0.001, cost_aware=True),
    )
    # fc2's blocks hold 8 x 8 weights, fc3's 1 x 4: per MAC saved, fc2's score is lower
    assert aware.info["layer_pruned_groups"] == {"fc2": 1, "fc3": 0}
    costs = block_costs(scores.groups["fc2"], model.fc2.weight.shape, 1)
    assert costs.sum().item() == model.fc2.weight.numel()


def test_connection_options_are_validated():
    with pytest.raises(ConfigError, match="layer_cap"):
        ConnectionOptions(layer_cap=0.0)
    with pytest.raises(ConfigError, match="normalise"):
        ConnectionOptions(normalise="zscore")
    with pytest.raises(ConfigError, match="global_share"):
        ConnectionOptions(global_share=2.0)


def test_scores_round_trip_through_disk(tmp_path):
    _, graph, _ = _digits_mlp()
    connection = _scores(graph)
    connection.layer_caps = {"fc2": 0.5}
    connection.protected["fc2"][3] = True
    connection.timings = {"score_seconds": 1.5}
    save_scores(connection, tmp_path / "c.pt")
    loaded = load_scores(tmp_path / "c.pt")
    assert isinstance(loaded, ConnectionScores)
    assert loaded.layer_caps == {"fc2": 0.5} and loaded.timings == {"score_seconds": 1.5}
    assert torch.equal(loaded.protected["fc2"], connection.protected["fc2"])
    for name, pair in connection.groups.items():
        assert torch.equal(loaded.groups[name].rho, pair.rho)
        assert torch.equal(loaded.groups[name].child_ids, pair.child_ids)
    filters = Scores(
        {"fc1": torch.arange(4.0)}, {"fc1": 0.5}, {"fc1": torch.tensor([1, 0, 0, 0]) > 0}
    )
    save_scores(filters, tmp_path / "f.pt")
    again = load_scores(tmp_path / "f.pt")
    assert isinstance(again, Scores) and torch.equal(again.per_layer["fc1"], torch.arange(4.0))
    assert again.layer_caps == {"fc1": 0.5} and again.protected["fc1"].tolist()[0]
