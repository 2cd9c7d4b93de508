"""The SNACS pruner's parts (groups, weight term, limits, sensitivity, plans) and the whole."""

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from snacs.algorithm.acmi import PairScores
from snacs.algorithm.constraints import limit_grid, local_threshold, upper_limit
from snacs.algorithm.pruner import SnacsOptions
from snacs.algorithm.sensitivity import group_sensitivity, protected_groups
from snacs.algorithm.weights import connection_strength, group_means, normalisation_range, phi
from snacs.errors import ConfigError
from snacs.estimators.edge import EdgeOptions
from snacs.models import build_model
from snacs.options import build_options
from snacs.pruning.connections import ConnectionOptions, connection_plan
from snacs.pruning.context import PruneContext
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.groups import group_ids
from snacs.pruning.pruner import build_pruner, load_pruner_modules
from snacs.pruning.run import run_pruner
from snacs.pruning.scores import ConnectionScores
from snacs.pruning.target import Target
from tests.conftest import randomise_norms


def test_group_ids_are_contiguous_and_near_equal():
    assert group_ids(8, 4).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert group_ids(5, 10).tolist() == [0, 1, 2, 3, 4]  # more groups than filters
    assert torch.bincount(group_ids(10, 3)).tolist() == [4, 3, 3]


def test_weight_term_is_normalised_kernel_mean_per_group():
    weight = torch.arange(2 * 4 * 3 * 3, dtype=torch.float).reshape(2, 4, 3, 3)
    strength = connection_strength(weight, 0.0, float(weight.max()))
    assert strength.shape == (2, 4)
    assert strength.min() >= 0 and strength.max() <= 1
    assert strength[0, 0].item() == pytest.approx(weight[0, 0].mean().item() / weight.max().item())
    means = group_means(strength, torch.tensor([0, 0]), torch.tensor([0, 0, 1, 1]))
    assert means.shape == (1, 2)
    assert means[0, 1].item() == pytest.approx(strength[:, 2:].mean().item())
    linear = torch.ones(3, 8)
    assert connection_strength(linear, 0.0, 2.0, features_per_channel=4).shape == (3, 2)
    assert phi("exp_weight", torch.zeros(1)).item() == 1.0
    with pytest.raises(ConfigError):
        phi("cube", torch.zeros(1))


def test_state_dict_range_covers_buffers():
    model = build_model("vgg16_cifar", 10, width_mult=0.125)
    model.features[1].running_var.fill_(7.0)
    assert normalisation_range(model, "state_dict")[1] >= 7.0
    assert normalisation_range(model, "conv_linear")[1] < 7.0


def test_upper_limit_rule_and_grid():
    grid = limit_grid(5.0)
    assert grid[0] == 0.01 and grid[-1] == 0.96 and len(grid) == 20
    accuracies = np.linspace(1.0, 0.0, len(grid))  # accuracy falls as pruning grows
    # floor = 1 - 0.7 * 1 = 0.3: the last grid point with accuracy >= 0.3
    expected = max(q for q, a in zip(grid, accuracies, strict=True) if a >= 0.3 - 1e-12)
    assert upper_limit(accuracies, grid, 0.7) == expected
    # unique sorted [1, 2, 3]: index round(0.34 * 3) = 1
    assert local_threshold(torch.tensor([3.0, 1.0, 2.0, 2.0]), 0.34) == 2.0


def test_sensitivity_protects_the_groups_consumers_lean_on():
    model = build_model("mlp_mnist", 10, in_features=16, hidden=[8, 6])
    graph = trace_layer_graph(model)
    with torch.no_grad():
        model.fc2.weight.fill_(-0.1)
        model.fc2.weight[:, 3] = 1.0  # every consumer leans on fc1's filter 3
    ids = group_ids(8, 8)
    scores = group_sensitivity(model, graph, "fc1", ids, normalisation_range(model, "conv_linear"))
    assert scores.argmax().item() == 3
    assert protected_groups(scores, "mean_std", "high", k=2.0).nonzero().flatten().tolist() == [3]
    assert not protected_groups(scores, "mean_std", "low", k=2.0)[3]
    assert protected_groups(scores, "fraction", "high", fraction=0.25).sum() == 2
    assert not protected_groups(scores, "none", "high").any()
    last = group_sensitivity(model, graph, "fc3", group_ids(10, 10), (0.0, 1.0))
    assert torch.all(last == 1)


def _random_pairs(model, graph, groups=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    pairs = {}
    for node in graph:
        if node.parents[0] == "<input>":
            continue
        child_ids = group_ids(node.out_channels, groups)
        parent_ids = group_ids(node.in_channels // node.features_per_channel, groups)
        rho = torch.rand(int(child_ids.max()) + 1, int(parent_ids.max()) + 1, generator=generator)
        pairs[node.name] = PairScores(node.name, rho, child_ids, parent_ids, rho, rho)
    return pairs


@pytest.mark.parametrize("share", [0.3, 0.6, 0.95])
def test_plans_respect_caps_and_protection(share):
    model = randomise_norms(build_model("vgg16_cifar", 10, width_mult=0.125))
    graph = trace_layer_graph(model)
    pairs = _random_pairs(model, graph)
    caps = {name: 0.2 + 0.05 * i for i, name in enumerate(pairs)}
    protected = {name: torch.arange(len(p.rho)) == 1 for name, p in pairs.items()}
    scores = ConnectionScores(pairs, caps, protected)
    plan = connection_plan(
        "snacs", scores, Target(share, "share", "global"), model, None, ConnectionOptions()
    )
    for name, pair in pairs.items():
        mask = plan.masks[f"{name}.weight"]
        pruned_share = 1 - mask.float().mean().item()
        assert pruned_share <= caps[name] + 1e-9
        protected_rows = (pair.child_ids == 1).nonzero().flatten()
        assert mask[protected_rows].all()
    assert plan.info["global_share"] == share


def test_options_are_validated():
    with pytest.raises(ConfigError, match="layer_cap"):
        SnacsOptions(layer_cap=1.5)
    with pytest.raises(ConfigError, match="normalise"):
        SnacsOptions(normalise="zscore")
    with pytest.raises(ConfigError, match="estimator"):
        SnacsOptions(estimator={"method": "chain"})
    with pytest.raises(TypeError, match="bandwidth"):
        build_options(SnacsOptions, {"estimator": {"bandwidth": 3}})
    built = build_options(
        SnacsOptions, {"estimator": {"method": "chain", "bandwidth_range": [1, 2]}}
    )
    assert built.estimator == EdgeOptions(method="chain", bandwidth_range=(1, 2))


@pytest.fixture(scope="module")
def small_context():
    load_pruner_modules()
    torch.manual_seed(0)
    model = randomise_norms(build_model("resnet_cifar", 10, depth=8, width_mult=0.5))
    data = TensorDataset(torch.randn(120, 3, 32, 32), torch.arange(120) % 10)
    return PruneContext(model, (3, 32, 32), 10, data, progress=False)


@pytest.mark.parametrize("method", ["snacs", "snacs_filter"])
def test_snacs_end_to_end_on_a_residual_network(small_context, method):
    ctx = small_context
    pruner = build_pruner(method, {"groups": 4, "constraint_step_percent": 25.0})
    first = run_pruner(pruner, ctx, Target(0.2, "flops", "global"))
    second = run_pruner(pruner, ctx, Target(0.2, "flops", "global"))
    for name, mask in first.plan.masks.items():
        assert torch.equal(mask, second.plan.masks[name]), "SNACS must be deterministic"
    assert ctx.cost.reduction(first.plan.masks, "flops") >= 0.2 or not first.plan.info.get(
        "target_met", True
    )
    scores = first.scores
    assert set(scores.timings) == {"acmi_seconds", "constraint_seconds", "sensitivity_seconds"}
    # both variants (connection and filter plans) record the parts for the timings table
    assert first.plan.info["score_timings"] == scores.timings
    assert set(first.plan.info["layer_caps"]) == set(scores.per_layer)
    if method == "snacs":
        # Residual data flow: a conv after an addition is paired with its real (merged) input.
        merged = [n for n in ctx.graph.merged_input_layers() if n in scores.groups]
        assert merged
        for name in merged:
            assert scores.groups[name].parent_ids.numel() == ctx.graph[name].in_channels
        constraints = first.plan.info["constraints"]
        assert set(constraints) == set(scores.groups)
        for name, record in constraints.items():
            assert record["limit"] == scores.layer_caps[name]
            assert len(record["accuracies"]) == len(record["shares"]) == 4
            assert record["chance"] == pytest.approx(0.1)


def test_published_reading_is_direct_and_seeds_report_stability(small_context):
    assert SnacsOptions().estimator == EdgeOptions() and EdgeOptions().method == "direct"
    ctx = small_context
    options = {"groups": 4, "constraints": False, "estimator": {"method": "residual", "seeds": 2}}
    result = run_pruner(build_pruner("snacs", options), ctx, Target(0.2, "flops", "global"))
    stability = result.plan.info["stability"]
    assert set(stability["per_layer"]) == set(result.scores.groups)
    assert all(-1 <= value <= 1 for value in stability["per_layer"].values())
    assert min(stability["per_layer"].values()) <= stability["overall"]
    assert stability["overall"] <= max(stability["per_layer"].values())
    single = run_pruner(
        build_pruner("snacs", {**options, "estimator": {"method": "residual"}}),
        ctx,
        Target(0.2, "flops", "global"),
    )
    assert "stability" not in single.plan.info


def test_prepare_loads_every_kernel_scoring_uses_and_is_timed_apart():
    """Code loading (numba's cached kernels, ~0.4 s per process) stays out of scoring time."""
    import subprocess
    import sys

    code = """
import numba, torch
from torch.utils.data import TensorDataset
import snacs.estimators.edge.compiled as compiled
from snacs.models import build_model
from snacs.options import build_options
from snacs.pruning.context import PruneContext
from snacs.pruning.pruner import build_pruner, load_pruner_modules
from snacs.pruning.run import run_pruner
from snacs.pruning.target import Target

def loaded():
    return {
        name: len(kernel.signatures)
        for name, kernel in vars(compiled).items()
        if isinstance(kernel, numba.core.registry.CPUDispatcher)
    }

load_pruner_modules()
model = build_model("mlp_mnist", 4, in_features=12, hidden=[16, 8])
data = TensorDataset(torch.randn(80, 12), torch.arange(80) % 4)
ctx = PruneContext(model, (12,), 4, data, progress=False)
pruner = build_pruner("snacs", {"groups": 4, "constraint_step_percent": 25.0})
assert sum(loaded().values()) == 0, loaded()
pruner.prepare(ctx)
prepared = loaded()
outcome = run_pruner(pruner, ctx, Target(0.2, "flops", "global"))
assert loaded() == prepared, (prepared, loaded())
assert sum(prepared.values()) > 0
assert set(outcome.timings) == {
    "activation_seconds", "prepare_seconds", "score_seconds", "plan_seconds"
}
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
