"""Model registry, model structure, traceability and ResNet-50 weight loading."""

import sys
import urllib.error
from pathlib import Path

import pytest
import torch
import torch_pruning as tp
from torch import nn

from snacs.errors import CheckpointError, ConfigError, UnknownNameError
from snacs.models import MODELS, build_model, model_names
from snacs.models.resnet50 import torchvision_weights
from snacs.models.resnet_cifar import PaddedSubsampleShortcut

# (name, num_classes, knobs, input shape without batch) at CPU demo size
DEMO_MODELS = [
    ("vgg16_cifar", 10, {"width_mult": 0.125}, (3, 32, 32)),
    ("resnet_cifar", 10, {"depth": 20, "width_mult": 0.5}, (3, 32, 32)),
    ("mlp_mnist", 10, {}, (1, 28, 28)),
    ("resnet50", 7, {}, (3, 64, 64)),
    ("mobilenetv2_cifar", 10, {"width_mult": 0.25}, (3, 32, 32)),
]
# A conv/linear whose output channels can be slimmed without touching a residual stream.
SLIMMABLE_LAYER = {
    "vgg16_cifar": "features.3",
    "resnet_cifar": "layer2.1.conv1",
    "mlp_mnist": "fc1",
    "resnet50": "layer1.0.conv1",
    "mobilenetv2_cifar": "features.2.conv.0.0",  # an expand conv: drags its depthwise conv
}


def test_registry_lists_every_model():
    expected = {
        "vgg16_cifar",
        "resnet_cifar",
        "resnet56_cifar",
        "resnet50",
        "mlp_mnist",
        "mobilenetv2_cifar",
    }
    assert set(model_names()) == expected
    assert model_names() == MODELS.names()


@pytest.mark.parametrize("name", model_names())
def test_registry_defaults_build_a_model_that_takes_its_input(name):
    """Every entry's default classes and input shape fit its factory (new entries included)."""
    info = MODELS.get(name)
    model = build_model(name).eval()
    with torch.no_grad():
        logits = model(torch.zeros(2, *info.input_shape))
    assert logits.shape == (2, info.num_classes)


def test_registry_defaults_of_the_paper_models():
    assert MODELS.get("resnet50").num_classes == 1000
    assert MODELS.get("resnet50").input_shape == (3, 224, 224)
    assert MODELS.get("vgg16_cifar").input_shape == (3, 32, 32)
    assert MODELS.get("mlp_mnist").input_shape_for({"in_features": 64}) == (64,)


def test_unknown_model_lists_choices():
    with pytest.raises(UnknownNameError) as info:
        build_model("vgg19", num_classes=10)
    message = str(info.value)
    assert "vgg19" in message
    assert all(name in message for name in model_names())


def test_unknown_knob_is_named_with_valid_knobs():
    with pytest.raises(ConfigError) as info:
        build_model("resnet_cifar", num_classes=10, dpeth=20)
    message = str(info.value)
    assert "dpeth" in message and "depth" in message and "width_mult" in message


def test_alias_has_no_depth_knob():
    with pytest.raises(ConfigError, match="depth"):
        build_model("resnet56_cifar", num_classes=10, depth=20)


@pytest.mark.parametrize(
    ("name", "knobs"),
    [
        ("resnet_cifar", {"depth": 57}),
        ("resnet_cifar", {"depth": 2}),
        ("vgg16_cifar", {"width_mult": 0}),
        ("vgg16_cifar", {"width_mult": "half"}),
        ("mlp_mnist", {"hidden": (500, 0)}),
        ("mlp_mnist", {"hidden": 500}),
        ("mlp_mnist", {"dropout": 1.0}),
    ],
)
def test_bad_knob_values_are_config_errors(name, knobs):
    with pytest.raises(ConfigError):
        build_model(name, num_classes=10, **knobs)


def test_bad_num_classes_is_config_error():
    with pytest.raises(ConfigError, match="num_classes"):
        build_model("mlp_mnist", num_classes=0)


@pytest.mark.parametrize(("name", "num_classes", "knobs", "shape"), DEMO_MODELS)
def test_forward_shape(name, num_classes, knobs, shape):
    model = build_model(name, num_classes, **knobs).eval()
    with torch.no_grad():
        assert model(torch.randn(2, *shape)).shape == (2, num_classes)


@pytest.mark.parametrize(("name", "num_classes", "knobs", "shape"), DEMO_MODELS)
def test_fx_trace_reproduces_forward(name, num_classes, knobs, shape):
    model = build_model(name, num_classes, **knobs).eval()
    traced = torch.fx.symbolic_trace(model)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(traced(x), model(x))


@pytest.mark.parametrize(("name", "num_classes", "knobs", "shape"), DEMO_MODELS)
def test_torch_pruning_can_slim_a_layer(name, num_classes, knobs, shape):
    model = build_model(name, num_classes, **knobs).eval()
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=torch.randn(1, *shape))
    layer = model.get_submodule(SLIMMABLE_LAYER[name])
    prune_fn = (
        tp.prune_linear_out_channels
        if isinstance(layer, nn.Linear)
        else (tp.prune_conv_out_channels)
    )
    width = layer.weight.shape[0]
    group = graph.get_pruning_group(layer, prune_fn, idxs=[0, 1])
    group.prune()
    assert layer.weight.shape[0] == width - 2
    with torch.no_grad():
        assert model(torch.randn(2, *shape)).shape == (2, num_classes)


def test_vgg_width_mult_scales_every_layer_with_a_floor():
    model = build_model("vgg16_cifar", 10, width_mult=0.125)
    convs = [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert convs == [8, 8, 16, 16, 32, 32, 32, 64, 64, 64, 64, 64, 64]
    assert model.classifier[0].out_features == 64
    assert all(m.bias is not None for m in model.modules() if isinstance(m, nn.Conv2d))
    tiny = build_model("vgg16_cifar", 10, width_mult=0.001)
    assert {m.out_channels for m in tiny.modules() if isinstance(m, nn.Conv2d)} == {4}


def test_vgg_layer_names_are_stable():
    names = dict(build_model("vgg16_cifar", 10).named_modules())
    assert isinstance(names["features.0"], nn.Conv2d)
    assert isinstance(names["features.1"], nn.BatchNorm2d)
    assert isinstance(names["classifier.1"], nn.BatchNorm1d)
    assert names["classifier.3"].out_features == 10


def test_resnet56_structure():
    model = build_model("resnet56_cifar", 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 55
    assert all(c.bias is None for c in convs)
    assert model.layer2[0].conv1.stride == (2, 2)
    assert isinstance(model.layer2[0].shortcut, PaddedSubsampleShortcut)
    assert isinstance(model.layer1[0].shortcut, nn.Identity)
    assert model.fc.in_features == 64
    assert len(model.layer3) == 9


def test_padded_shortcut_subsamples_and_zero_pads_channels():
    shortcut = PaddedSubsampleShortcut(in_channels=4, out_channels=8, stride=2)
    x = torch.randn(2, 4, 6, 6)
    out = shortcut(x)
    assert out.shape == (2, 8, 3, 3)
    torch.testing.assert_close(out[:, 2:6], x[:, :, ::2, ::2])
    assert not out[:, :2].any() and not out[:, 6:].any()
    assert not list(shortcut.parameters())


def test_mlp_layers_and_flat_or_image_input():
    model = build_model("mlp_mnist", 10).eval()
    assert [model.fc1.out_features, model.fc2.out_features, model.fc3.out_features] == [
        500,
        300,
        10,
    ]
    assert model.drop1.p == model.drop2.p == 0.2
    image = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(model(image), model(image.reshape(3, 784)))
    custom = build_model("mlp_mnist", 4, in_features=12, hidden=[6, 5, 3], dropout=0.0)
    assert custom.fc4.out_features == 4
    assert custom(torch.randn(2, 12)).shape == (2, 4)


# --- ResNet-50 pretrained weights (never touches the network) ---------------------------


@pytest.fixture(scope="module")
def resnet50_state_file(tmp_path_factory) -> tuple[Path, dict]:
    """A full ImageNet-shaped ResNet-50 state_dict on disk (random weights stand in)."""
    state = build_model("resnet50", 1000).state_dict()
    path = tmp_path_factory.mktemp("weights") / "resnet50.pth"
    torch.save(state, path)
    return path, state


@pytest.fixture
def offline_hub(tmp_path, monkeypatch) -> Path:
    """An empty torch hub cache and a downloader that fails like a machine without network."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path / "hub"


def test_resnet50_download_failure_explains_the_fix(offline_hub):
    with pytest.raises(CheckpointError) as info:
        build_model("resnet50", 1000, pretrained=True)
    message = str(info.value)
    expected_file = offline_hub / "checkpoints" / Path(torchvision_weights().url).name
    assert "URLError" in message and "name resolution" in message
    assert torchvision_weights().url in message
    assert str(expected_file) in message
    assert "weights_path" in message


def test_resnet50_uses_the_file_placed_in_the_hub_cache(offline_hub, resnet50_state_file):
    source, state = resnet50_state_file
    cached = offline_hub / "checkpoints" / Path(torchvision_weights().url).name
    cached.parent.mkdir(parents=True)
    cached.symlink_to(source)
    model = build_model("resnet50", 1000, pretrained=True)
    torch.testing.assert_close(model.fc.weight, state["fc.weight"])


def test_resnet50_weights_path_then_new_classifier(resnet50_state_file):
    path, state = resnet50_state_file
    model = build_model("resnet50", 10, pretrained=True, weights_path=str(path))
    torch.testing.assert_close(model.conv1.weight, state["conv1.weight"])
    torch.testing.assert_close(model.layer4[2].bn3.running_var, state["layer4.2.bn3.running_var"])
    assert model.fc.out_features == 10 and model.fc.in_features == 2048


def test_resnet50_weights_path_errors(tmp_path, monkeypatch):
    with pytest.raises(CheckpointError, match="does not exist"):
        build_model("resnet50", 10, pretrained=True, weights_path=str(tmp_path / "nope.pth"))
    wrong = tmp_path / "mlp.pth"
    torch.save(build_model("mlp_mnist", 10).state_dict(), wrong)
    with pytest.raises(CheckpointError, match="missing keys"):
        build_model("resnet50", 10, pretrained=True, weights_path=str(wrong))
    safetensors_file = tmp_path / "w.safetensors"
    safetensors_file.write_bytes(b"\0" * 16)
    monkeypatch.setitem(sys.modules, "safetensors", None)  # as if the package were absent
    with pytest.raises(CheckpointError, match="pip install safetensors"):
        build_model("resnet50", 10, pretrained=True, weights_path=str(safetensors_file))
