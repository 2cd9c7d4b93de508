"""Stacked training: K runs of one architecture trained as one model, each still its own run.

The masked fine-tunes of one benchmark share the architecture, the recipe and, with one
seed, the batch order and augmentation of every epoch. Each of them alone fills a small
part of a GPU. Here their parameters and buffers are stacked along a new leading
dimension (``torch.func.stack_module_state``) and the model is called once per batch
through ``torch.vmap`` over ``torch.func.functional_call``. vmap's batching rules make
every convolution with K weight sets one grouped convolution of K groups, every
BatchNorm one K-wide BatchNorm (each member's running statistics updated in its own
slice), every linear layer one batched product: one kernel per layer for all K, for any
registered model and without a second, hand-stacked copy of each architecture to keep in
step with it.

Why each member gets its own numbers: the loss is the sum of the members' mean losses, so
the gradient of a member's weights is that of its own loss; SGD (momentum, Nesterov,
weight decay) acts element by element and the schedule depends on the epoch only, so one
optimizer over the stacked tensors steps every member as its own optimizer would; the
members' masks are stacked and re-applied after every step, as single runs do. What can
differ is the summation order inside the grouped kernels: float32 results agree with
separate runs to rounding (the tests hold them to 1e-5), not necessarily bit for bit.

Every member keeps a :class:`~snacs.engine.train.Session`, so resuming, ``last.pt``,
``best.pt`` and ``log.csv`` go through the very code :func:`~snacs.engine.train.fit` uses
and the files are those of a single run. The stacked state is copied into the members
after each epoch, before their files are written. A member's ``seconds`` column is the
stacked epoch's time, which the members share.

Members that stopped at different epochs (a folder deleted to rerun one member, a member
added later) resume from their own ``last.pt``: the members furthest behind train, stacked
among themselves, until they reach the next member's epoch, which then joins them, and so
on to the end. An epoch's data depend on the seed and the epoch only, so catching up gives
the numbers that training together from the start gives.

Stacking refuses (clear error) what would make a member differ from its single run:
dropout (vmap would draw other masks than a single run draws), float16 autocast with loss
scaling (one shared scale skips every member's step when one member overflows), models of
different architectures, and data parallelism (run stacks one per GPU instead).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state
from torch.nn.modules.dropout import _DropoutNd
from tqdm import tqdm

from snacs.engine.distributed import world
from snacs.engine.recipe import Recipe
from snacs.engine.train import (
    FitResult,
    Session,
    autocast,
    end_epoch,
    eval_due,
    make_optimizer,
    make_scheduler,
    open_session,
    raise_if_not_finite,
    restore_session,
    seed_epoch,
    session_result,
    topk_hits,
)
from snacs.errors import ConfigError, SnacsError


@dataclass
class StackMember:
    """One run of a stack: its model (masks already applied) and where its files go.

    ``masks`` are boolean masks over the model's parameters by name (True: kept); they are
    re-applied after every optimizer step. ``inputs`` and ``extra_state`` are what
    :func:`~snacs.engine.train.fit` takes for a single run.
    """

    model: nn.Module
    out_dir: str | Path
    inputs: str | None = None
    masks: Mapping[str, torch.Tensor] | None = None
    extra_state: Mapping | None = None


def dropout_layers(model: nn.Module) -> list[str]:
    """Layers that draw random masks: a stack would draw them differently from single runs,
    so a model with any cannot be stacked."""
    return [
        name
        for name, module in model.named_modules()
        if isinstance(module, _DropoutNd) and module.p > 0
    ]


def fit_stack(
    members: Sequence[StackMember],
    train_loader: Iterable,
    eval_loader: Iterable,
    recipe: Recipe,
    *,
    device: torch.device | str,
    seed: int = 0,
    resume: bool = True,
    restart_stale: bool = False,
    progress: bool = True,
    amp: bool | None = None,
) -> list[FitResult]:
    """Train every member with ``recipe`` as :func:`~snacs.engine.train.fit` would, together.

    One seed for all: the members see the same batches. Returns one :class:`FitResult` per
    member, in order; each member's model is left in its last-epoch state. The stacked
    weights are 5-D, so channels-last does not apply, and ``torch.compile`` is not used.
    """
    _check_stackable(members)
    sessions = [
        open_session(
            member.model,
            recipe,
            member.out_dir,
            device=device,
            seed=seed,
            amp=amp,
            channels_last=False,
            compile_model=False,
            extra_state=member.extra_state,
            inputs=member.inputs,
            progress=progress,
        )
        for member in members
    ]
    if len(members) > 1 and sessions[0].amp_dtype == torch.float16:
        raise ConfigError(
            "stacked training needs bfloat16 or float32: float16 autocast shares one loss "
            "scale among the members; train them one at a time (stack size 1) on this GPU"
        )
    completed = [restore_session(s, eval_loader, resume, restart_stale) for s in sessions]
    while True:
        behind = [i for i, done in enumerate(completed) if done < recipe.epochs]
        if not behind:
            break
        start = min(completed[i] for i in behind)
        group = [i for i in behind if completed[i] == start]
        stop = min((completed[i] for i in behind if completed[i] > start), default=recipe.epochs)
        stack = ModelStack([sessions[i] for i in group], [members[i].masks for i in group])
        stack.run_epochs(train_loader, eval_loader, start, stop)
        for i in group:
            completed[i] = stop
    return [session_result(s, done) for s, done in zip(sessions, completed, strict=True)]


class ModelStack:
    """The members' parameters, buffers and optimizer state as stacked tensors.

    Built from the members' sessions (which may have been resumed: their weights, momentum
    and schedule are taken over) and written back into them by :meth:`write_back`.
    """

    def __init__(
        self, sessions: Sequence[Session], masks: Sequence[Mapping[str, torch.Tensor] | None]
    ):
        self.sessions = list(sessions)
        first = self.sessions[0]
        self.recipe, self.device, self.amp_dtype = first.recipe, first.device, first.amp_dtype
        models = [session.model for session in self.sessions]
        self.base = copy.deepcopy(models[0]).to("meta")  # the structure; weights come stacked
        self.params, self.buffers = stack_module_state(models)
        self.optimizer = make_optimizer(self.params.values(), self.recipe)
        self.scheduler = make_scheduler(self.optimizer, self.recipe)
        self.optimizer.load_state_dict(
            _stacked_optimizer_state([s.optimizer.state_dict() for s in self.sessions])
        )
        self.scheduler.load_state_dict(first.scheduler.state_dict())
        self.masks = _stacked_masks(self.params, masks)
        self._forward = torch.vmap(self._member_forward, in_dims=(0, 0, None))

    def __len__(self) -> int:
        return len(self.sessions)

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        """Every member's logits for the same inputs: ``[members, batch, classes]``."""
        return self._forward(self.params, self.buffers, inputs)

    def _member_forward(self, params, buffers, inputs: torch.Tensor) -> torch.Tensor:
        return functional_call(self.base, (params, buffers), (inputs,))

    def run_epochs(
        self, train_loader: Iterable, eval_loader: Iterable, start: int, stop: int
    ) -> None:
        """Epochs ``start + 1 .. stop``, each ended by every member as a single run ends it."""
        seed = self.sessions[0].seed
        for epoch in range(start + 1, stop + 1):
            started = time.perf_counter()
            lr = self.optimizer.param_groups[0]["lr"]
            seed_epoch(train_loader, seed, epoch)
            train_stats = self.train_epoch(train_loader, epoch)
            self.scheduler.step()
            due = eval_due(self.recipe, epoch)
            metrics = self.evaluate(eval_loader) if due else [None] * len(self)
            seconds = time.perf_counter() - started
            self.write_back()
            for session, stats, measured in zip(self.sessions, train_stats, metrics, strict=True):
                end_epoch(session, epoch, lr, stats, measured, seconds)

    def train_epoch(self, loader: Iterable, epoch: int) -> list[tuple[float, float]]:
        """One pass over ``loader``; per member (mean loss, top-1 % on the training batches)."""
        count, device = len(self), self.device
        self.base.train()
        loss_sum = torch.zeros(count, dtype=torch.float64, device=device)
        correct = torch.zeros(count, dtype=torch.long, device=device)
        seen = 0
        losses: list[torch.Tensor] = []  # per batch, [members], on the device
        bar = tqdm(
            loader,
            desc=f"epoch {epoch}/{self.recipe.epochs} ({count} stacked)",
            disable=not self.sessions[0].progress,
            mininterval=1,
            leave=False,
            dynamic_ncols=True,
        )
        for inputs, targets in bar:
            inputs = inputs.to(device, non_blocking=True)
            targets = targets.to(device, non_blocking=True)
            with autocast(device, self.amp_dtype):
                logits = self(inputs)
                member_losses = self._losses(logits, targets)
            self.optimizer.zero_grad(set_to_none=True)
            member_losses.sum().backward()
            self.optimizer.step()
            self.apply_masks()
            member_losses = member_losses.detach()
            loss_sum += member_losses * targets.size(0)
            correct += (logits.detach().argmax(dim=-1) == targets).sum(dim=-1)
            seen += targets.size(0)
            losses.append(member_losses)
        if seen == 0:
            raise SnacsError("the training loader yielded no batches")
        by_member = torch.stack(losses, dim=1)
        for session, member_losses in zip(self.sessions, by_member, strict=True):
            try:
                raise_if_not_finite(list(member_losses.unbind()), epoch)
            except SnacsError as exc:
                raise SnacsError(f"{session.files.folder}: {exc}") from exc
        return [
            (loss / seen, 100.0 * hits / seen)
            for loss, hits in zip(loss_sum.tolist(), correct.tolist(), strict=True)
        ]

    def _losses(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Each member's mean cross-entropy over the batch: ``[members]``."""
        count = len(self)
        per_sample = F.cross_entropy(
            logits.flatten(0, 1),
            targets.repeat(count),
            reduction="none",
            label_smoothing=self.recipe.label_smoothing,
        )
        return per_sample.view(count, -1).mean(dim=1)

    @torch.no_grad()
    def apply_masks(self) -> None:
        """Zero every member's pruned entries (after each step, as single runs do)."""
        for param, mask in self.masks:
            param.mul_(mask)

    @torch.no_grad()
    def evaluate(self, loader: Iterable, ks: Sequence[int] = (1, 5)) -> list[dict]:
        """Per member what :func:`~snacs.engine.train.evaluate` returns for a single run."""
        count, device = len(self), self.device
        self.base.eval()
        correct = torch.zeros(len(ks), count, dtype=torch.long, device=device)
        loss_sum = torch.zeros(count, dtype=torch.float64, device=device)
        n = 0
        try:
            for inputs, targets in loader:
                inputs = inputs.to(device, non_blocking=True)
                targets = targets.to(device, non_blocking=True)
                with autocast(device, self.amp_dtype):
                    logits = self(inputs)
                logits = logits.float()
                per_sample = F.cross_entropy(
                    logits.flatten(0, 1), targets.repeat(count), reduction="none"
                )
                loss_sum += per_sample.view(count, -1).sum(dim=1)
                correct += topk_hits(logits, targets, ks)
                n += targets.numel()
        finally:
            self.base.train()
        if n == 0:
            raise SnacsError("the evaluation loader yielded no samples")
        hits = correct.tolist()
        return [
            {f"top{k}": 100.0 * hits[i][member] / n for i, k in enumerate(ks)}
            | {"loss": loss_sum[member].item() / n, "n": n}
            for member in range(count)
        ]

    @torch.no_grad()
    def write_back(self) -> None:
        """Copy each member's weights, buffers, momentum and schedule into its session."""
        optimizer_state = self.optimizer.state_dict()
        scheduler_state = self.scheduler.state_dict()
        for index, session in enumerate(self.sessions):
            for name, tensor in session.model.named_parameters():
                tensor.copy_(self.params[name][index])
            for name, tensor in session.model.named_buffers():
                tensor.copy_(self.buffers[name][index])
            session.optimizer.load_state_dict(
                {
                    "state": {
                        key: {
                            field: value[index].clone() if torch.is_tensor(value) else value
                            for field, value in state.items()
                        }
                        for key, state in optimizer_state["state"].items()
                    },
                    "param_groups": optimizer_state["param_groups"],
                }
            )
            session.scheduler.load_state_dict(copy.deepcopy(scheduler_state))


def _check_stackable(members: Sequence[StackMember]) -> None:
    if not members:
        raise ValueError("a stack needs at least one member")
    folders = [Path(member.out_dir).resolve() for member in members]
    repeated = sorted({str(folder) for folder in folders if folders.count(folder) > 1})
    if repeated:
        raise ConfigError(f"stack members must write to different folders; repeated: {repeated}")
    if len(members) > 1 and world()[1] > 1:
        raise ConfigError(
            "stacked training does not run under torch.distributed; start one stack per GPU"
        )
    first = members[0]
    layout = _layout(first.model)
    for member in members:
        dropout = dropout_layers(member.model)
        if dropout and len(members) > 1:
            raise ConfigError(
                f"{member.out_dir}: the model has dropout ({', '.join(dropout)}), which a "
                "stack would draw differently from a single run; use a stack size of 1"
            )
        _check_masks(member)
        if _layout(member.model) != layout:
            raise ConfigError(
                f"{member.out_dir}: its model's parameters and buffers differ from those of "
                f"{first.out_dir}; only models of one architecture can be stacked"
            )


def _check_masks(member: StackMember) -> None:
    params = dict(member.model.named_parameters())
    for name, mask in (member.masks or {}).items():
        if name not in params:
            raise ConfigError(f"{member.out_dir}: mask {name!r} names no parameter of the model")
        if tuple(mask.shape) != tuple(params[name].shape):
            raise ConfigError(
                f"{member.out_dir}: mask {name!r} has shape {tuple(mask.shape)}, the "
                f"parameter {tuple(params[name].shape)}"
            )


def _layout(model: nn.Module) -> list[tuple[str, tuple[int, ...], torch.dtype]]:
    tensors = [*model.named_parameters(), *model.named_buffers()]
    return [(name, tuple(tensor.shape), tensor.dtype) for name, tensor in tensors]


def _stacked_optimizer_state(states: Sequence[dict]) -> dict:
    """One SGD state dict whose per-parameter tensors hold every member's, stacked.

    The members stand at the same epoch, so either all have momentum buffers or none has.
    """
    keys = set(states[0]["state"])
    if any(set(state["state"]) != keys for state in states):
        raise SnacsError("stacked members must stand at the same epoch (optimizer states differ)")
    stacked = {
        key: {
            field: torch.stack([state["state"][key][field] for state in states])
            if torch.is_tensor(value)
            else value
            for field, value in states[0]["state"][key].items()
        }
        for key in keys
    }
    return {"state": stacked, "param_groups": states[0]["param_groups"]}


def _stacked_masks(
    params: Mapping[str, torch.Tensor], masks: Sequence[Mapping[str, torch.Tensor] | None]
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(stacked parameter, stacked mask) for every parameter some member prunes."""
    pairs = []
    for name, param in params.items():
        chosen = [(member_masks or {}).get(name) for member_masks in masks]
        if all(mask is None or bool(mask.all()) for mask in chosen):
            continue
        kept = torch.ones(param.shape[1:], dtype=torch.bool)
        stacked = torch.stack([kept if mask is None else mask.cpu() for mask in chosen])
        pairs.append((param, stacked.to(param.device, param.dtype)))
    return pairs
