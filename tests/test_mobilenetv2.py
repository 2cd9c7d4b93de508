"""MobileNetV2-CIFAR: golden counts from a hand formula, depthwise handling in pruning."""

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from snacs.models import build_model
from snacs.pruning.context import PruneContext
from snacs.pruning.counting import count_macs, count_params
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.masking import apply_masks, complete_dead_channels, filter_masks
from snacs.pruning.pairing import scored_children
from snacs.pruning.pruner import build_pruner, load_pruner_modules
from snacs.pruning.run import run_pruner
from snacs.pruning.slim import slim_model
from snacs.pruning.target import Target
from tests.conftest import randomise_norms

# (t, c, n, s) of Sandler et al. with the CIFAR strides, written out here on purpose rather
# than imported, so the golden numbers do not follow a change of the model's table.
_STAGES = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
           (6, 160, 3, 2), (6, 320, 1, 1)]  # fmt: skip


def _hand_counts(num_classes: int) -> tuple[int, int]:
    """Parameters (conv + BN affine + linear) and conv/linear MACs at batch 1, by formula."""
    side, channels = 32, 32
    params = 3 * 32 * 9 + 2 * 32
    macs = 3 * 32 * 9 * side * side
    for expansion, out, blocks, first_stride in _STAGES:
        for index in range(blocks):
            hidden = channels * expansion
            if expansion != 1:  # 1x1 expand + BN at the input resolution
                params += channels * hidden + 2 * hidden
                macs += channels * hidden * side * side
            side //= first_stride if index == 0 else 1
            params += 9 * hidden + 2 * hidden  # 3x3 depthwise + BN, one input channel each
            macs += 9 * hidden * side * side
            params += hidden * out + 2 * out  # 1x1 linear projection + BN
            macs += hidden * out * side * side
            channels = out
    params += channels * 1280 + 2 * 1280 + 1280 * num_classes + num_classes
    macs += channels * 1280 * side * side + 1280 * num_classes
    return params, macs


def test_golden_parameter_and_mac_counts():
    model = build_model("mobilenetv2_cifar", 10)
    params, macs = _hand_counts(10)
    assert (params, macs) == (2_236_682, 87_976_448)  # the formula itself, pinned
    assert count_params(model) == params
    assert count_macs(model, (3, 32, 32)) == macs


def test_cifar_strides_leave_a_4x4_map_and_residuals_where_shapes_match():
    model = build_model("mobilenetv2_cifar", 10).eval()
    with torch.no_grad():
        assert model.features(torch.randn(1, 3, 32, 32)).shape == (1, 1280, 4, 4)
    residual = [block.use_residual for block in model.features[1:-1]]
    assert residual == [False, False, True, False, True, True, False, True, True, True,
                        False, True, True, False, True, True, False]  # fmt: skip
    depthwise = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert len(depthwise) == 17 and all(m.groups == m.in_channels for m in depthwise)


def test_graph_ties_depthwise_filters_to_their_producer():
    model = build_model("mobilenetv2_cifar", 10, width_mult=0.25)
    graph = trace_layer_graph(model)
    depthwise = [node for node in graph if node.depthwise]
    assert len(depthwise) == 17
    assert not any(node.filter_prunable for node in depthwise)
    assert not any(node.depthwise for node in scored_children(graph))
    expand = graph["features.2.conv.0.0"]
    assert expand.filter_prunable and expand.children == ("features.2.conv.1.0",)
    masks = filter_masks(model, graph, {"features.2.conv.0.0": [0, 3]})
    dw, project = masks["features.2.conv.1.0.weight"], masks["features.2.conv.2.weight"]
    assert not dw[[0, 3]].any() and dw[[1, 2]].all()
    assert not masks["features.2.conv.1.1.bias"][[0, 3]].any()  # the depthwise BN goes too
    assert not project[:, [0, 3]].any() and project[:, [1, 2]].all()


def test_unread_depthwise_output_kills_the_expand_filter():
    model = build_model("mobilenetv2_cifar", 10, width_mult=0.25)
    graph = trace_layer_graph(model)
    masks = filter_masks(model, graph, {})
    masks["features.2.conv.2.weight"][:, 5] = False  # the projection no longer reads channel 5
    completed = complete_dead_channels(model, graph, masks)
    assert not completed["features.2.conv.0.0.weight"][5].any()
    assert not completed["features.2.conv.1.0.weight"][5].any()
    assert completed["features.2.conv.0.0.weight"][4].all()


@pytest.fixture(scope="module")
def mobilenet_context() -> PruneContext:
    load_pruner_modules()
    torch.manual_seed(0)
    model = randomise_norms(build_model("mobilenetv2_cifar", 10, width_mult=0.25))
    data = TensorDataset(torch.randn(40, 3, 32, 32), torch.arange(40) % 10)
    return PruneContext(model, (3, 32, 32), 10, data, progress=False, batch_size=20)


@pytest.mark.parametrize(
    ("method", "options"),
    [("l1", {}), ("snacs", {"groups": 4, "constraint_step_percent": 25.0})],
)
def test_pruners_prune_and_slim_it_end_to_end(mobilenet_context, method, options):
    ctx = mobilenet_context
    outcome = run_pruner(build_pruner(method, options), ctx, Target(0.3, "flops", "global"))
    masks = outcome.plan.masks
    assert ctx.cost.reduction(masks, "flops") >= 0.3
    masked = build_model("mobilenetv2_cifar", 10, width_mult=0.25)
    masked.load_state_dict(ctx.model.state_dict())
    masked.eval()
    slim, removed = slim_model(masked, ctx.graph, masks, (3, 32, 32))
    apply_masks(masked, complete_dead_channels(masked, ctx.graph, masks))
    assert removed, f"{method} removed no whole channel"
    assert count_params(slim) < count_params(masked)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(slim.eval()(x), masked(x), rtol=1e-4, atol=1e-4)
