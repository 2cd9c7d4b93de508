"""Competing pruners (NISP, ThiNet, HRank, CHIP, Taylor, MINT) on tiny networks."""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch import nn
from torch.utils.data import TensorDataset

from baselines.chip import channel_independence
from baselines.hrank import feature_map_ranks
from baselines.thinet import channel_contributions, removal_rank
from snacs.cli import main
from snacs.errors import ConfigError
from snacs.models import build_model
from snacs.pruning.activations import Activations
from snacs.pruning.context import PruneContext
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.pairing import scored_children
from snacs.pruning.pruner import PRUNERS, build_pruner, load_pruner_modules
from snacs.pruning.run import PruneOutcome, run_pruner
from snacs.pruning.scores import GroupScores
from snacs.pruning.target import TARGET_TOLERANCE, Target
from tests.conftest import SMALL_MODELS, randomise_norms

load_pruner_modules()
# The contract tests run on every registered pruner: a new one is tested with no edit here.
FILTER_PRUNERS = [n for n in PRUNERS.names() if PRUNERS.get(n).granularity == "filter"]
CONNECTION_PRUNERS = [n for n in PRUNERS.names() if PRUNERS.get(n).granularity == "connection"]
# Methods whose importance of an all-zero filter is exactly zero (a known answer, not a
# contract: random scores and SNACS's ACMI say nothing about it).
IMPORTANCE_METHODS = ["nisp", "thinet", "hrank", "chip", "taylor"]


def _context(arch: str, images: int = 48, seed: int = 0) -> PruneContext:
    load_pruner_modules()
    name, knobs, shape = SMALL_MODELS[arch]
    torch.manual_seed(0)
    model = randomise_norms(build_model(name, 10, **knobs))
    generator = torch.Generator().manual_seed(1)
    data = TensorDataset(
        torch.randn(images, *shape, generator=generator), torch.arange(images) % 10
    )
    return PruneContext(
        model=model,
        input_shape=shape,
        num_classes=10,
        subset=data,
        seed=seed,
        batch_size=16,
        progress=False,
    )


# --- every pruner: shared contract ---------------------------------------------------------


@pytest.mark.parametrize("method", PRUNERS.names())
def test_every_pruner_declares_what_the_harness_reads(method):
    pruner = PRUNERS.get(method)
    assert pruner.name == method and pruner.granularity in ("filter", "connection")
    assert pruner.citation and pruner.summary
    assert dataclasses.is_dataclass(pruner.Options)
    assert isinstance(build_pruner(method).options, pruner.Options)  # defaults are valid
    assert (pruner.color is None) == (pruner.marker is None)


@pytest.mark.parametrize("arch", sorted(SMALL_MODELS))
@pytest.mark.parametrize("method", FILTER_PRUNERS)
def test_filter_scores_cover_prunable_layers_and_are_deterministic(arch, method):
    ctx = _context(arch)
    first = build_pruner(method).score(ctx)
    second = build_pruner(method).score(ctx)
    assert list(first.per_layer) == ctx.graph.filter_prunable()
    for name, values in first.per_layer.items():
        assert values.shape == (ctx.graph[name].out_channels,)
        assert torch.isfinite(values).all()
        # lower means less important; SNACS's null-corrected ACMI may dip below zero
        assert method not in IMPORTANCE_METHODS or (values >= 0).all()
        assert values.unique().numel() > 1, f"{method} gives {name} one score for all filters"
        torch.testing.assert_close(values, second.per_layer[name], rtol=0, atol=0)


def _without_dead_channels(ctx: PruneContext) -> PruneContext:
    """Centred BN with positive scales and shifts, so no channel is dead after ReLU by chance."""
    with torch.no_grad():
        for module in ctx.model.modules():
            if isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d):
                module.running_mean.zero_()
                module.weight.abs_().add_(0.1)
                module.bias.abs_()
    return ctx


@pytest.mark.parametrize("method", IMPORTANCE_METHODS)
def test_a_zeroed_filter_is_ranked_least_important(method):
    ctx = _without_dead_channels(_context("vgg"))
    layer = ctx.graph.filter_prunable()[3]
    conv = ctx.model.get_submodule(layer)
    norm = ctx.model.get_submodule(ctx.graph[layer].norm)
    with torch.no_grad():
        for tensor in (conv.weight, conv.bias, norm.weight, norm.bias):
            tensor[5] = 0
    scores = build_pruner(method).score(ctx).per_layer[layer]
    assert scores[5] == 0
    others = torch.cat([scores[:5], scores[6:]])
    assert (others > 0).all(), f"{method}: another filter ties with the zeroed one"


def _judged_on_the_counted_reduction(ctx: PruneContext, outcome: PruneOutcome, target: Target):
    """The verdict is made once, on the reduction the record reports, which the search's
    ``CostModel`` reads alike: a plan is met exactly when that number is within 1 pp."""
    counted = outcome.counts.reductions.of(target.resource, target.count)
    assert counted == pytest.approx(ctx.cost.achieved(outcome.plan.masks, target), abs=1e-12)
    assert outcome.verdict.achieved == counted
    met = abs(counted - target.fraction) <= TARGET_TOLERANCE
    assert outcome.verdict.met == outcome.plan.info["target_met"] == met
    assert outcome.plan.info["target_miss_reason"] == outcome.verdict.miss_reason
    return met


@pytest.mark.parametrize("method", FILTER_PRUNERS)
def test_filter_pruner_plan_meets_a_flops_target(method):
    ctx = _context("resnet")
    target = Target(0.25, "flops", "global")
    outcome = run_pruner(build_pruner(method), ctx, target)
    assert outcome.plan.granularity == "filter"
    met = _judged_on_the_counted_reduction(ctx, outcome, target)
    assert met or method not in IMPORTANCE_METHODS


@pytest.mark.parametrize("method", CONNECTION_PRUNERS)
def test_connection_pruner_plan_masks_weights_and_says_whether_it_met_the_target(method):
    ctx = _context("resnet")
    target = Target(0.25, "flops", "global")
    outcome = run_pruner(build_pruner(method), ctx, target)
    assert outcome.plan.granularity == "connection"
    weights = dict(ctx.model.named_parameters())
    for key, mask in outcome.plan.masks.items():
        assert mask.dtype == torch.bool and mask.shape == weights[key].shape
    _judged_on_the_counted_reduction(ctx, outcome, target)


def test_a_reachable_budget_overshot_by_one_filter_is_judged_missed():
    # 64-32-16-10: one hidden unit is ~3 % of the FLOPs, so some budgets cannot land within
    # 1 pp although the search reaches them; the plan says so, as its record does.
    ctx = _context("mlp")
    verdicts = []
    for fraction in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6):
        target = Target(fraction, "flops", "global")
        outcome = run_pruner(build_pruner("l1"), ctx, target)
        _judged_on_the_counted_reduction(ctx, outcome, target)
        verdicts.append(outcome.verdict)
    missed = [v.miss_reason for v in verdicts if not v.met]
    assert missed and all(reason.startswith("overshoot") for reason in missed)


# --- method-specific known answers ---------------------------------------------------------


def test_nisp_propagates_uniform_logit_importance_through_abs_weights():
    ctx = _context("mlp")
    weights = {
        name: ctx.model.get_submodule(name).weight.detach().double() for name in ctx.graph.names
    }
    expected_fc2 = weights["fc3"].abs().T @ torch.ones(10, dtype=torch.float64)
    expected_fc1 = weights["fc2"].abs().T @ expected_fc2
    scores = build_pruner("nisp").score(ctx).per_layer
    torch.testing.assert_close(scores["fc2"], expected_fc2)
    torch.testing.assert_close(scores["fc1"], expected_fc1)


def test_nisp_counts_every_consumer_of_a_residual_sum():
    """A block's inner conv gets importance through its block and all later readers of the sum."""
    ctx = _context("resnet")
    base = build_pruner("nisp").score(ctx).per_layer["layer1.0.conv1"]
    with torch.no_grad():  # strengthen a later block that reads the sum the first block writes
        ctx.model.get_submodule("layer3.2.conv1").weight.mul_(10.0)
    boosted = build_pruner("nisp").score(ctx).per_layer["layer1.0.conv1"]
    assert (boosted > base).all()


def test_thinet_greedy_order_follows_reconstruction_error_not_norms():
    direction = torch.tensor([1.0, 2.0, -1.0, 0.5])  # norm 2.5
    orthogonal = torch.tensor([2.0, -1.0, 0.0, 0.0])
    contributions = torch.stack(
        [direction, -0.9 * direction, 2.4 * orthogonal / orthogonal.norm(), 0 * direction], dim=1
    )
    # The zero column first; then -0.9v (norm 2.25, the smallest left); then v, which cancels
    # it, before the orthogonal column although that one has the smaller norm (2.4 < 2.5).
    assert removal_rank(contributions).tolist() == [2.0, 1.0, 3.0, 0.0]


@pytest.mark.parametrize("stride", [1, 2])
def test_thinet_contributions_add_up_to_the_consumer_output(stride):
    torch.manual_seed(3)
    conv = nn.Conv2d(3, 4, kernel_size=3, stride=stride, padding=1)
    node = trace_layer_graph(nn.Sequential(conv))["0"]
    inputs = torch.randn(5, 3, 7, 7)
    generator = torch.Generator().manual_seed(0)
    parts = channel_contributions(conv, node, inputs, 6, generator)
    assert parts.shape == (30, 3)
    outputs = conv(inputs).detach()  # [5, 4, H, W]
    sums = parts.sum(dim=1).reshape(5, 6)
    for image in range(5):
        # every sampled sum is some output entry of that image, less its channel's bias
        candidates = (outputs[image] - conv.bias.detach()[:, None, None]).flatten()
        gaps = (candidates[None, :] - sums[image][:, None]).abs().min(dim=1).values
        assert (gaps < 1e-5).all()


def test_thinet_linear_consumer_contributions_match_the_matrix_product():
    torch.manual_seed(4)
    linear = nn.Linear(6, 1, bias=False)
    node = trace_layer_graph(nn.Sequential(linear))["0"]
    inputs = torch.randn(8, 6)
    parts = channel_contributions(linear, node, inputs, 2, torch.Generator().manual_seed(0))
    expected = (inputs * linear.weight.detach()).repeat_interleave(2, dim=0)
    torch.testing.assert_close(parts, expected)


def test_hrank_ranks_of_known_maps():
    rank_one = torch.outer(torch.arange(1.0, 5.0), torch.tensor([1.0, -2.0, 0.5, 3.0]))
    maps = torch.stack([torch.eye(4), rank_one, torch.zeros(4, 4)])[None]  # [1, 3, 4, 4]
    assert feature_map_ranks(maps).tolist() == [[4.0, 1.0, 0.0]]
    assert feature_map_ranks(torch.tensor([[0.0, 2.0]])).tolist() == [[0.0, 1.0]]


@pytest.mark.parametrize("pixels", [2, 9])  # fewer and more pixels than channels
def test_chip_matches_brute_force_nuclear_norms(pixels):
    maps = torch.randn(3, 5, pixels, generator=torch.Generator().manual_seed(pixels))
    maps[1, 2] = 0
    maps[2, 4] = maps[2, 0]  # a duplicated channel: removing either copy costs the same
    drops = channel_independence(maps)
    full = torch.linalg.matrix_norm(maps.double(), ord="nuc")
    for channel in range(5):
        masked = maps.double().clone()
        masked[:, channel] = 0
        expected = full - torch.linalg.matrix_norm(masked, ord="nuc")
        torch.testing.assert_close(drops[:, channel], expected, rtol=1e-7, atol=1e-9)
    assert drops[1, 2] == pytest.approx(0.0, abs=1e-9)
    assert drops[2, 4] == pytest.approx(drops[2, 0].item(), rel=1e-9)


def test_taylor_leaves_no_gradients_and_requires_grad_flags_as_they_were():
    ctx = _context("vgg")
    ctx.model.get_submodule(ctx.graph[ctx.graph.names[2]].norm).weight.requires_grad_(False)
    flags = {name: p.requires_grad for name, p in ctx.model.named_parameters()}
    build_pruner("taylor").score(ctx)
    assert all(p.grad is None for p in ctx.model.parameters())
    assert flags == {name: p.requires_grad for name, p in ctx.model.named_parameters()}


def test_taylor_without_batchnorm_uses_the_filter_weights():
    ctx = _context("mlp")
    with torch.no_grad():
        ctx.model.fc1.weight[4] = 0
        ctx.model.fc1.bias[4] = 0
    scores = build_pruner("taylor", {"max_batches": 1}).score(ctx).per_layer["fc1"]
    images, labels = next(iter(ctx.subset_loader()))
    loss = torch.nn.functional.cross_entropy(ctx.model(images), labels)
    weight_grad, bias_grad = torch.autograd.grad(loss, [ctx.model.fc1.weight, ctx.model.fc1.bias])
    first_order = (weight_grad * ctx.model.fc1.weight).sum(dim=1) + bias_grad * ctx.model.fc1.bias
    torch.testing.assert_close(scores, first_order.detach().double().pow(2))
    assert scores[4] == 0


def test_options_are_validated():
    load_pruner_modules()
    with pytest.raises(ConfigError):
        build_pruner("hrank", {"max_images": 0})
    with pytest.raises(ConfigError):
        build_pruner("thinet", {"samples_per_image": 0})
    with pytest.raises(ConfigError):
        build_pruner("mint", {"mst": "boruvka"})
    with pytest.raises(ConfigError):
        build_pruner("mint", {"layer_cap": 1.5})
    with pytest.raises(ConfigError):
        build_pruner("taylor", {"unknown": 1})


# --- MINT ----------------------------------------------------------------------------------


def test_mint_scores_every_child_layer_by_groups():
    ctx = _context("vgg", images=60)
    scores = build_pruner("mint", {"groups": 4}).score(ctx)
    children = [node.name for node in scored_children(ctx.graph)]
    assert list(scores.per_layer) == children
    for name in children:
        pair = scores.groups[name]
        assert isinstance(pair, GroupScores)
        node = ctx.graph[name]
        child_groups = 10 if node.is_output else 4
        assert pair.rho.shape == (child_groups, 4)
        assert pair.child_ids.shape == (node.out_channels,)
        assert pair.parent_ids.shape == (node.in_channels,)
        assert ((pair.rho >= 0) & (pair.rho <= 1)).all()
    again = build_pruner("mint", {"groups": 4}).score(ctx)
    reseeded = build_pruner("mint", {"groups": 4, "seed": 7}).score(ctx)
    assert all(torch.equal(scores.per_layer[n], again.per_layer[n]) for n in children)
    assert any(not torch.equal(scores.per_layer[n], reseeded.per_layer[n]) for n in children)


def test_mint_backends_give_identical_scores():
    ctx = _context("resnet", images=45)
    prim = build_pruner("mint", {"groups": 4}).score(ctx).per_layer
    scipy = build_pruner("mint", {"groups": 4, "mst": "scipy"}).score(ctx).per_layer
    assert prim.keys() == scipy.keys()
    assert all(torch.equal(prim[name], scipy[name]) for name in prim)


def _planted_activations(num_samples: int = 450) -> Activations:
    """fc2 follows fc1's second group; fc1's first group is an exact copy of unrelated noise."""
    rng = np.random.default_rng(0)
    fc1 = rng.normal(size=(num_samples, 4))
    fc1[:, 1] = fc1[:, 0]  # group 0: one noise column, twice
    fc2 = 0.2 * rng.normal(size=(num_samples, 4))
    fc2[:, :2] += 2.0 * fc1[:, 2:]
    fc2[:, 2:] += 2.0 * fc1[:, 2:] @ np.array([[1.0, -1.0], [0.5, 1.0]])
    fc3 = rng.normal(size=(num_samples, 10))
    layers = {name: torch.as_tensor(a) for name, a in [("fc1", fc1), ("fc2", fc2), ("fc3", fc3)]}
    labels = torch.arange(num_samples) % 10
    return Activations(layers=layers, labels=labels, seconds=0.0)


def test_mint_scores_noise_group_near_zero_and_connected_group_high():
    model = build_model("mlp_mnist", 10, in_features=8, hidden=[4, 4])
    ctx = PruneContext(
        model=model,
        input_shape=(8,),
        num_classes=10,
        subset=TensorDataset(torch.zeros(3, 8), torch.zeros(3, dtype=torch.long)),
        progress=False,
        _activations=_planted_activations(),
    )
    rho = build_pruner("mint", {"groups": 2}).score(ctx).per_layer["fc2"]
    assert rho.shape == (2, 2)  # [child groups, parent groups]
    assert (rho[:, 0] < 0.15).all()  # the NN bootstrap leaves a small positive bias
    assert (rho[:, 1] > rho[:, 0] + 0.35).all()


def test_mint_plan_meets_target_within_one_layer_cap():
    ctx = _context("vgg", images=60)
    pruner = build_pruner("mint", {"groups": 8, "layer_cap": 0.6})
    outcome = run_pruner(pruner, ctx, Target(0.3, "flops"))
    plan = outcome.plan
    assert plan.granularity == "connection" and plan.info["target_met"]
    achieved = ctx.cost.reduction(plan.masks, "flops")
    assert 0.3 <= achieved < 0.32  # ties at score 0 are ordered, so the target is not overshot
    first = ctx.graph.names[0]
    assert f"{first}.weight" not in plan.masks  # its parent is the input: never scored
    for name, share in plan.info["layer_pruned_share"].items():
        assert share <= 0.6 + 1e-9, name
    assert max(plan.info["layer_pruned_share"].values()) > 0.3
    nothing = run_pruner(build_pruner("mint", {"groups": 8, "global_share": 0.0}), ctx, Target(0.3))
    assert all(mask.all() for mask in nothing.plan.masks.values())


# --- discovery -----------------------------------------------------------------------------


def test_cli_lists_every_pruner_with_granularity_and_citation(capsys):
    assert main(["pruners"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for method in PRUNERS.names():
        line = next(line for line in lines if line.split()[0] == method)
        cls = PRUNERS.get(method)
        assert cls.granularity in line.split() and cls.citation in line
    assert PRUNERS.get("mint").granularity == "connection"
    assert {"l1", "random", "nisp", "thinet", "hrank", "chip", "taylor"} <= set(FILTER_PRUNERS)


def test_published_results_are_well_formed():
    """Reported rows: the agreed columns, the config's benchmark keys, numbers where numeric."""
    root = Path(__file__).resolve().parents[1]
    table = pd.read_csv(root / "paper_figures" / "published_results.csv")
    assert list(table.columns) == [
        "benchmark",
        "method",
        "params_pruned_pct",
        "flops_pruned_pct",
        "top1",
        "baseline_top1",
        "memory_mb",
        "source",
        "note",
    ]
    config = yaml.safe_load((root / "config" / "config.yaml").read_text())
    # Every reported row belongs to a configured benchmark; MobileNetV2 (journal version
    # only) has no recoverable published rows, the other paper benchmarks all have some.
    assert set(table["benchmark"]) == set(config["benchmarks"]) - {"cifar10_mobilenetv2"}
    numeric = ["params_pruned_pct", "flops_pruned_pct", "top1", "baseline_top1", "memory_mb"]
    assert all(pd.api.types.is_float_dtype(table[column]) for column in numeric)
    assert table["top1"].between(50, 100).all() and table["source"].notna().all()
    pruned = table[table["method"] != "Baseline"]
    assert pruned["params_pruned_pct"].between(0, 100).all()
    mint_vgg = table[(table["benchmark"] == "cifar10_vgg16") & (table["method"] == "MINT")]
    assert sorted(mint_vgg["params_pruned_pct"]) == [83.43, 83.46]
