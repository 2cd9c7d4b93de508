"""Operating constraints: the fast computation gives the straightforward algorithm's limits.

The oracle below is the plain algorithm: for every grid share it reruns the whole model
over the subset, replays the layer with the masked weight on its real input, pools, clips
and asks scikit-learn's SVM for its accuracy. The fast path (patch means, batched masks,
torch decision function) must give the same accuracies and therefore the same limits.
"""

import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.svm import SVC
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from snacs.algorithm.constraints import (
    capture_patch_means,
    limit_grid,
    local_threshold,
    operating_constraints,
    patch_means,
    upper_limit,
)
from snacs.models import build_model
from snacs.pruning.activations import collect_activations, pooled_output
from snacs.pruning.connections import connection_mask
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.groups import group_ids
from snacs.pruning.pairing import scored_children
from snacs.pruning.scores import GroupScores
from tests.conftest import randomise_norms


class OddShapes(nn.Module):
    """Strided, dilated, unpadded and non-square convolutions, and a linear layer fed by a
    flattened 4x4 map (several input columns per parent channel)."""

    def __init__(self, classes: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 12, 3, padding=2, dilation=2, bias=False)
        self.conv3 = nn.Conv2d(12, 12, (3, 1), stride=(2, 1), padding=(0, 1))
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc1 = nn.Linear(12 * 16, 10)
        self.fc2 = nn.Linear(10, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.conv2(x))
        x = F.relu(self.conv3(x))
        x = self.pool(x).flatten(1)
        return self.fc2(F.relu(self.fc1(x)))


def oracle_curve(model, name, scores, dense, labels, loader, grid):
    """The plain algorithm: rerun the model once per share with the layer's masked weight."""
    module = model.get_submodule(name)
    weight = module.weight.detach()
    svm = SVC(kernel="rbf", tol=1e-5, random_state=0).fit(dense.clamp_min(0).numpy(), labels)
    accuracies = []
    for share in grid:
        pruned = scores.rho <= local_threshold(scores.rho, share)
        masked = weight * connection_mask(scores, pruned, weight.shape).to(weight.dtype)
        outputs = []

        def hook(_m, inputs, _out, masked=masked, outputs=outputs):
            if isinstance(module, nn.Conv2d):
                replay = F.conv2d(
                    inputs[0],
                    masked,
                    module.bias,
                    module.stride,
                    module.padding,
                    module.dilation,
                    module.groups,
                )
            else:
                replay = F.linear(inputs[0], masked, module.bias)
            outputs.append(pooled_output(replay).float().clamp_min(0))

        handle = module.register_forward_hook(hook)
        with torch.no_grad():
            for batch, _ in loader:
                model(batch)
        handle.remove()
        accuracies.append(svm.score(torch.cat(outputs).numpy(), labels.numpy()))
    return np.array(accuracies)


def class_images(classes: int, per_class: int, shape, seed: int = 0):
    """Images whose mean depends on the class, so the SVMs find real class information."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(classes).repeat_interleave(per_class)
    centres = torch.randn(classes, *shape, generator=generator)
    noise = torch.randn(labels.numel(), *shape, generator=generator)
    return TensorDataset(centres[labels] + 1.5 * noise, labels)


def random_scores(model, graph, groups: int, seed: int) -> dict[str, GroupScores]:
    """Seeded ACMI-shaped scores with ties (the local threshold works on unique values)."""
    generator = torch.Generator().manual_seed(seed)
    scores = {}
    for node in scored_children(graph):
        module = model.get_submodule(node.name)
        channels = module.weight.shape[1] // node.features_per_channel
        child_ids = group_ids(node.out_channels, groups)
        parent_ids = group_ids(channels, groups)
        shape = (int(child_ids.max()) + 1, int(parent_ids.max()) + 1)
        rho = torch.randint(0, 12, shape, generator=generator).double() / 7
        scores[node.name] = GroupScores(node.name, rho, child_ids, parent_ids)
    return scores


CASES = {
    "odd_shapes": (lambda: OddShapes(4), (3, 12, 12), 4, 3),
    "resnet": (
        lambda: build_model("resnet_cifar", 5, depth=8, width_mult=0.5),
        (3, 16, 16),
        5,
        4,
    ),
}


@pytest.mark.parametrize(("case", "workers"), [("odd_shapes", 1), ("resnet", 2)])
def test_fast_constraints_equal_the_plain_algorithm(case, workers):
    build, shape, classes, groups = CASES[case]
    torch.manual_seed(1)
    model = randomise_norms(build())
    graph = trace_layer_graph(model)
    data = class_images(classes, 24, shape)
    loader = DataLoader(data, batch_size=32)
    names = [n.name for n in scored_children(graph)]
    acts = collect_activations(model, names, loader, torch.device("cpu"), progress=False)
    scores = random_scores(model, graph, groups, seed=2)
    grid = limit_grid(10.0)
    fast = operating_constraints(
        model,
        scores,
        acts.layers,
        acts.labels,
        loader,
        torch.device("cpu"),
        grid,
        alpha=0.7,
        progress=False,
        workers=workers,
    )
    informative = 0
    for name in names:
        expected = oracle_curve(
            model, name, scores[name], acts.layers[name], acts.labels, loader, grid
        )
        result = fast[name]
        assert np.array_equal(np.array(result.accuracies), expected), name
        assert result.limit == upper_limit(expected, grid, 0.7), name
        assert result.shares == tuple(grid)
        informative += expected.max() > expected.min()
    assert informative >= len(names) // 2, "the case must make the curves move"


@pytest.mark.parametrize(
    "conv",
    [
        nn.Conv2d(4, 5, 3, padding=1),
        nn.Conv2d(4, 5, 3, stride=2, padding=1),
        nn.Conv2d(4, 5, (3, 5), stride=(1, 2), padding=(2, 1), dilation=(2, 1)),
        nn.Conv2d(4, 6, 1, stride=3),
    ],
)
def test_pooled_conv_output_is_the_weight_times_the_patch_means(conv):
    x = torch.randn(3, 4, 11, 9)
    means = patch_means(conv, x)
    expected = pooled_output(conv(x)).double()
    got = means.flatten(1) @ conv.weight.detach().double().flatten(1).T + conv.bias.double()
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_layers_captured_in_one_pass_match_each_layers_input():
    torch.manual_seed(0)
    model = OddShapes().eval()
    data = class_images(4, 5, (3, 12, 12))
    captured = capture_patch_means(
        model, ["conv2", "fc1"], DataLoader(data, batch_size=7), torch.device("cpu")
    )
    assert captured["conv2"].shape == (20, 8, 9)
    assert captured["fc1"].shape == (20, 12 * 16, 1)


def test_near_chance_layers_are_flagged_and_named(caplog):
    torch.manual_seed(0)
    model = OddShapes().eval()
    with torch.no_grad():
        model.fc2.weight.zero_()  # fc2 outputs only its bias: no class information
    graph = trace_layer_graph(model)
    data = class_images(4, 12, (3, 12, 12))
    loader = DataLoader(data, batch_size=16)
    names = [n.name for n in scored_children(graph)]
    acts = collect_activations(model, names, loader, torch.device("cpu"), progress=False)
    scores = random_scores(model, graph, 3, seed=0)
    with caplog.at_level(logging.WARNING):
        results = operating_constraints(
            model,
            scores,
            acts.layers,
            acts.labels,
            loader,
            torch.device("cpu"),
            limit_grid(25.0),
            0.7,
            progress=False,
        )
    assert results["fc2"].near_chance
    assert results["fc2"].dense_accuracy == pytest.approx(0.25)
    assert results["fc2"].chance == pytest.approx(0.25)
    assert not results["fc1"].near_chance and results["fc1"].dense_accuracy > 0.45
    assert "fc2 0.25" in caplog.text and "near chance" in caplog.text
    assert "fc1" not in caplog.text
    record = results["fc2"].to_dict()
    assert record["shares"] == [0.01, 0.26, 0.51, 0.76] and len(record["accuracies"]) == 4
