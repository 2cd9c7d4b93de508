"""The pruning core: traced layer graph, masks, slimming, targets, plans, registry."""

import copy

import pytest
import torch

from snacs.errors import CheckpointError, ConfigError, SnacsError, UnknownNameError
from snacs.models import build_model
from snacs.pruning.graph import INPUT, trace_layer_graph
from snacs.pruning.masking import MaskEnforcer, apply_masks, complete_dead_channels, filter_masks
from snacs.pruning.plan import PruningPlan
from snacs.pruning.pruner import PRUNERS, build_pruner, load_pruner_modules
from snacs.pruning.slim import slim_model
from snacs.pruning.target import CostModel, Target, select_filters
from tests.conftest import randomise_norms


def test_vgg_graph_is_a_chain_with_norms():
    graph = trace_layer_graph(build_model("vgg16_cifar", 10, width_mult=0.125))
    names = graph.names
    assert len(names) == 15
    assert graph[names[0]].parents == (INPUT,)
    for parent, child in zip(names, names[1:], strict=False):
        assert graph[child].parents == (parent,)
    assert graph[names[-1]].is_output and not graph[names[-1]].filter_prunable
    assert all(graph[n].norm for n in names[:-1])
    assert len(graph.filter_prunable()) == 14


def test_resnet_graph_follows_residual_data_flow():
    graph = trace_layer_graph(build_model("resnet_cifar", 10, depth=20))
    # The second block's first conv reads the sum of the stem and the first block's output.
    assert set(graph["layer1.1.conv1"].parents) == {"conv1", "layer1.0.conv2"}
    assert graph["layer1.0.conv2"].coupled and graph["conv1"].coupled
    assert not graph["layer1.0.conv1"].coupled
    # Only the inner convs of the blocks can lose filters independently.
    assert graph.filter_prunable() == [f"layer{s}.{b}.conv1" for s in (1, 2, 3) for b in range(3)]


def test_resnet50_projection_shortcut_is_paired_by_data_flow():
    graph = trace_layer_graph(build_model("resnet50", 10))
    assert graph["layer1.0.downsample.0"].parents == ("conv1",)
    assert set(graph["layer1.1.conv1"].parents) == {"layer1.0.conv3", "layer1.0.downsample.0"}


def test_filter_masks_make_masked_and_slim_models_identical(small_model):
    model, shape = small_model
    graph = trace_layer_graph(model)
    pruned = {name: [0, 2] for name in graph.filter_prunable()}
    masks = filter_masks(model, graph, pruned)
    masked = copy.deepcopy(model)
    apply_masks(masked, masks)
    slim, removed = slim_model(masked, graph, masks, shape)
    assert removed == {name: 2 for name in pruned}
    x = torch.randn(3, *shape)
    with torch.no_grad():
        torch.testing.assert_close(slim.eval()(x), masked(x), atol=1e-5, rtol=1e-4)
    cost = CostModel(model, shape)
    from snacs.metrics import count_macs, count_params

    assert count_params(slim) == cost.params(masks)
    assert count_macs(slim, shape) == cost.macs(masks)


def test_complete_dead_channels_kills_filters_without_inputs():
    model = randomise_norms(build_model("vgg16_cifar", 10, width_mult=0.125))
    graph = trace_layer_graph(model)
    first, second = graph.names[:2]
    masks = {f"{second}.weight": torch.ones_like(model.get_submodule(second).weight, dtype=bool)}
    masks[f"{second}.weight"][3] = False  # every incoming slice of filter 3
    done = complete_dead_channels(model, graph, masks)
    assert not done[f"{second}.bias"][3] and not done[f"{graph[second].norm}.weight"][3]
    third = graph.names[2]
    assert not done[f"{third}.weight"][:, 3].any()
    assert done[f"{first}.weight"].all()


@pytest.mark.parametrize("resource", ["params", "flops"])
@pytest.mark.parametrize("scope", ["layerwise", "global"])
def test_select_filters_meets_target_and_stays_close(small_model, resource, scope):
    model, shape = small_model
    graph = trace_layer_graph(model)
    cost = CostModel(model, shape)
    scores = {n: torch.rand(graph[n].out_channels) for n in graph.filter_prunable()}
    target = Target(0.4, resource, scope)
    removed, masks = select_filters(scores, target, model, graph, cost)
    achieved = cost.reduction(masks, resource)
    assert achieved >= 0.4
    assert achieved < 0.55
    for name, channels in removed.items():
        assert len(channels) <= int(0.9 * graph[name].out_channels)


def test_select_filters_removes_lowest_scores_first():
    model = build_model("mlp_mnist", 10, in_features=64, hidden=[32, 16])
    graph = trace_layer_graph(model)
    scores = {
        n: torch.arange(graph[n].out_channels, dtype=torch.float) for n in graph.filter_prunable()
    }
    cost = CostModel(model, (64,))
    removed, _ = select_filters(scores, Target(0.3, "params"), model, graph, cost)
    for channels in removed.values():
        assert sorted(channels) == list(range(len(channels)))


def test_unreachable_target_takes_the_most_the_caps_allow_and_warns():
    model = build_model("mlp_mnist", 10, in_features=64, hidden=[32, 16])
    graph = trace_layer_graph(model)
    scores = {n: torch.rand(graph[n].out_channels) for n in graph.filter_prunable()}
    with pytest.warns(UserWarning, match="out of reach"):
        removed, _ = select_filters(
            scores, Target(0.99, "params"), model, graph, CostModel(model, (64,))
        )
    assert {k: len(v) for k, v in removed.items()} == {"fc1": 28, "fc2": 14}


def test_protected_filters_and_per_layer_caps_are_respected():
    model = build_model("mlp_mnist", 10, in_features=64, hidden=[32, 16])
    graph = trace_layer_graph(model)
    scores = {n: torch.arange(graph[n].out_channels, dtype=torch.float) for n in ["fc1", "fc2"]}
    protected = {"fc1": torch.arange(32) < 4}
    with pytest.warns(UserWarning):
        removed, _ = select_filters(
            scores,
            Target(0.95, "params"),
            model,
            graph,
            CostModel(model, (64,)),
            {"fc1": 0.5, "fc2": 0.25},
            protected,
        )
    assert len(removed["fc1"]) == 16 and min(removed["fc1"]) >= 4
    assert len(removed["fc2"]) == 4


def test_target_labels_round_trip_and_validate():
    target = Target(0.5, "flops", "global")
    assert target.label == "flops50-global"
    assert Target.parse(target.label) == target
    with pytest.raises(ConfigError):
        Target(1.2)
    with pytest.raises(ConfigError):
        Target.parse("half")


def test_plan_round_trip_and_mismatch(tmp_path):
    model = build_model("mlp_mnist", 10, in_features=64, hidden=[32, 16])
    graph = trace_layer_graph(model)
    plan = PruningPlan("l1", "filter", filter_masks(model, graph, {"fc1": [1]}), {"k": 1})
    plan.save(tmp_path / "plan.pt")
    loaded = PruningPlan.load(tmp_path / "plan.pt")
    assert loaded.info == {"k": 1} and loaded.pruned_elements() == plan.pruned_elements()
    loaded.check_against(model)
    other = build_model("mlp_mnist", 10, in_features=64, hidden=[16, 16])
    with pytest.raises(CheckpointError, match="shape"):
        loaded.check_against(other)
    (tmp_path / "cut.pt").write_bytes((tmp_path / "plan.pt").read_bytes()[:100])
    with pytest.raises(CheckpointError, match="truncated"):
        PruningPlan.load(tmp_path / "cut.pt")


def test_mask_enforcer_keeps_pruned_weights_at_zero():
    model = build_model("mlp_mnist", 10, in_features=64, hidden=[32, 16])
    graph = trace_layer_graph(model)
    masks = filter_masks(model, graph, {"fc1": [0, 1]})
    apply_masks(model, masks)
    enforce = MaskEnforcer(model, masks)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, weight_decay=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(8, 64)).sum().backward()
        optimizer.step()
        enforce(model)
    assert model.fc1.weight[:2].abs().sum() == 0 and model.fc2.weight[:, :2].abs().sum() == 0


def test_registry_lists_builtin_pruners_and_rejects_unknown():
    load_pruner_modules()
    assert {"l1", "random"} <= set(PRUNERS.names())
    with pytest.raises(UnknownNameError, match="valid choices: .*l1"):
        build_pruner("l2_typo")
    with pytest.raises(ConfigError, match="unknown option"):
        build_pruner("l1", {"p": 2})


def test_pruner_from_a_user_module_file(tmp_path):
    module = tmp_path / "my_pruner.py"
    module.write_text(
        "import torch\n"
        "from snacs.pruning.pruner import FilterPruner, Scores, register_pruner\n"
        "@register_pruner\n"
        "class Last(FilterPruner):\n"
        "    name = 'test_last_filters'\n"
        "    citation = 'test'\n"
        "    def score(self, ctx):\n"
        "        return Scores({n: -torch.arange(ctx.graph[n].out_channels, dtype=torch.float)\n"
        "                       for n in ctx.graph.filter_prunable()})\n"
    )
    load_pruner_modules([str(module)])
    load_pruner_modules([str(module)])  # idempotent: the workflow loads modules repeatedly
    assert PRUNERS.get("test_last_filters").granularity == "filter"
    with pytest.raises(SnacsError, match="does not exist"):
        load_pruner_modules([str(tmp_path / "missing.py")])


def test_activation_cache_round_trip_keeps_merged_inputs(tmp_path):
    from torch.utils.data import TensorDataset

    from snacs.pruning.activations import Activations
    from snacs.pruning.context import PruneContext

    model = randomise_norms(build_model("resnet_cifar", 10, depth=8, width_mult=0.5))
    data = TensorDataset(torch.randn(12, 3, 32, 32), torch.arange(12) % 3)
    path = tmp_path / "acts.pt"
    ctx = PruneContext(model, (3, 32, 32), 10, data, activations_path=path, progress=False)
    collected = ctx.activations()
    assert path.is_file()
    assert set(collected.inputs) == set(ctx.graph.merged_input_layers()) != set()
    first = ctx.graph.names[0]
    assert collected.layers[first].shape == (12, ctx.graph[first].out_channels)
    loaded = Activations.load(path)
    for name, values in collected.inputs.items():
        torch.testing.assert_close(loaded.inputs[name], values)
    torch.testing.assert_close(loaded.labels, collected.labels)


def test_plan_metadata_with_numpy_values_stays_loadable(tmp_path):
    import numpy as np

    plan = PruningPlan("x", "connection", {}, {"cap": np.float64(0.5), "curve": np.ones(2)})
    plan.save(tmp_path / "plan.pt")
    assert PruningPlan.load(tmp_path / "plan.pt").info == {"cap": 0.5, "curve": [1.0, 1.0]}


def test_atomic_writes_get_normal_file_permissions(tmp_path):
    import os

    from snacs.io import write_text

    write_text(tmp_path / "out.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o666 & ~mask
