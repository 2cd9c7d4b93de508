"""Honest accounting: masked counts credit the weights masks leave dead, never below slim."""

import pytest
import torch

from snacs.metrics import count_macs, count_params, credited_masks
from snacs.models import build_model
from snacs.pipeline.counts import model_counts
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.masking import filter_masks
from snacs.pruning.slim import slim_model
from snacs.pruning.target import CostModel
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
