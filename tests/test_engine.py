"""Tests of the training engine on tiny synthetic problems (CPU, a few seconds in total)."""

import csv
import dataclasses
import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from snacs.engine import FitResult, Recipe, evaluate, fit, resolve_device, seed_everything
from snacs.engine.train import LOG_COLUMNS
from snacs.errors import ConfigError, SnacsError
from snacs.io import fingerprint, load_checkpoint, save_checkpoint

CPU = torch.device("cpu")


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """Tiny tensors gain nothing from threads, and a busy shared CPU makes them much slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def blobs(n_per_class: int = 64, classes: int = 4, seed: int = 0) -> TensorDataset:
    """Well separated Gaussian clusters in 2-D: an easy problem any small MLP solves."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0], [0.0, -4.0]])[:classes]
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    points = centres[labels] + 0.5 * torch.randn(len(labels), 2, generator=generator)
    return TensorDataset(points, labels)


def mlp(seed: int = 0, dropout: float = 0.0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 4))


def loaders(
    batch_size: int = 32, generator: torch.Generator | None = None
) -> tuple[DataLoader, DataLoader]:
    data = blobs()
    train = DataLoader(data, batch_size=batch_size, shuffle=True, generator=generator)
    return train, DataLoader(data, batch_size=64)


def run_fit(model: nn.Module, out_dir, recipe: Recipe, **kwargs) -> FitResult:
    train, test = kwargs.pop("loaders", None) or loaders()
    return fit(model, train, test, recipe, out_dir, device=CPU, progress=False, **kwargs)


# --- learning, evaluation -------------------------------------------------------------


def test_fit_learns_an_easy_problem(tmp_path):
    model = mlp()
    before = evaluate(model, loaders()[1], CPU)
    result = run_fit(model, tmp_path, Recipe(epochs=3, lr=0.05, milestones=(2,)))
    assert result.epochs_run == 3
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.best_top1 >= 95.0 > before["top1"]
    assert result.last_top1 == result.history[-1]["eval_top1"]
    assert result.best_top1 == max(row["eval_top1"] for row in result.history)
    assert result.history[result.best_epoch - 1]["eval_top1"] == result.best_top1


class Passthrough(nn.Module):
    """Returns its input as logits, so evaluation can be checked against hand-made scores."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_evaluate_topk_on_hand_made_logits():
    logits = torch.tensor(
        [
            [9.0, 8.0, 7.0, 6.0, 5.0, 4.0],  # target 0: top-1 hit
            [9.0, 8.0, 7.0, 6.0, 5.0, 4.0],  # target 4: top-5 hit only
            [9.0, 8.0, 7.0, 6.0, 5.0, 4.0],  # target 5: miss
            [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],  # target 5: top-1 hit
        ]
    )
    targets = torch.tensor([0, 4, 5, 5])
    loader = DataLoader(TensorDataset(logits, targets), batch_size=3)
    model = Passthrough().train()
    result = evaluate(model, loader, "cpu")
    assert result["top1"] == pytest.approx(50.0)
    assert result["top5"] == pytest.approx(75.0)
    assert result["n"] == 4
    assert result["loss"] == pytest.approx(F.cross_entropy(logits, targets).item())
    assert model.training, "evaluate must restore the caller's train/eval mode"


def test_evaluate_k_beyond_class_count_counts_every_sample():
    loader = DataLoader(TensorDataset(torch.randn(5, 3), torch.tensor([0, 1, 2, 0, 1])))
    result = evaluate(Passthrough(), loader, CPU, ks=(1, 5))
    assert result["top5"] == 100.0


def test_evaluate_rejects_an_empty_loader():
    with pytest.raises(SnacsError, match="no samples"):
        evaluate(Passthrough(), [], CPU)


# --- resume ---------------------------------------------------------------------------


@pytest.mark.parametrize("own_generator", [False, True], ids=["global-rng", "loader-generator"])
def test_interrupted_run_ends_like_an_uninterrupted_one(tmp_path, own_generator):
    def make_loaders():
        return loaders(generator=torch.Generator() if own_generator else None)

    # Dropout, shuffling, momentum and a milestone inside the run all have to be restored.
    recipe = Recipe(epochs=3, lr=0.05, milestones=(2,), gamma=0.5, nesterov=True)
    straight = mlp(dropout=0.3)
    expected = run_fit(straight, tmp_path / "a", recipe, seed=7, loaders=make_loaders())

    resumed = mlp(dropout=0.3)
    run_fit(
        resumed,
        tmp_path / "b",
        dataclasses.replace(recipe, epochs=1),
        seed=7,
        loaders=make_loaders(),
    )
    torch.rand(100)  # other work in the process between the two calls must not matter
    fresh = mlp(seed=123, dropout=0.3)  # weights must come from last.pt, not from here
    result = run_fit(fresh, tmp_path / "b", recipe, seed=7, loaders=make_loaders())

    for name, tensor in straight.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[name], tensor, rtol=0, atol=0)
    assert result.epochs_run == 3
    assert [row["train_loss"] for row in result.history] == [
        row["train_loss"] for row in expected.history
    ]


def test_different_seeds_give_different_data_orders(tmp_path):
    # Each model is built (re-seeding torch) right before its run, so only ``seed`` differs.
    first = mlp()
    run_fit(first, tmp_path / "a", Recipe(epochs=1), seed=0)
    second = mlp()
    run_fit(second, tmp_path / "b", Recipe(epochs=1), seed=1)
    assert not torch.equal(first[0].weight, second[0].weight)


def test_finished_run_is_returned_without_training(tmp_path):
    recipe = Recipe(epochs=2, lr=0.05)
    trained = mlp()
    first = run_fit(trained, tmp_path, recipe)

    class Untouchable:
        def __iter__(self):
            raise AssertionError("a finished run must not train again")

    model = mlp(seed=99)
    again = fit(model, Untouchable(), loaders()[1], recipe, tmp_path, device=CPU, progress=False)
    assert again.best_top1 == first.best_top1
    assert again.best_epoch == first.best_epoch
    assert again.history == first.history
    assert torch.equal(model[0].weight, trained[0].weight)


def test_resume_refuses_a_different_recipe_or_seed(tmp_path):
    run_fit(mlp(), tmp_path, Recipe(epochs=1, lr=0.05))
    with pytest.raises(ConfigError, match="recipe lr"):
        run_fit(mlp(), tmp_path, Recipe(epochs=2, lr=0.1))
    with pytest.raises(ConfigError, match="seed"):
        run_fit(mlp(), tmp_path, Recipe(epochs=2, lr=0.05), seed=5)
    result = run_fit(mlp(), tmp_path, Recipe(epochs=1, lr=0.1), resume=False)
    assert result.epochs_run == 1


def test_fingerprint_hashes_tensor_contents_not_files(tmp_path):
    weights = {"w": torch.randn(3, 2), "h": torch.ones(2, dtype=torch.bfloat16)}
    masks = {"w": torch.tensor([[True, False]] * 3)}
    first = fingerprint(weights, masks)
    for name in ("a.pt", "b.pt"):  # torch.save writes different bytes for equal payloads
        save_checkpoint(tmp_path / name, {"weights": weights, "masks": masks})
    reloaded = [load_checkpoint(tmp_path / name) for name in ("a.pt", "b.pt")]
    assert {fingerprint(c["weights"], c["masks"]) for c in reloaded} == {first}
    assert fingerprint(masks, weights) != first and fingerprint("w") != fingerprint("h")
    masks["w"][0, 1] = True
    assert fingerprint(weights, masks) != first


def test_resume_refuses_other_inputs_and_restart_stale_starts_over(tmp_path):
    first = run_fit(mlp(), tmp_path, Recipe(epochs=2, lr=0.05), inputs="plan-a")
    with pytest.raises(ConfigError, match="inputs: plan-a there, plan-b now"):
        run_fit(mlp(), tmp_path, Recipe(epochs=2, lr=0.05), inputs="plan-b")
    again = run_fit(mlp(), tmp_path, Recipe(epochs=2, lr=0.1), inputs="plan-b", restart_stale=True)
    assert again.epochs_run == 2 and len(again.history) == 2, "trained afresh, not returned"
    assert again.history[0]["lr"] == 0.1 != first.history[0]["lr"]
    checkpoint = load_checkpoint(tmp_path / "last.pt")
    assert checkpoint["inputs"] == "plan-b" and checkpoint["recipe"]["lr"] == 0.1


@pytest.mark.parametrize("damage", ["deleted", "other_epoch"])
def test_resume_rewrites_a_lost_best_checkpoint(tmp_path, damage):
    # Snakemake deletes a job's declared outputs (best.pt) before rerunning it; a crash
    # between best.pt and last.pt can leave a best.pt of a repeated, different epoch.
    recipe = Recipe(epochs=3, lr=0.05)
    straight = run_fit(mlp(), tmp_path / "a", recipe)
    run_fit(mlp(), tmp_path / "b", dataclasses.replace(recipe, epochs=2))
    expected = load_checkpoint(tmp_path / "b" / "best.pt")
    if damage == "deleted":
        (tmp_path / "b" / "best.pt").unlink()
    else:
        save_checkpoint(tmp_path / "b" / "best.pt", {**expected, "epoch": 99, "top5": -1.0})
    resumed = run_fit(mlp(seed=5), tmp_path / "b", recipe)
    assert len(resumed.history) == 3 and resumed.best_top1 == straight.best_top1
    # the easy blobs peak before epoch 3, so best.pt must be the restored file itself
    assert resumed.best_epoch == expected["epoch"] < 3
    best = load_checkpoint(tmp_path / "b" / "best.pt")
    assert best["epoch"] == expected["epoch"] and best["top5"] == expected["top5"]
    for name, tensor in expected["model"].items():
        assert torch.equal(best["model"][name], tensor)


def test_cosine_runs_cannot_be_extended(tmp_path):
    run_fit(mlp(), tmp_path, Recipe(epochs=1, schedule="cosine"))
    with pytest.raises(ConfigError, match="recipe epochs"):
        run_fit(mlp(), tmp_path, Recipe(epochs=2, schedule="cosine"))


# --- callbacks, logs, checkpoints -----------------------------------------------------


def test_after_step_keeps_a_zeroed_weight_at_zero(tmp_path):
    steps = []

    def prune_first_unit(model: nn.Module) -> None:
        steps.append(1)
        with torch.no_grad():
            model[0].weight[0].zero_()

    model = mlp()
    run_fit(model, tmp_path, Recipe(epochs=2, lr=0.1), after_step=prune_first_unit)
    assert len(steps) == 2 * math.ceil(256 / 32)
    assert torch.count_nonzero(model[0].weight[0]) == 0
    assert torch.count_nonzero(model[0].weight[1:]) == model[0].weight[1:].numel()
    best = load_checkpoint(tmp_path / "best.pt")
    assert torch.count_nonzero(best["model"]["0.weight"][0]) == 0


def test_log_has_one_row_per_epoch_and_blank_eval_between_evaluations(tmp_path):
    run_fit(mlp(), tmp_path, Recipe(epochs=3, milestones=(1, 2), eval_every=2))
    with open(tmp_path / "log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == LOG_COLUMNS
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3]
    assert [float(row["lr"]) for row in rows] == pytest.approx([0.1, 0.01, 0.001])
    assert rows[0]["eval_top1"] == ""
    assert rows[1]["eval_top1"] != "" and rows[2]["eval_top1"] != ""  # last epoch always


def test_cosine_schedule_anneals_over_all_epochs(tmp_path):
    result = run_fit(mlp(), tmp_path, Recipe(epochs=4, schedule="cosine", lr=0.1))
    expected = [0.05 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    assert [row["lr"] for row in result.history] == pytest.approx(expected)


def test_checkpoints_load_with_weights_only(tmp_path):
    masks = {"0.weight": torch.ones(16, 2, dtype=torch.bool)}
    result = run_fit(mlp(), tmp_path, Recipe(epochs=2), extra_state={"masks": masks, "tag": "x"})
    for name in ("best.pt", "last.pt"):
        checkpoint = torch.load(tmp_path / name, weights_only=True)
        assert torch.equal(checkpoint["extra_state"]["masks"]["0.weight"], masks["0.weight"])
        assert checkpoint["extra_state"]["tag"] == "x"
        mlp(seed=5).load_state_dict(checkpoint["model"])
    best = load_checkpoint(tmp_path / "best.pt")
    assert (best["epoch"], best["top1"]) == (result.best_epoch, result.best_top1)
    last = load_checkpoint(tmp_path / "last.pt")
    assert last["epoch"] == 2 and last["history"] == result.history
    assert isinstance(last["torch_rng_state"], torch.Tensor)


def test_extra_state_that_cannot_load_weights_only_is_rejected_up_front(tmp_path):
    with pytest.raises(ConfigError, match="extra_state"):
        run_fit(mlp(), tmp_path, Recipe(epochs=1), extra_state={"bad": Passthrough()})
    assert not (tmp_path / "last.pt").exists()


def test_zero_epochs_only_evaluates_and_still_writes_best(tmp_path):
    model = mlp()
    before = model[0].weight.clone()
    result = run_fit(model, tmp_path, Recipe(epochs=0))
    assert result.epochs_run == 0 and result.best_epoch == 0
    assert torch.equal(model[0].weight, before)
    assert load_checkpoint(tmp_path / "best.pt")["top1"] == result.best_top1


def test_non_finite_loss_names_epoch_and_batch(tmp_path):
    data = blobs()
    data.tensors[0][70] = float("nan")  # sample 70 lies in batch 2 (batch size 32)
    train = DataLoader(data, batch_size=32)
    with pytest.raises(SnacsError, match=r"epoch 1, batch 2 "):
        fit(mlp(), train, train, Recipe(epochs=1), tmp_path, device=CPU, progress=False)


# --- recipe, device, seed -------------------------------------------------------------


def test_recipe_from_dict_round_trips_and_accepts_late_milestones():
    recipe = Recipe.from_dict(
        {"epochs": 3, "lr": 0.01, "milestones": [90, 180], "nesterov": True, "gamma": 0.2}
    )
    assert recipe.milestones == (90, 180)
    assert Recipe.from_dict(recipe.to_dict()) == recipe


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"epochs": 3, "lrr": 0.1}, "lrr"),
        ({"lr": 0.1}, "epochs"),
        ({"epochs": 3, "lr": -0.1}, "lr"),
        ({"epochs": 3, "lr": "1e-3"}, "lr"),
        ({"epochs": -1}, "epochs"),
        ({"epochs": True}, "epochs"),
        ({"epochs": 3, "milestones": [20, 10]}, "milestones"),
        ({"epochs": 3, "milestones": [10, 10]}, "milestones"),
        ({"epochs": 3, "milestones": 10}, "milestones"),
        ({"epochs": 3, "schedule": "step"}, "schedule"),
        ({"epochs": 3, "momentum": 1.0}, "momentum"),
        ({"epochs": 3, "momentum": 0.0, "nesterov": True}, "nesterov"),
        ({"epochs": 3, "label_smoothing": 1.0}, "label_smoothing"),
        ({"epochs": 3, "batch_size": 0}, "batch_size"),
        ({"epochs": 3, "eval_every": 0}, "eval_every"),
        ({"epochs": 3, "weight_decay": float("nan")}, "weight_decay"),
    ],
)
def test_recipe_from_dict_rejects_bad_configs_naming_the_key(config, key):
    with pytest.raises(ConfigError, match=key):
        Recipe.from_dict(config)


def test_resolve_device(monkeypatch):
    assert resolve_device("cpu") == CPU
    with pytest.raises(ConfigError, match="not a valid device"):
        resolve_device("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device() == CPU
    with pytest.raises(SnacsError, match="CUDA is not available"):
        resolve_device("cuda")


def test_seed_everything_repeats_all_generators():
    def draw():
        return random.random(), float(np.random.rand()), torch.rand(1).item()

    seed_everything(3)
    first = draw()
    seed_everything(3)
    assert draw() == first
    seed_everything(4)
    assert draw() != first
    with pytest.raises(ConfigError):
        seed_everything(-1)
