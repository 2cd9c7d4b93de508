"""Stacked fine-tuning gives each member what its own single run gives.

Tolerance, float32 on CPU: per-epoch losses, final weights, momentum buffers and BatchNorm
statistics of a ResNet-8 agree with three separate :func:`fit` runs (9 SGD steps) to
``atol=rtol=1e-4``: the grouped kernels sum in another order than the single ones, and
training carries those last-bit differences on (about 1e-5 here); momentum buffers, sums of
the far more sensitive gradients, to 2 % of their largest entry plus ``atol``; accuracies agree to
within one sample (a near tie that a rounding difference breaks the other way). Pruned
entries are exactly zero, with no tolerance.

A tiny VGG16 cannot be compared run against run at any tolerance: training it is chaotic
(a 1e-6 relative change of a single run's initial weights moves its weights by 0.1 within
nine steps). For it the test compares one stacked step with single steps taken from the
same weights: logits, gradients and BatchNorm statistics to ``atol=rtol=1e-4``.
"""

import copy
import csv
import shutil

import pytest
import torch
import torch.nn.functional as F

from snacs.config import benchmark
from snacs.config_file import load_config
from snacs.data import write_synthetic_cifar
from snacs.data.device_data import DeviceBatches, ImageAugment
from snacs.engine import Recipe, fit
from snacs.engine.stack import ModelStack, StackMember, fit_stack
from snacs.engine.train import open_session
from snacs.errors import ConfigError
from snacs.io import load_checkpoint, save_checkpoint
from snacs.models import build_model
from snacs.pipeline.finetune import FinetuneMember, run_finetune_stack
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.masking import MaskEnforcer, filter_masks
from snacs.pruning.plan import PruningPlan

CPU = torch.device("cpu")
ATOL = RTOL = 1e-4
RECIPE = Recipe(
    epochs=3,
    batch_size=16,
    lr=0.02,
    momentum=0.9,
    nesterov=True,
    weight_decay=5e-4,
    milestones=(2,),
)
ARCHS = {
    "resnet": ("resnet_cifar", {"depth": 8, "width_mult": 0.25}),
    "vgg": ("vgg16_cifar", {"width_mult": 0.125}),
}
FILTERS = [0, 2]  # output channels of the member-1 layer whose whole filters are pruned


def batches(shuffle: bool, count: int = 48) -> DeviceBatches:
    """A learnable problem (each class its own colour pattern, plus noise): training on
    pure noise is chaotic enough that a 1e-6 change grows past any tolerance."""
    generator = torch.Generator().manual_seed(1)
    labels = torch.arange(count) % 10
    patterns = torch.rand(10, 3, 32, 32, generator=generator)
    noise = torch.rand(count, 3, 32, 32, generator=generator)
    images = (255 * (0.7 * patterns[labels] + 0.3 * noise)).to(torch.uint8)
    return DeviceBatches(
        images,
        labels,
        RECIPE.batch_size,
        device=CPU,
        shuffle=shuffle,
        augment=ImageAugment(crop_padding=4, flip=True) if shuffle else ImageAugment(),
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25),
    )


class Killed(KeyboardInterrupt):
    """Stands for the job being killed."""


class KilledAfter:
    """The training batches, interrupted after ``steps`` batches (over all epochs)."""

    def __init__(self, loader: DeviceBatches, steps: int):
        self.loader, self.steps = loader, steps
        self.generator = loader.generator  # reseeded per epoch by the training loop

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for batch in self.loader:
            if self.steps == 0:
                raise Killed
            self.steps -= 1
            yield batch


def conv_names(model: torch.nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]


def members_masks(model: torch.nn.Module) -> list[dict | None]:
    """Member 0: random connections; member 1: whole filters of one layer (with their
    bias, BatchNorm entries and consumers' slices, as plans remove them); member 2: none."""
    generator = torch.Generator().manual_seed(3)
    params = dict(model.named_parameters())
    convs = conv_names(model)
    connections = {
        f"{name}.weight": torch.rand(params[f"{name}.weight"].shape, generator=generator) > 0.4
        for name in convs[1:3]
    }
    filters = filter_masks(model, trace_layer_graph(model), {convs[1]: FILTERS})
    return [connections, filters, None]


def fresh_models(arch: str) -> list[torch.nn.Module]:
    name, knobs = ARCHS[arch]
    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(build_model(name, 10, **knobs))
    masks = members_masks(models[0])
    for model, member_masks in zip(models, masks, strict=True):
        MaskEnforcer(model, member_masks or {})()
    return models


def run_stack(arch, root, train=None, **kwargs):
    models = fresh_models(arch)
    masks = members_masks(models[0])
    members = [
        StackMember(model, root / f"m{index}", inputs=f"member {index}", masks=member_masks)
        for index, (model, member_masks) in enumerate(zip(models, masks, strict=True))
    ]
    train = train or batches(shuffle=True)
    return fit_stack(
        members, train, batches(shuffle=False), RECIPE, device=CPU, progress=False, **kwargs
    ), models


@pytest.fixture(scope="module")
def separate(tmp_path_factory):
    """Three single runs, as today's fine-tune step makes them."""
    arch = "resnet"
    root = tmp_path_factory.mktemp(f"separate_{arch}")
    models = fresh_models(arch)
    results = []
    for index, (model, masks) in enumerate(zip(models, members_masks(models[0]), strict=True)):
        enforcer = MaskEnforcer(model, masks) if masks else None
        results.append(
            fit(
                model,
                batches(shuffle=True),
                batches(shuffle=False),
                RECIPE,
                root / f"m{index}",
                device=CPU,
                after_step=enforcer,
                inputs=f"member {index}",
                progress=False,
            )
        )
    return arch, root, results


def log_rows(folder) -> list[dict]:
    with open(folder / "log.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def assert_same_run(stacked_dir, single_dir, n_eval: int = 48) -> None:
    stacked_rows, single_rows = log_rows(stacked_dir), log_rows(single_dir)
    assert [r["epoch"] for r in stacked_rows] == [r["epoch"] for r in single_rows]
    for mine, theirs in zip(stacked_rows, single_rows, strict=True):
        assert float(mine["lr"]) == float(theirs["lr"])
        for key in ("train_loss", "eval_loss"):
            assert float(mine[key]) == pytest.approx(float(theirs[key]), rel=RTOL, abs=ATOL)
        for key in ("train_top1", "eval_top1", "eval_top5"):
            assert abs(float(mine[key]) - float(theirs[key])) <= 100.0 / n_eval + 1e-9
    mine, theirs = load_checkpoint(stacked_dir / "last.pt"), load_checkpoint(single_dir / "last.pt")
    assert mine.keys() == theirs.keys()
    assert mine["model"].keys() == theirs["model"].keys()
    for name, tensor in theirs["model"].items():  # weights and BatchNorm statistics
        torch.testing.assert_close(mine["model"][name], tensor, atol=ATOL, rtol=RTOL)
    assert mine["optimizer"]["param_groups"] == theirs["optimizer"]["param_groups"]
    for key, state in theirs["optimizer"]["state"].items():
        # Momentum is a sum of gradients, which are far more sensitive than the weights:
        # held to 2 % of the buffer's largest entry (plus ATOL: the gradient of a conv bias
        # that a BatchNorm follows is rounding noise alone).
        buffer = state["momentum_buffer"]
        difference = mine["optimizer"]["state"][key]["momentum_buffer"] - buffer
        assert difference.abs().max() <= ATOL + 0.02 * buffer.abs().max(), key
    assert mine["scheduler"] == theirs["scheduler"]
    assert (mine["epoch"], mine["best_epoch"]) == (theirs["epoch"], theirs["best_epoch"])
    assert load_checkpoint(stacked_dir / "best.pt")["epoch"] == theirs["best_epoch"]
    header = (stacked_dir / "log.csv").read_text().splitlines()[0]
    assert header == (single_dir / "log.csv").read_text().splitlines()[0]


def test_stack_of_three_matches_three_separate_runs(separate, tmp_path):
    arch, single_root, single_results = separate
    results, models = run_stack(arch, tmp_path)
    for index in range(3):
        assert_same_run(tmp_path / f"m{index}", single_root / f"m{index}")
        assert results[index].epochs_run == single_results[index].epochs_run == RECIPE.epochs
        assert results[index].best_epoch == single_results[index].best_epoch
    # the members' own models are left in their last-epoch state, as fit leaves a model
    last = load_checkpoint(tmp_path / "m0" / "last.pt")["model"]
    for name, tensor in models[0].state_dict().items():
        assert torch.equal(tensor, last[name])


def test_stack_keeps_whole_pruned_filters_exactly_zero(separate, tmp_path):
    arch = separate[0]
    run_stack(arch, tmp_path)
    model = fresh_models(arch)[1]
    layer = conv_names(model)[1]
    for name in ("last.pt", "best.pt"):
        weights = load_checkpoint(tmp_path / "m1" / name)["model"][f"{layer}.weight"]
        assert torch.count_nonzero(weights[FILTERS]) == 0
        assert torch.count_nonzero(weights) > 0  # the others trained


def test_stack_killed_mid_epoch_resumes_to_the_uninterrupted_run(separate, tmp_path):
    arch, single_root, _ = separate
    steps = len(batches(shuffle=True)) + 1  # inside the second epoch
    with pytest.raises(Killed):
        run_stack(arch, tmp_path, train=KilledAfter(batches(shuffle=True), steps))
    assert [r["epoch"] for r in log_rows(tmp_path / "m0")] == ["1"]
    run_stack(arch, tmp_path)
    for index in range(3):
        assert_same_run(tmp_path / f"m{index}", single_root / f"m{index}")


def test_stack_members_behind_catch_up_on_their_own_state(separate, tmp_path):
    """A member rerun from scratch (its folder deleted) trains alone, then joins the rest."""
    arch, single_root, _ = separate
    steps = 2 * len(batches(shuffle=True)) + 1  # two epochs done, killed in the third
    with pytest.raises(Killed):
        run_stack(arch, tmp_path, train=KilledAfter(batches(shuffle=True), steps))
    shutil.rmtree(tmp_path / "m2")
    for name in ("last.pt", "best.pt"):
        (tmp_path / "m0" / name).unlink()
    run_stack(arch, tmp_path)
    for index in range(3):
        assert_same_run(tmp_path / f"m{index}", single_root / f"m{index}")


def test_stack_of_one_matches_a_single_run(separate, tmp_path):
    arch, single_root, _ = separate
    models = fresh_models(arch)
    masks = members_masks(models[0])
    member = StackMember(models[0], tmp_path / "m0", inputs="member 0", masks=masks[0])
    fit_stack([member], batches(True), batches(False), RECIPE, device=CPU, progress=False)
    assert_same_run(tmp_path / "m0", single_root / "m0")


def test_stack_refuses_what_would_change_a_member(tmp_path):
    name, knobs = ARCHS["resnet"]
    small, other = build_model(name, 10, **knobs), build_model(name, 10, depth=14, width_mult=0.25)
    loaders = batches(True), batches(False)

    def stack(*members):
        return fit_stack(list(members), *loaders, RECIPE, device=CPU, progress=False)

    with pytest.raises(ConfigError, match="one architecture"):
        stack(StackMember(small, tmp_path / "a"), StackMember(other, tmp_path / "b"))
    with pytest.raises(ConfigError, match="different folders"):
        stack(StackMember(small, tmp_path / "a"), StackMember(small, tmp_path / "a"))
    with pytest.raises(ConfigError, match="names no parameter"):
        stack(StackMember(small, tmp_path / "a", masks={"nope.weight": torch.ones(1)}))
    dropout = build_model("mlp_mnist", 10, in_features=64, hidden=[8])
    twin = build_model("mlp_mnist", 10, in_features=64, hidden=[8])
    with pytest.raises(ConfigError, match="dropout"):
        stack(StackMember(dropout, tmp_path / "a"), StackMember(twin, tmp_path / "b"))


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_stack_step_matches_single_steps_from_the_same_weights(arch, tmp_path):
    models = fresh_models(arch)
    singles = [copy.deepcopy(model) for model in models]
    sessions = [
        open_session(
            model,
            RECIPE,
            tmp_path / f"m{index}",
            device=CPU,
            seed=0,
            amp=False,
            channels_last=False,
            compile_model=False,
            extra_state=None,
            inputs=None,
            progress=False,
        )
        for index, model in enumerate(models)
    ]
    stack = ModelStack(sessions, members_masks(models[0]))
    inputs, targets = next(iter(batches(shuffle=True)))
    logits = stack(inputs)
    stack.optimizer.zero_grad()
    stack._losses(logits, targets).sum().backward()
    for index, single in enumerate(singles):
        single.train()
        theirs = single(inputs)
        F.cross_entropy(theirs, targets).backward()
        torch.testing.assert_close(logits[index], theirs, atol=ATOL, rtol=RTOL)
        for name, param in single.named_parameters():
            grad = stack.params[name].grad[index]
            torch.testing.assert_close(grad, param.grad, atol=ATOL, rtol=RTOL)
        for name, buffer in single.named_buffers():  # running statistics, batch counts
            torch.testing.assert_close(stack.buffers[name][index], buffer, atol=ATOL, rtol=RTOL)


def test_stack_of_members_with_different_seeds_is_refused(tmp_path):
    members = [
        FinetuneMember(
            tmp_path / f"plan{seed}.pt", tmp_path / "dense.pt", tmp_path / f"m{seed}", seed
        )
        for seed in (0, 1)
    ]
    with pytest.raises(ConfigError, match="one seed"):
        run_finetune_stack({"name": "synth"}, members, CPU, progress=False)


def test_stack_pipeline_matches_one_member_at_a_time(tmp_path):
    """run_finetune_stack on the ci VGG benchmark: a pruned run and the dense reference."""
    config = load_config("config/ci.yaml")
    spec = benchmark(config, "synth_vgg")
    root = tmp_path / "cifar"
    write_synthetic_cifar(root, seed=0, train_per_class=4, test_per_class=2)
    spec["dataset"] = {**spec["dataset"], "root": str(root)}
    spec["finetune"]["recipe"] = {**spec["finetune"]["recipe"], "batch_size": 8, "lr": 0.002}
    torch.manual_seed(0)
    model = build_model("vgg16_cifar", 10, width_mult=0.125)
    save_checkpoint(tmp_path / "dense.pt", {"model": model.state_dict()})
    masks = members_masks(model)[1]
    PruningPlan("l1", "filter", masks).save(tmp_path / "plan.pt")
    plans = [tmp_path / "plan.pt", None]

    def members(folder: str) -> list[FinetuneMember]:
        return [
            FinetuneMember(plan, tmp_path / "dense.pt", tmp_path / folder / f"m{index}", 0)
            for index, plan in enumerate(plans)
        ]

    for member in members("single"):
        run_finetune_stack(spec, [member], CPU, progress=False)
    run_finetune_stack(spec, members("stacked"), CPU, progress=False)
    for index in range(2):
        stacked, single = tmp_path / "stacked" / f"m{index}", tmp_path / "single" / f"m{index}"
        assert_same_run(stacked, single, n_eval=20)
        assert (
            load_checkpoint(stacked / "last.pt")["inputs"]
            == load_checkpoint(single / "last.pt")["inputs"]
        )
