"""Counting (params, MACs) against the literature's golden numbers, masks, accuracy, latency."""

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from snacs.errors import ConfigError
from snacs.metrics import (
    LayerCount,
    count_macs,
    count_params,
    layer_counts,
    measure_latency,
    topk_correct,
)
from snacs.models import build_model

CIFAR = (3, 32, 32)


@pytest.fixture(scope="module")
def vgg16() -> nn.Module:
    return build_model("vgg16_cifar", 10)


@pytest.fixture(scope="module")
def resnet56() -> nn.Module:
    return build_model("resnet56_cifar", 10)


def flop_counter_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Independent reference: PyTorch's dispatch-level counter reports 2 FLOPs per MAC."""
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, *input_shape))
    return counter.get_total_flops() // 2


# --- golden numbers (README, Conventions) ----------------------------------------------------


def test_vgg16_golden_counts(vgg16):
    assert count_params(vgg16) == 14_991_946
    assert count_macs(vgg16, CIFAR) == 313_463_808
    assert count_macs(vgg16, CIFAR, include_bias=True) == 313_740_810


def test_resnet56_golden_counts(resnet56):
    assert count_params(resnet56) == 853_018
    layers = layer_counts(resnet56, CIFAR)
    assert sum(layer.macs for layer in layers) == 125_485_696
    assert count_macs(resnet56, CIFAR, include_bias=True) == 125_485_706
    assert len(layers) == 56  # 55 convs + fc
    # Everything except BatchNorm lives in the conv/linear layers.
    bn_params = sum(p.numel() for m in resnet56.modules() if isinstance(m, nn.BatchNorm2d)
                    for p in m.parameters())  # fmt: skip
    assert sum(layer.params for layer in layers) == 853_018 - bn_params


def test_resnet50_golden_counts():
    model = build_model("resnet50", 1000)
    assert count_params(model) == 25_557_032
    assert count_macs(model, (3, 224, 224)) == 4_089_184_256


@pytest.mark.parametrize(
    ("name", "knobs", "shape"),
    [
        ("vgg16_cifar", {}, CIFAR),
        ("resnet56_cifar", {}, CIFAR),
        ("resnet_cifar", {"depth": 20, "width_mult": 0.5}, CIFAR),
        ("mlp_mnist", {}, (1, 28, 28)),
    ],
)
def test_macs_agree_with_torch_flop_counter(name, knobs, shape):
    model = build_model(name, 10, **knobs)
    assert count_macs(model, shape) == flop_counter_macs(model, shape)


# --- per-layer records -------------------------------------------------------------------


def test_layer_records_of_vgg16(vgg16):
    layers = layer_counts(vgg16, CIFAR, include_bias=True)
    assert len(layers) == 15
    first, last = layers[0], layers[-1]
    assert first == LayerCount(
        name="features.0",
        kind="conv",
        weight_shape=(64, 3, 3, 3),
        output_shape=(1, 64, 32, 32),
        params=64 * 27 + 64,
        macs=(64 * 27 + 64) * 32 * 32,
    )
    assert (last.name, last.kind, last.output_shape, last.macs) == (
        "classifier.3",
        "linear",
        (1, 10),
        5120 + 10,
    )


def test_grouped_conv_linear_tokens_and_transposed_conv():
    model = nn.Sequential(
        nn.Conv2d(4, 8, 3, padding=1, groups=4, bias=False),  # 8 x 1 x 3 x 3 weights, 8x8 map
        nn.ConvTranspose2d(8, 3, 2, stride=2),  # 8 x 3 x 2 x 2 weights, 8x8 input -> 16x16
        nn.Flatten(2),  # (1, 3, 256) -> the linear sees 3 tokens
        nn.Linear(256, 5),
    )
    layers = layer_counts(model, (4, 8, 8))
    assert [layer.macs for layer in layers] == [72 * 64, 96 * 64, 1280 * 3]
    assert count_macs(model, (4, 8, 8)) == flop_counter_macs(model, (4, 8, 8))
    with_bias = layer_counts(model, (4, 8, 8), include_bias=True)
    assert with_bias[1].macs == 96 * 64 + 3 * 256  # one bias MAC per output element
    assert with_bias[2].macs == 1280 * 3 + 5 * 3


# --- masks ---------------------------------------------------------------------------------


def test_masking_half_the_filters_halves_that_layers_macs(vgg16):
    dense = layer_counts(vgg16, CIFAR, include_bias=True)
    weight_mask = torch.ones(64, 64, 3, 3, dtype=torch.bool)
    weight_mask[:32] = False
    bias_mask = torch.ones(64, dtype=torch.bool)
    bias_mask[:32] = False
    masks = {"features.3.weight": weight_mask, "features.3.bias": bias_mask}
    masked = layer_counts(vgg16, CIFAR, masks=masks, include_bias=True)
    assert masked[1].name == "features.3"
    assert masked[1].macs * 2 == dense[1].macs
    assert masked[1].params * 2 == dense[1].params
    assert [m.macs for i, m in enumerate(masked) if i != 1] == [
        d.macs for i, d in enumerate(dense) if i != 1
    ]
    assert count_macs(vgg16, CIFAR, masks) == 313_463_808 - 32 * 64 * 9 * 32 * 32


def test_masked_kernel_slices_reduce_macs_elementwise(resnet56):
    mask = torch.ones(16, 16, 3, 3, dtype=torch.bool)
    mask[0, :5] = False  # five 3x3 kernel slices of one filter (SNACS-style connection pruning)
    masks = {"layer1.0.conv2.weight": mask}
    assert count_macs(resnet56, CIFAR) - count_macs(resnet56, CIFAR, masks) == 5 * 9 * 32 * 32


def test_masked_params_drop_by_the_masked_elements(resnet56):
    conv_mask = torch.rand(16, 16, 3, 3) > 0.5
    bn_mask = torch.tensor([True, False] * 8)
    masks = {"layer1.0.conv1.weight": conv_mask, "layer1.0.bn1.weight": bn_mask}
    dropped = int((~conv_mask).sum()) + 8
    assert count_params(resnet56, masks) == 853_018 - dropped


def test_bad_masks_are_rejected(resnet56):
    with pytest.raises(ValueError, match="conv9"):
        count_params(resnet56, {"conv9.weight": torch.ones(1, dtype=torch.bool)})
    with pytest.raises(ValueError, match="conv1.weight"):
        count_macs(resnet56, CIFAR, {"conv1.weight": torch.ones(16, 3, dtype=torch.bool)})


def test_counting_leaves_modes_and_statistics_untouched():
    model = build_model("resnet_cifar", 10, depth=8, width_mult=0.5).train()
    model.layer2.eval()  # a deliberately mixed state must survive
    running_mean = model.bn1.running_mean.clone()
    layer_counts(model, CIFAR)
    assert model.training and model.layer1.training and not model.layer2.training
    assert not model.layer2[0].bn1.training
    torch.testing.assert_close(model.bn1.running_mean, running_mean)
    assert model.conv1.weight.grad is None


def test_probe_input_follows_model_dtype():
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Flatten(), nn.Linear(3 * 4 * 4, 2)).double()
    assert count_macs(model, (2, 6, 6)) == 54 * 16 + 48 * 2


# --- accuracy ----------------------------------------------------------------------------------


def test_topk_correct_counts_and_clips_k():
    logits = torch.tensor(
        [
            [0.1, 0.5, 0.2, 0.9],  # ranking 3, 1, 2, 0
            [0.8, 0.1, 0.05, 0.05],  # ranking 0, 1, ...
            [0.1, 0.2, 0.3, 0.4],  # ranking 3, 2, 1, 0
        ]
    )
    targets = torch.tensor([1, 0, 0])
    assert topk_correct(logits, targets, ks=(1, 2, 3)) == {1: 1, 2: 2, 3: 2}
    assert topk_correct(logits, targets, ks=(1, 5)) == {1: 1, 5: 3}


# --- latency -----------------------------------------------------------------------------------


def test_measure_latency_reports_settings_and_restores_model():
    model = nn.Sequential(nn.Linear(8, 4), nn.Dropout(0.5)).train()
    result = measure_latency(model, (8,), batch_size=3, warmup=1, repeats=4)
    assert result["median_ms"] > 0 and result["mean_ms"] > 0 and result["std_ms"] >= 0
    assert {k: result[k] for k in ("batch_size", "input_shape", "device", "repeats")} == {
        "batch_size": 3,
        "input_shape": [8],
        "device": "cpu",
        "repeats": 4,
    }
    assert model.training and model[1].training
    assert next(model.parameters()).device.type == "cpu"


def test_measure_latency_rejects_bad_settings():
    model = nn.Linear(2, 2)
    with pytest.raises(ConfigError, match="repeats"):
        measure_latency(model, (2,), repeats=0)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA"):
            measure_latency(model, (2,), device="cuda")
