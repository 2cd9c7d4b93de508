"""Baseline pruners' known answers on a tiny network (the contract every pruner
meets is tested over the registry, tests/test_competing_pruners.py)."""

from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from snacs.models import build_model
from snacs.pruning.context import PruneContext
from snacs.pruning.pruner import build_pruner, load_pruner_modules
from snacs.pruning.run import run_pruner
from snacs.pruning.target import Target
from tests.conftest import randomise_norms


@pytest.fixture
def ctx():
    load_pruner_modules()
    torch.manual_seed(0)
    model = randomise_norms(build_model("vgg16_cifar", 10, width_mult=0.125))
    data = TensorDataset(torch.randn(40, 3, 32, 32), torch.arange(40) % 10)
    return PruneContext(model=model, input_shape=(3, 32, 32), num_classes=10, subset=data)


def test_l1_ranks_a_zeroed_filter_least_important(ctx):
    layer = ctx.graph.filter_prunable()[3]
    with torch.no_grad():
        ctx.model.get_submodule(layer).weight[5].zero_()
    scores = build_pruner("l1").score(ctx).per_layer[layer]
    assert scores.argmin().item() == 5
    outcome = run_pruner(build_pruner("l1"), ctx, Target(0.3, "flops"))
    assert not outcome.plan.masks[f"{layer}.weight"][5].any()
    assert (
        outcome.timings["score_seconds"] >= 0 and outcome.plan.info["target"] == "flops30-layerwise"
    )


def test_the_readme_example_pruner_works(ctx, tmp_path):
    """The "Adding a pruner" example in the README is real code: load it and prune with it."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Adding a pruner", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    module = tmp_path / "readme_bn_scale.py"
    module.write_text(code)
    load_pruner_modules([str(module)])
    outcome = run_pruner(build_pruner("bn_scale"), ctx, Target(0.4, "params", "global"))
    assert ctx.cost.reduction(outcome.plan.masks, "params") >= 0.4
    layer = ctx.graph.filter_prunable()[0]
    weakest = ctx.model.get_submodule(ctx.graph[layer].norm).weight.abs().argmin().item()
    removed = ~outcome.plan.masks[f"{layer}.weight"].flatten(1).any(dim=1)
    assert removed[weakest] or not removed.any()
