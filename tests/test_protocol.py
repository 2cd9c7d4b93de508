"""Protocol pieces: BatchNorm re-estimation before the no-fine-tune evaluation, slim export."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from snacs.engine import recalibrate_batchnorm
from snacs.metrics import measure_latency
from snacs.models import build_model
from snacs.pruning.export import export_model
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.masking import apply_masks, filter_masks
from snacs.pruning.slim import slim_model
from tests.conftest import SMALL_MODELS, randomise_norms


def test_batchnorm_statistics_are_re_estimated_on_the_given_batches():
    torch.manual_seed(0)
    model = randomise_norms(build_model("vgg16_cifar", 10, width_mult=0.125))
    graph = trace_layer_graph(model)
    first = graph.names[0]
    norm = model.get_submodule(graph[first].norm)
    images = torch.randn(48, 3, 32, 32) * 2 + 1
    loader = DataLoader(TensorDataset(images, torch.zeros(48, dtype=torch.long)), batch_size=16)
    weights_before = {
        k: v.clone()
        for k, v in model.state_dict().items()
        if "running" not in k and "num_batches" not in k
    }
    used = recalibrate_batchnorm(model, loader, batches=2, device="cpu")
    assert used == 2
    with torch.no_grad():
        outputs = model.get_submodule(first)(images[:32])
    # Two equal batches, cumulative average: the mean over both batches.
    expected = outputs.mean(dim=(0, 2, 3))
    torch.testing.assert_close(norm.running_mean, expected, rtol=1e-4, atol=1e-5)
    assert norm.momentum == 0.1 and not model.training
    for name, value in model.state_dict().items():
        if name in weights_before:
            assert torch.equal(value, weights_before[name]), name
    # A network without BatchNorm, or zero batches, is left alone.
    mlp = build_model("mlp_mnist", 10, in_features=64, hidden=[16])
    assert recalibrate_batchnorm(mlp, loader, batches=5, device="cpu") == 0
    assert recalibrate_batchnorm(model, loader, batches=0, device="cpu") == 0


@pytest.mark.parametrize("arch", sorted(SMALL_MODELS))
def test_exported_slim_model_gives_the_masked_models_logits(arch, tmp_path):
    name, knobs, shape = SMALL_MODELS[arch]
    torch.manual_seed(0)
    model = randomise_norms(build_model(name, 10, **knobs))
    graph = trace_layer_graph(model)
    pruned = {n: [0, 2, 3] for n in graph.filter_prunable()}
    masks = filter_masks(model, graph, pruned)
    slim, removed = slim_model(model, graph, masks, shape)
    assert removed == {n: 3 for n in pruned}
    record = export_model(slim, shape, tmp_path / "model.pt2")
    assert record["format"] == "torch.export" and record["bytes"] > 0
    apply_masks(model, masks)
    # Loading needs nothing but torch; any batch size works.
    loaded = torch.export.load(str(tmp_path / "model.pt2")).module()
    for batch in (1, 5):
        inputs = torch.randn(batch, *shape)
        with torch.no_grad():
            expected = model.eval()(inputs)
            torch.testing.assert_close(loaded(inputs), expected, rtol=1e-4, atol=1e-5)


def test_latency_reports_its_spread():
    model = build_model("mlp_mnist", 10, in_features=64, hidden=[16])
    timing = measure_latency(model, (64,), warmup=1, repeats=9)
    assert timing["q1_ms"] <= timing["median_ms"] <= timing["q3_ms"]
    assert timing["iqr_ms"] == pytest.approx(timing["q3_ms"] - timing["q1_ms"])
    single = measure_latency(model, (64,), warmup=0, repeats=1)
    assert single["iqr_ms"] == 0.0
