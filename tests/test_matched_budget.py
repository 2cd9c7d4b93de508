"""Matched budgets: every method pruned to the compression a reference method reached."""

import pytest
import torch
from record_fixtures import prune_record

from snacs.config import matched_label, parse_matched_label, runs
from snacs.config_file import validate_config
from snacs.errors import ConfigError
from snacs.io import read_json, write_json
from snacs.models import build_model
from snacs.pipeline.prune import resolve_target
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.records import RecordError, Reductions
from snacs.pruning.target import CostModel, select_filters


def _config(**extra):
    bench = {
        "dataset": {"name": "digits"},
        "model": {"arch": "mlp_mnist"},
        "dense": {"recipe": {"epochs": 1}},
        "finetune": {"recipe": {"epochs": 1}},
        "statistics": {"samples_per_class": 10},
    }
    return validate_config(
        {"benchmarks": {"b": bench}, "methods": {"snacs": {}, "l1": {}, "random": {}}, **extra}
    )


def test_matched_runs_follow_every_reference_run():
    config = _config(
        targets=[{"fraction": 0.3}, {"fraction": 0.5}],
        seeds=[0, 1],
        matched_budget={"reference": "snacs"},
    )
    planned = runs(config)
    matched = [r for r in planned if r[2].startswith("match-")]
    assert len(planned) == 3 * 2 * 2 + len(matched)
    assert len(matched) == 2 * 2 * 2  # (l1, random) x targets x seeds
    assert ("b", "l1", "match-params-global-of-flops50-layerwise", 1) in matched
    assert parse_matched_label(matched_label("flops", "layerwise", "share60-global")) == (
        "flops",
        "layerwise",
        "share60-global",
    )
    with pytest.raises(ConfigError, match="matched_budget.reference"):
        _config(matched_budget={"reference": "hrank"})


def test_matched_target_reads_the_reference_result(tmp_path):
    reference = prune_record(
        tmp_path / "prune.json",
        "snacs",
        "share60-global",
        0,
        achieved=Reductions(params=0.4321, flops=0.5, slim_params=0.05, slim_flops=0.06),
    )
    label = "match-params-global-of-share60-global"
    target = resolve_target(label, reference, count="masked")
    assert (target.fraction, target.resource, target.scope) == (0.4321, "params", "global")
    # By default the deployable (slim) reduction is matched, and searched on the slim count.
    slim = resolve_target(label, reference)
    assert (slim.fraction, slim.count) == (0.05, "slim")
    # A reference written before reductions were typed is refused, not misread.
    old = read_json(reference)
    old["achieved"] = {"params_reduction": 0.4321, "slim_params_reduction": 0.05}
    write_json(reference, old)
    with pytest.raises(RecordError, match=r"\(achieved\) lacks flops, params, slim_flops"):
        resolve_target(label, reference)
    with pytest.raises(ConfigError, match="--reference"):
        resolve_target("match-params-global-of-share60-global")


@pytest.mark.parametrize("resource", ["params", "flops"])
def test_filter_pruners_land_within_one_point_of_a_matched_budget(resource, tmp_path):
    model = build_model("vgg16_cifar", 10)
    graph = trace_layer_graph(model)
    cost = CostModel(model, (3, 32, 32))
    generator = torch.Generator().manual_seed(0)
    scores = {
        n: torch.rand(graph[n].out_channels, generator=generator) for n in graph.filter_prunable()
    }
    slim = {"params": 0.0, "flops": 0.0} | {resource: 0.6173}
    reference = prune_record(
        tmp_path / "prune.json",
        "snacs",
        "share60-global",
        0,
        achieved=Reductions(0.0, 0.0, slim["params"], slim["flops"]),
    )
    target = resolve_target(f"match-{resource}-global-of-share60-global", reference)
    _, masks = select_filters(scores, target, model, graph, cost)
    achieved = cost.reduction(masks, resource, "slim")
    assert 0.6173 <= achieved < 0.6173 + 0.01
