"""Published checkpoints as dense sources, and CIFAR-10 copies that are not the release.

The mapping of each publisher's key layout is tested on a state dict built here from the
publisher's own module structure (key names and shapes written out independently of our
models), since no file of chenyaofo's is reachable offline. The real akamaster files and
the CIFAR-10 subset in ``../shared/data`` are used where present; those tests skip
otherwise, and never carry a code path alone.
"""

import dataclasses
import hashlib
import re
import shutil
import urllib.error
from pathlib import Path

import pytest
import torch
import yaml

from snacs.config import benchmark, step_spec
from snacs.config_file import load_config, validate_config
from snacs.data import load_dataset, write_synthetic_cifar
from snacs.data.cifar import CIFAR10_MEAN, CIFAR10_STD
from snacs.data.normalisation import with_normalisation
from snacs.data.synthetic import SYNTHETIC_MARKER
from snacs.errors import CheckpointError, ConfigError, CorruptDataError, UnknownNameError
from snacs.models import build_model
from snacs.models import published as published_module
from snacs.models.published import (
    CHECKPOINTS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    published_checkpoint,
)
from snacs.pipeline import cost
from snacs.pipeline.dense import compare_with_publisher, run_dense
from snacs.pipeline.provenance import DataOrigin
from snacs.pruning.benchmark import input_normalisation, load_bundle, model_options
from snacs.pruning.counting import count_macs, count_params
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.records import DenseRecord

CIFAR = (3, 32, 32)
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SUBSET = SHARED / "cifar10-subset"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"shared test data absent ({SHARED}); users bring their own"
)


# --- architecture variants: golden counts (conv+linear MACs at batch 1) ----------------


def test_resnet56_option_b_matches_the_published_counts():
    model = build_model("resnet_cifar", 10, depth=56, shortcut="B")
    assert count_params(model) == 855_770  # 0.86 M: option A's 853,018 + two 1x1 conv + BN
    assert round(count_macs(model, CIFAR) / 1e6, 2) == 125.75
    shortcut = model.layer2[0].shortcut
    assert isinstance(shortcut[0], torch.nn.Conv2d) and shortcut[0].kernel_size == (1, 1)


def test_vgg16_dropout_head_matches_the_published_counts():
    model = build_model("vgg16_cifar", 10, classifier="dropout")
    assert round(count_params(model) / 1e6, 2) == 15.25
    assert round(count_macs(model, CIFAR) / 1e6, 2) == 313.73
    assert sum(isinstance(m, torch.nn.Dropout) for m in model.classifier) == 2


@pytest.mark.parametrize(
    ("arch", "knobs"),
    [("resnet_cifar", {"depth": 20, "shortcut": "B"}), ("vgg16_cifar", {"classifier": "dropout"})],
)
def test_variants_trace_into_a_layer_graph(arch, knobs):
    graph = trace_layer_graph(build_model(arch, 10, width_mult=0.25, **knobs))
    assert len(graph.names) > 5


@pytest.mark.parametrize(
    ("arch", "knobs", "key"),
    [
        ("resnet_cifar", {"shortcut": "C"}, "shortcut"),
        ("vgg16_cifar", {"classifier": "mlp"}, "classifier"),
    ],
)
def test_unknown_variants_are_config_errors(arch, knobs, key):
    with pytest.raises(ConfigError, match=key):
        build_model(arch, 10, **knobs)


# --- publisher layouts on built state dicts --------------------------------------------


def _batchnorm(prefix: str, channels: int, counters: bool = True) -> dict[str, tuple]:
    keys = {f"{prefix}.{n}": (channels,) for n in ("weight", "bias", "running_mean", "running_var")}
    if counters:
        keys[f"{prefix}.num_batches_tracked"] = ()
    return keys


def chenyaofo_resnet56_shapes() -> dict[str, tuple]:
    """Keys and shapes of chenyaofo's ``cifar10_resnet56`` (pytorch_cifar_models/resnet.py:
    CifarResNet with BasicBlock conv1/bn1/conv2/bn2/downsample and ``fc``)."""
    shapes = {"conv1.weight": (16, 3, 3, 3), **_batchnorm("bn1", 16)}
    inplanes = 16
    for stage, planes in enumerate((16, 32, 64), start=1):
        for block in range(9):
            name = f"layer{stage}.{block}"
            shapes[f"{name}.conv1.weight"] = (planes, inplanes, 3, 3)
            shapes.update(_batchnorm(f"{name}.bn1", planes))
            shapes[f"{name}.conv2.weight"] = (planes, planes, 3, 3)
            shapes.update(_batchnorm(f"{name}.bn2", planes))
            if block == 0 and inplanes != planes:
                shapes[f"{name}.downsample.0.weight"] = (planes, inplanes, 1, 1)
                shapes.update(_batchnorm(f"{name}.downsample.1", planes))
            inplanes = planes
    shapes["fc.weight"], shapes["fc.bias"] = (10, 64), (10,)
    return shapes


def chenyaofo_vgg16_bn_shapes() -> dict[str, tuple]:
    """Keys and shapes of chenyaofo's ``cifar10_vgg16_bn`` (pytorch_cifar_models/vgg.py:
    make_layers(cfg D, batch_norm=True) and a Linear-ReLU-Dropout x2 + Linear classifier)."""
    layout = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M"]
    layout += [512, 512, 512, "M"]
    shapes: dict[str, tuple] = {}
    index, inplanes = 0, 3
    for entry in layout:
        if entry == "M":
            index += 1
            continue
        shapes[f"features.{index}.weight"] = (entry, inplanes, 3, 3)
        shapes[f"features.{index}.bias"] = (entry,)
        shapes.update(_batchnorm(f"features.{index + 1}", entry))
        index, inplanes = index + 3, entry
    for position, (out, inp) in zip((0, 3, 6), ((512, 512), (512, 512), (10, 512)), strict=True):
        shapes[f"classifier.{position}.weight"] = (out, inp)
        shapes[f"classifier.{position}.bias"] = (out,)
    return shapes


def akamaster_shapes(depth: int) -> dict[str, tuple]:
    """Keys and shapes of akamaster's ResNets (resnet.py: option-A LambdaLayer shortcuts,
    ``linear`` head, saved from DataParallel before BatchNorm had counters)."""
    shapes = {"conv1.weight": (16, 3, 3, 3), **_batchnorm("bn1", 16, counters=False)}
    inplanes = 16
    for stage, planes in enumerate((16, 32, 64), start=1):
        for block in range((depth - 2) // 6):
            name = f"layer{stage}.{block}"
            shapes[f"{name}.conv1.weight"] = (planes, inplanes, 3, 3)
            shapes.update(_batchnorm(f"{name}.bn1", planes, counters=False))
            shapes[f"{name}.conv2.weight"] = (planes, planes, 3, 3)
            shapes.update(_batchnorm(f"{name}.bn2", planes, counters=False))
            inplanes = planes
    shapes["linear.weight"], shapes["linear.bias"] = (10, 64), (10,)
    return {f"module.{key}": shape for key, shape in shapes.items()}


def _filled(shapes: dict[str, tuple], seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7, dtype=torch.long)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=generator) + 0.5
        else:
            state[key] = torch.randn(shape, generator=generator)
    return state


def _publish(monkeypatch, tmp_path, name: str, payload, prefix_digits: int = 64) -> Path:
    """Write ``payload`` as the file of checkpoint ``name``, whose hash becomes its own."""
    path = tmp_path / f"{name}.pt"
    torch.save(payload, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:prefix_digits]
    entry = dataclasses.replace(published_checkpoint(name), sha256=digest)
    monkeypatch.setattr(published_module, "published_checkpoint", lambda _: entry)
    return path


RESNET56_B = {"depth": 56, "shortcut": "B"}
CHENYAOFO_CASES = [
    ("chenyaofo_resnet56", "resnet_cifar", RESNET56_B, chenyaofo_resnet56_shapes),
    ("chenyaofo_vgg16_bn", "vgg16_cifar", {"classifier": "dropout"}, chenyaofo_vgg16_bn_shapes),
]


@pytest.mark.parametrize(("name", "arch", "knobs", "shapes"), CHENYAOFO_CASES)
def test_chenyaofo_state_dicts_load_every_tensor_where_it_belongs(
    monkeypatch, tmp_path, name, arch, knobs, shapes
):
    state = _filled(shapes())
    path = _publish(monkeypatch, tmp_path, name, state, prefix_digits=8)
    model = build_model(arch, 10, pretrained=name, weights_path=str(path), **knobs)
    ours = model.state_dict()
    for key, tensor in state.items():
        assert torch.equal(ours[key.replace(".downsample.", ".shortcut.")], tensor), key
    assert len(ours) == len(state)


def test_akamaster_layout_strips_prefix_renames_head_and_adds_counters(monkeypatch, tmp_path):
    state = _filled(akamaster_shapes(20))
    payload = {"state_dict": state, "best_prec1": torch.tensor(91.78)}
    path = _publish(monkeypatch, tmp_path, "akamaster_resnet20", payload)
    model = build_model(
        "resnet_cifar", 10, depth=20, pretrained="akamaster_resnet20", weights_path=str(path)
    )
    ours = model.state_dict()
    assert torch.equal(ours["fc.weight"], state["module.linear.weight"])
    assert torch.equal(ours["layer3.2.bn2.running_var"], state["module.layer3.2.bn2.running_var"])
    assert int(ours["bn1.num_batches_tracked"]) == 0


@pytest.mark.parametrize("change", ["missing", "unexpected"])
def test_a_missing_or_unexpected_key_is_one_line_naming_the_file(monkeypatch, tmp_path, change):
    state = _filled(akamaster_shapes(20))
    if change == "missing":
        del state["module.layer2.1.conv2.weight"]
    else:
        state["module.layer2.1.shortcut.weight"] = torch.zeros(1)
    path = _publish(monkeypatch, tmp_path, "akamaster_resnet20", {"state_dict": state})
    with pytest.raises(CheckpointError, match=f"{change} keys") as caught:
        build_model(
            "resnet_cifar", 10, depth=20, pretrained="akamaster_resnet20", weights_path=str(path)
        )
    message = str(caught.value)
    assert str(path) in message and "\n" not in message


def test_a_file_with_another_hash_is_refused_naming_both_hashes(tmp_path):
    path = tmp_path / "resnet56.th"
    torch.save({"state_dict": {}}, path)
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(CheckpointError) as caught:
        build_model("resnet_cifar", 10, pretrained="akamaster_resnet56", weights_path=str(path))
    message = str(caught.value)
    assert str(path) in message and actual in message
    assert published_checkpoint("akamaster_resnet56").sha256 in message and "\n" not in message


def test_a_missing_local_file_says_where_to_download_it(tmp_path):
    missing = tmp_path / "resnet56.th"
    with pytest.raises(CheckpointError) as caught:
        build_model("resnet_cifar", 10, pretrained="akamaster_resnet56", weights_path=str(missing))
    message = str(caught.value)
    assert str(missing) in message and published_checkpoint("akamaster_resnet56").url in message


def test_offline_without_a_local_file_says_where_to_place_the_download(monkeypatch, tmp_path):
    def refuse(url, dst, progress=True):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    with pytest.raises(CheckpointError) as caught:
        build_model("vgg16_cifar", 10, classifier="dropout", pretrained="chenyaofo_vgg16_bn")
    message = str(caught.value)
    entry = published_checkpoint("chenyaofo_vgg16_bn")
    assert entry.url in message and str(tmp_path / "checkpoints" / entry.filename) in message
    assert "weights_path" in message


@pytest.mark.parametrize(
    ("arch", "knobs", "wrong"),
    [
        ("resnet_cifar", {"depth": 20}, "depth=56"),
        ("resnet_cifar", {"depth": 56, "shortcut": "B"}, "shortcut='A'"),
        ("resnet_cifar", {"depth": 56, "width_mult": 0.5}, "width_mult=1.0"),
        ("vgg16_cifar", {}, "is a resnet_cifar"),
    ],
)
def test_a_checkpoint_refuses_a_network_it_does_not_fit(arch, knobs, wrong):
    with pytest.raises(ConfigError, match=re.escape(wrong)):
        build_model(arch, 10, pretrained="akamaster_resnet56", **knobs)


def test_unknown_checkpoint_names_list_the_registered_ones():
    with pytest.raises(UnknownNameError) as caught:
        build_model("resnet_cifar", 10, pretrained="akamaster_resnet57")
    assert all(name in str(caught.value) for name in CHECKPOINTS.names())


@pytest.mark.parametrize("name", CHECKPOINTS.names())
def test_every_entry_fits_its_own_architecture(name):
    """Each entry's knobs build a network whose keys the entry's layout can fill."""
    entry = published_checkpoint(name)
    model = build_model(entry.arch, entry.num_classes, **entry.knobs)
    assert model(torch.zeros(1, *CIFAR)).shape == (1, entry.num_classes)
    assert len(entry.normalisation.mean) == len(entry.normalisation.std) == 3
    assert 90 < entry.top1 < 100 and len(entry.sha256) >= 8


def test_loading_our_own_checkpoint_drops_the_weight_source_knobs():
    spec = {
        "model": {
            "options": {"depth": 20, "pretrained": "akamaster_resnet20", "weights_path": "x.th"}
        }
    }
    assert model_options(spec, for_loading=True) == {"depth": 20}
    assert model_options(spec, for_loading=False)["pretrained"] == "akamaster_resnet20"


# --- normalisation belongs to the model ------------------------------------------------


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory) -> Path:
    return write_synthetic_cifar(
        tmp_path_factory.mktemp("cifar"), seed=1, train_per_class=3, test_per_class=2
    )


def test_renormalised_bundle_feeds_the_checkpoint_statistics_on_every_path(cifar_root):
    bundle = load_dataset("cifar10", cifar_root)
    moved = with_normalisation(bundle, IMAGENET_MEAN, IMAGENET_STD)
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    for split, base in ((moved.test, bundle.test.base), (moved.train_eval, bundle.train.base)):
        raw = torch.from_numpy(base.data[4]).permute(2, 0, 1).float() / 255
        image, label = split[4]
        assert torch.allclose(image, (raw - mean) / std, atol=1e-5) and label == base.targets[4]
    assert len(moved.train) == len(bundle.train)
    assert (moved.tensors.mean, moved.tensors.std) == (IMAGENET_MEAN, IMAGENET_STD)
    assert (bundle.tensors.mean, bundle.tensors.std) == (CIFAR10_MEAN, CIFAR10_STD)  # untouched
    assert with_normalisation(bundle, CIFAR10_MEAN, CIFAR10_STD) is bundle


def _spec(root: Path, **options) -> dict:
    config = {
        "benchmarks": {
            "b": {
                "title": "b",
                "dataset": {"name": "cifar10", "root": str(root), "verify": "layout"},
                "model": {"arch": "resnet_cifar", "options": options},
                "dense": {
                    "source": "pretrained" if "pretrained" in options else "train",
                    "recipe": {"epochs": 1},
                },
                "finetune": {"recipe": {"epochs": 1}},
                "evaluation": {"latency_repeats": 1, "batch_size": 256},
            }
        },
        "methods": {"l1": {}},
    }
    return step_spec(validate_config(config), "b", "dense")


def test_input_normalisation_is_the_checkpoints_when_the_model_is_published(cifar_root):
    bundle = load_dataset("cifar10", cifar_root)
    plain = _spec(cifar_root, depth=20)
    published = _spec(cifar_root, depth=20, pretrained="akamaster_resnet20")
    assert input_normalisation(plain, bundle) is None  # the dataset's own
    assert load_bundle(plain).tensors.mean == CIFAR10_MEAN
    assert input_normalisation(published, bundle).mean == IMAGENET_MEAN
    assert load_bundle(published).tensors.std == IMAGENET_STD


def test_a_cifar_checkpoint_on_another_dataset_is_refused(cifar_root):
    bundle = dataclasses.replace(load_dataset("cifar10", cifar_root), name="mnist")
    with pytest.raises(ConfigError, match="trained on cifar10"):
        input_normalisation(_spec(cifar_root, depth=20, pretrained="akamaster_resnet20"), bundle)


# --- publisher's top-1 beside the measured one -----------------------------------------


def test_publisher_gap_warns_on_a_full_test_set_and_is_not_compared_on_a_subset(capsys):
    entry = published_checkpoint("akamaster_resnet56")
    assert compare_with_publisher(entry, entry.top1 - 0.4, 10_000) is None
    warned = compare_with_publisher(entry, entry.top1 - 1.6, 10_000)
    assert "differs" in warned and "-1.60 pp" in warned
    noted = compare_with_publisher(entry, entry.top1 - 5.0, 846)
    assert "not comparable" in noted and "846" in noted
    printed = capsys.readouterr().err.splitlines()
    assert printed == [f"WARNING {warned}", f"note: {noted}"]


def test_dense_records_written_before_the_field_still_load():
    fields = {f.name: None for f in dataclasses.fields(DenseRecord) if f.name != "published_top1"}
    assert DenseRecord.from_dict(fields).published_top1 is None


# --- CIFAR-10 copies that are not the release ------------------------------------------


@pytest.fixture
def foreign_copy(cifar_root, tmp_path) -> Path:
    """The synthetic files without their marker: a copy whose md5 is not the release's."""
    shutil.copytree(cifar_root / "cifar-10-batches-py", tmp_path / "cifar-10-batches-py")
    (tmp_path / "cifar-10-batches-py" / SYNTHETIC_MARKER).unlink()
    return tmp_path


def test_a_copy_is_refused_as_the_release_and_loads_as_an_unverified_layout(foreign_copy):
    with pytest.raises(CorruptDataError, match="md5 mismatch"):
        load_dataset("cifar10", foreign_copy)
    bundle = load_dataset("cifar10", foreign_copy, verify="layout")
    assert bundle.verified == "layout" and len(bundle.test) == 20
    origin = DataOrigin.of(bundle, str(foreign_copy))
    assert origin.unverified and "unverified copy" in origin.label()
    assert "synthetic" not in origin.label()


def test_layout_still_checks_structure_and_labels(foreign_copy):
    import pickle

    batch = foreign_copy / "cifar-10-batches-py" / "test_batch"
    entry = pickle.loads(batch.read_bytes())
    entry["labels"][0] = 10
    batch.write_bytes(pickle.dumps(entry, protocol=2))
    with pytest.raises(CorruptDataError, match="outside the 10 classes"):
        load_dataset("cifar10", foreign_copy, verify="layout")


def test_synthetic_files_stay_synthetic_and_other_datasets_take_only_release(cifar_root, tmp_path):
    assert load_dataset("cifar10", cifar_root, verify="layout").verified == "synthetic"
    with pytest.raises(ConfigError, match="dataset.verify"):
        load_dataset("digits", tmp_path, verify="layout")
    with pytest.raises(ConfigError, match="'release' or 'layout'"):
        load_dataset("cifar10", cifar_root, verify="md5")


def test_data_origin_round_trips_through_a_record_provenance():
    origin = DataOrigin("cifar10", "data", "layout", 4660, 846)
    assert DataOrigin.from_provenance({"data": dataclasses.asdict(origin)}) == origin
    assert DataOrigin.from_provenance({}) is None


# --- the paper config's published alternative and what it saves -----------------------


def published_alternative(path: str = "config/config.yaml") -> dict:
    """The paper config with its commented published-checkpoint block applied."""
    text = Path(path).read_text()
    block = text.split("# >>> published checkpoints\n")[1].split("# <<< published")[0]
    changes = yaml.safe_load("\n".join(line.strip()[2:] for line in block.splitlines()))
    config = yaml.safe_load(text)
    for name, change in changes.items():
        config["benchmarks"][name]["model"] = change["model"]
        config["benchmarks"][name]["dense"].update(change["dense"])
    return validate_config(config)


def test_the_commented_published_alternative_validates_and_saves_dense_training():
    config = published_alternative()
    plain = cost.estimate_cost(load_config("config/config.yaml"))
    switched = cost.estimate_cost(config)
    dense = {(r.benchmark, r.rule): r for r in plain.rows}
    for row in switched.rows:
        if row.rule == "dense" and row.benchmark in ("cifar10_resnet56", "cifar10_vgg16"):
            assert row.train_images == 0 and row.saved_gpu_hours > 0
            assert row.saved_gpu_hours == pytest.approx(
                dense[(row.benchmark, "dense")].gpu_hours, rel=0.05
            )
    assert switched.saved_gpu_hours > 0 and plain.saved_gpu_hours == 0
    table = cost.format_cost_table(switched)
    assert "save" in table and table.splitlines()[-1].startswith("total")
    assert benchmark(config, "cifar10_vgg16")["model"]["options"]["classifier"] == "dropout"


# --- the shared akamaster checkpoints on the shared CIFAR-10 subset --------------------


def _shared_spec(depth: int, file: str, **dataset) -> dict:
    spec = _spec(
        SUBSET,
        depth=depth,
        pretrained=f"akamaster_resnet{depth}",
        weights_path=str(SHARED / "pretrained" / file),
    )
    spec["dataset"].update(dataset)
    return spec


@needs_shared
def test_the_shared_subset_needs_verify_layout():
    with pytest.raises(CorruptDataError, match="md5 mismatch"):
        load_dataset("cifar10", SUBSET)
    bundle = load_dataset("cifar10", SUBSET, verify="layout")
    assert (len(bundle.train), len(bundle.test), bundle.verified) == (4660, 846, "layout")


@needs_shared
@pytest.mark.parametrize(
    ("depth", "file", "floor"),
    [(56, "akamaster-resnet56-4bfd9763.th", 92.7), (20, "akamaster-resnet20-12fca82f.th", 91.2)],
)
def test_dense_step_reads_the_shared_checkpoints_at_their_publishers_accuracy(
    tmp_path, capsys, depth, file, floor
):
    """The publisher's own model code reads 93.26 % (ResNet56) and 91.73 % (ResNet20)."""
    spec = _shared_spec(depth, file)
    record = run_dense(spec, tmp_path, tmp_path / "dense.json", torch.device("cpu"), progress=False)
    assert record.accuracy["top1"] >= floor and record.accuracy["n"] == 846
    assert record.published_top1 == published_checkpoint(f"akamaster_resnet{depth}").top1
    assert record.provenance["data"]["verified"] == "layout"
    assert "not comparable" in capsys.readouterr().err
    assert DenseRecord.load(tmp_path / "dense.json").published_top1 == record.published_top1
