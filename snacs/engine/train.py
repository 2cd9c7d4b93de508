"""The one training loop, shared by dense training and by fine-tuning of pruned models.

Using a single loop for every method is what makes the fine-tuned accuracies of different
pruners comparable: same optimizer, schedule, loss, evaluation and checkpoint selection.

Files written to ``out_dir``:

* ``log.csv``: one row per finished epoch (rewritten atomically after each epoch).
* ``last.pt``: everything needed to continue (model, optimizer, scheduler, grad scaler,
  epoch, best so far with its ``best.pt`` payload, history, recipe, seed, fingerprint of
  the inputs, torch RNG states, ``extra_state``).
* ``best.pt``: model weights of the epoch with the highest eval top-1 so far, with
  ``epoch``, ``top1``, ``top5`` and ``extra_state``. Selecting the best epoch on the test
  set follows the paper's protocol (docs/method.md); callers load ``best.pt`` to get it.

Resuming reproduces an uninterrupted run: at the start of each epoch, Python's ``random``,
NumPy and torch, the train loader's own ``generator`` (if it has one) and a sampler with
``set_epoch`` (e.g. ``DistributedSampler``) are reseeded from ``(seed, epoch)``. The batch
order, augmentation and dropout of an epoch therefore depend on the seed and the epoch
number only, not on how many epochs this process has already run. The same holds for
loader worker processes, whose seeds are drawn from those generators.

A ``last.pt`` is only continued by the same run: same recipe, seed and ``inputs``
fingerprint (what the model started from, e.g. the dense checkpoint and pruning plan).
Anything else is a stale checkpoint: an error for callers of the library, a fresh start for
workflow steps (``restart_stale``), whose output folder Snakemake reruns after an input or
the config changed. ``best.pt`` is a declared workflow output, which Snakemake deletes
before it reruns an interrupted job, so resuming rewrites it from ``last.pt``.
"""

import csv
import io
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from snacs.engine.device import resolve_device
from snacs.engine.distributed import barrier, is_writer, world
from snacs.engine.recipe import Recipe
from snacs.engine.seed import seed_rngs
from snacs.errors import CheckpointError, ConfigError, SnacsError
from snacs.io import load_checkpoint, load_state_dict_strict, save_checkpoint, write_text
from snacs.layout import TrainingFiles, training_files

LOGGER = logging.getLogger(__name__)

LOG_COLUMNS = (
    "epoch",
    "lr",
    "train_loss",
    "train_top1",
    "eval_top1",
    "eval_top5",
    "eval_loss",
    "seconds",
)
# Reading the loss on the host stalls the GPU queue, so nothing in the epoch loop does it:
# the step losses stay on the device and are checked for finiteness once, after the epoch
# (the exact failing batch is still reported); only a visible progress bar reads the
# running loss, every this many steps.
_PROGRESS_EVERY = 50
_LAST_KEYS = (
    "model",
    "optimizer",
    "scheduler",
    "scaler",
    "epoch",
    "best_top1",
    "best_epoch",
    "history",
    "recipe",
    "seed",
    "torch_rng_state",
    "cuda_rng_states",
    "extra_state",
)


@dataclass
class FitResult:
    """Outcome of :func:`fit`; ``epochs_run`` counts all epochs completed in ``out_dir``."""

    best_top1: float
    best_epoch: int
    last_top1: float
    epochs_run: int
    history: list[dict]


@dataclass
class Session:
    """The objects one training run works with, kept together for the helpers.

    :func:`fit` drives one; :mod:`snacs.engine.stack` keeps one per stacked member, for
    resuming and for writing the member's checkpoints and log exactly as a single run does.
    """

    model: nn.Module
    train_model: nn.Module  # what the training step calls: DDP-wrapped and/or compiled
    recipe: Recipe
    files: TrainingFiles
    device: torch.device
    seed: int
    optimizer: torch.optim.SGD
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    criterion: nn.Module
    amp_dtype: torch.dtype | None  # None: autocast off
    channels_last: bool
    extra_state: dict
    inputs: str | None
    progress: bool
    best_top1: float = -math.inf
    best_epoch: int = 0
    best: dict | None = None  # the best.pt payload, weights copied to the CPU
    history: list[dict] = field(default_factory=list)


def evaluate(
    model: nn.Module,
    loader: Iterable,
    device: torch.device | str,
    ks: Sequence[int] = (1, 5),
    amp: bool | None = None,
) -> dict:
    """Top-k accuracies in percent (keys ``top1``, ``top5``, ...), mean ``loss`` and ``n``.

    Runs in eval mode without gradients and restores the model's previous train/eval mode.
    ``amp=None`` means autocast on CUDA only. ``k`` larger than the number of classes counts
    every sample as a hit, as it should.
    """
    device = _as_device(device)
    if not ks or any(k < 1 for k in ks):
        raise ValueError(f"ks must be positive integers, got {ks!r}")
    amp_dtype = resolve_amp_dtype(device, device.type == "cuda" if amp is None else amp)
    was_training = model.training
    model.eval()
    correct = torch.zeros(len(ks), dtype=torch.long, device=device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    n = 0
    try:
        with torch.no_grad():
            for inputs, targets in loader:
                inputs = inputs.to(device, non_blocking=True)
                targets = targets.to(device, non_blocking=True)
                with autocast(device, amp_dtype):
                    logits = model(inputs)
                logits = logits.float()
                loss_sum += F.cross_entropy(logits, targets, reduction="sum")
                correct += topk_hits(logits, targets, ks)
                n += targets.numel()
    finally:
        model.train(was_training)
    if n == 0:
        raise SnacsError("the evaluation loader yielded no samples")
    result: dict[str, Any] = {
        f"top{k}": 100.0 * hits / n for k, hits in zip(ks, correct.tolist(), strict=True)
    }
    result["loss"] = loss_sum.item() / n
    result["n"] = n
    return result


def fit(
    model: nn.Module,
    train_loader: Iterable,
    eval_loader: Iterable,
    recipe: Recipe,
    out_dir: str | Path,
    *,
    device: torch.device | str,
    seed: int = 0,
    after_step: Callable[[nn.Module], None] | None = None,
    resume: bool = True,
    restart_stale: bool = False,
    inputs: str | None = None,
    progress: bool = True,
    amp: bool | None = None,
    channels_last: bool | None = None,
    compile_model: bool = False,
    extra_state: Mapping | None = None,
) -> FitResult:
    """Train ``model`` with ``recipe``, evaluating, logging and checkpointing every epoch.

    The model is moved to ``device`` (and to channels-last memory format when enabled) and
    is returned in its **last**-epoch state; load ``out_dir/best.pt`` for the best epoch.
    ``after_step(model)`` runs after every optimizer step (pruning uses it to keep removed
    weights at exactly zero). ``amp``/``channels_last`` ``None`` mean "on if CUDA": autocast
    in bfloat16 where supported, else float16 with a gradient scaler. With ``resume`` and an
    existing ``out_dir/last.pt`` of the same run training continues after its epoch; a
    finished run is returned as stored without training. ``inputs`` fingerprints what the
    model starts from (see :func:`snacs.io.fingerprint`); a ``last.pt`` of another run raises
    :class:`ConfigError`, or with ``restart_stale`` is discarded with a warning and training
    starts over. ``recipe.epochs == 0`` only evaluates the model (recorded as epoch 0), so
    callers can always rely on ``best.pt`` existing afterwards. ``extra_state`` (tensors and
    plain values only) is stored in both checkpoints.

    ``compile_model`` runs the training forward and backward through ``torch.compile`` on
    CUDA (ignored elsewhere, where compiling costs more than it saves). Inside a
    ``torch.distributed`` process group (under ``torchrun``) the model trains wrapped in
    ``DistributedDataParallel``; each rank must get its own share of every batch (see
    :mod:`snacs.engine.distributed`), training statistics are averaged over ranks, and
    only rank 0 writes ``best.pt``, ``last.pt`` and ``log.csv``, which are the same files
    as a single-process run writes.
    """
    session = open_session(
        model,
        recipe,
        out_dir,
        device=device,
        seed=seed,
        amp=amp,
        channels_last=channels_last,
        compile_model=compile_model,
        extra_state=extra_state,
        inputs=inputs,
        progress=progress,
    )
    completed = restore_session(session, eval_loader, resume, restart_stale)
    if completed >= recipe.epochs:
        return session_result(session, completed)
    for epoch in range(completed + 1, recipe.epochs + 1):
        started = time.perf_counter()
        lr = session.optimizer.param_groups[0]["lr"]
        seed_epoch(train_loader, seed, epoch)
        train_stats = _train_epoch(session, train_loader, epoch, after_step)
        session.scheduler.step()
        metrics = _evaluate(session, eval_loader) if eval_due(recipe, epoch) else None
        end_epoch(session, epoch, lr, train_stats, metrics, time.perf_counter() - started)
    return session_result(session, recipe.epochs)


def open_session(
    model: nn.Module,
    recipe: Recipe,
    out_dir: str | Path,
    *,
    device: torch.device | str,
    seed: int,
    amp: bool | None,
    channels_last: bool | None,
    compile_model: bool,
    extra_state: Mapping | None,
    inputs: str | None,
    progress: bool,
) -> Session:
    """One run's model on ``device`` with its optimizer, schedule and bookkeeping (see fit)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    device = _as_device(device)
    use_amp = device.type == "cuda" if amp is None else amp
    use_channels_last = device.type == "cuda" if channels_last is None else channels_last
    model.to(device)
    if use_channels_last:
        model.to(memory_format=torch.channels_last)
    amp_dtype = resolve_amp_dtype(device, use_amp)
    optimizer = make_optimizer(model.parameters(), recipe)
    return Session(
        model=model,
        train_model=_training_forward(model, device, compile_model),
        recipe=recipe,
        files=training_files(out_dir),
        device=device,
        seed=seed,
        optimizer=optimizer,
        scheduler=make_scheduler(optimizer, recipe),
        scaler=torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16),
        criterion=nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing),
        amp_dtype=amp_dtype,
        channels_last=use_channels_last,
        extra_state=_checked_extra_state(extra_state),
        inputs=inputs,
        progress=progress,
    )


def restore_session(
    session: Session, eval_loader: Iterable, resume: bool, restart_stale: bool
) -> int:
    """Continue from ``last.pt`` when allowed; return the epochs completed (0: fresh start).

    A fresh run of a 0-epoch recipe is evaluated and recorded here as epoch 0.
    """
    last_path = session.files.last
    completed = None
    if resume and last_path.is_file():
        completed = _resume(session, last_path, restart_stale)
    if completed is None and session.recipe.epochs == 0:
        lr = session.recipe.lr
        end_epoch(session, 0, lr, None, _evaluate(session, eval_loader), 0.0)
    return completed or 0


def eval_due(recipe: Recipe, epoch: int) -> bool:
    """Every ``eval_every``-th epoch is evaluated, and always the last one."""
    return epoch % recipe.eval_every == 0 or epoch == recipe.epochs


def make_optimizer(parameters: Iterable[torch.Tensor], recipe: Recipe) -> torch.optim.SGD:
    return torch.optim.SGD(
        parameters,
        lr=recipe.lr,
        momentum=recipe.momentum,
        nesterov=recipe.nesterov,
        weight_decay=recipe.weight_decay,
    )


def _training_forward(model: nn.Module, device: torch.device, compile_model: bool) -> nn.Module:
    """The module the training step calls; ``model`` itself stays the one that is saved."""
    forward = model
    if world()[1] > 1:
        forward = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if compile_model and device.type == "cuda":
        forward = torch.compile(forward)
    elif compile_model:
        LOGGER.info("compile is only used on CUDA; training %s eagerly", device)
    return forward


def _as_device(device: torch.device | str) -> torch.device:
    return device if isinstance(device, torch.device) else resolve_device(device)


def resolve_amp_dtype(device: torch.device, enabled: bool) -> torch.dtype | None:
    """bfloat16 needs no loss scaling, so it is preferred wherever the hardware has it."""
    if not enabled:
        return None
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def autocast(device: torch.device, dtype: torch.dtype | None) -> torch.autocast:
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def make_scheduler(
    optimizer: torch.optim.Optimizer, recipe: Recipe
) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-epoch schedules; ``constant`` is a no-op scheduler so resuming is uniform."""
    if recipe.schedule == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(
            optimizer, milestones=list(recipe.milestones), gamma=recipe.gamma
        )
    if recipe.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(recipe.epochs, 1))
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def _checked_extra_state(extra_state: Mapping | None) -> dict:
    """Fail before training, not at the first checkpoint load, if it is not weights-only."""
    extra = dict(extra_state or {})
    buffer = io.BytesIO()
    try:
        torch.save(extra, buffer)
        buffer.seek(0)
        torch.load(buffer, weights_only=True)
    except Exception as exc:
        raise ConfigError(
            "extra_state must hold only tensors and plain values (numbers, strings, lists, "
            f"dicts) so checkpoints load with weights_only=True: {type(exc).__name__}: {exc}"
        ) from exc
    return extra


def _resume(session: Session, last_path: Path, restart_stale: bool) -> int | None:
    """Restore the session from ``last.pt``; return the number of epochs it completed.

    ``None`` when the checkpoint was stale and removed (``restart_stale``): train afresh.
    """
    checkpoint = load_checkpoint(last_path)
    barrier()  # under DDP, every rank has read last.pt before rank 0 may replace it
    missing = [key for key in _LAST_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(f"{last_path} is not a training checkpoint; it lacks {missing}")
    problems = _run_differences(checkpoint, session)
    if problems:
        reason = f"{last_path} belongs to a different run ({'; '.join(problems)})"
        if not restart_stale:
            raise ConfigError(
                f"{reason}; delete {session.files.folder} or pass resume=False to start over"
            )
        LOGGER.warning("%s; starting over", reason)
        if is_writer():
            for path in (session.files.last, session.files.best):
                path.unlink(missing_ok=True)
        barrier()
        return None
    load_state_dict_strict(session.model, checkpoint["model"], str(last_path))
    session.optimizer.load_state_dict(checkpoint["optimizer"])
    session.scheduler.load_state_dict(checkpoint["scheduler"])
    if session.scaler.is_enabled() and checkpoint["scaler"]:
        session.scaler.load_state_dict(checkpoint["scaler"])
    session.best_top1 = checkpoint["best_top1"]
    session.best_epoch = checkpoint["best_epoch"]
    session.best = checkpoint.get("best")
    best_path = session.files.best
    # Missing (deleted by Snakemake), or from a repeated epoch that differed this time.
    if (
        is_writer()
        and session.best is not None
        and (
            not best_path.is_file() or load_checkpoint(best_path).get("epoch") != session.best_epoch
        )
    ):
        save_checkpoint(best_path, session.best)
    session.history = list(checkpoint["history"])
    # Leaves the process RNGs as the original run left them, which matters when a finished
    # run is returned without training and the caller keeps drawing random numbers.
    torch.set_rng_state(checkpoint["torch_rng_state"])
    cuda_states = checkpoint["cuda_rng_states"]
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)
    return checkpoint["epoch"]


def _run_differences(checkpoint: dict, session: Session) -> list[str]:
    """Why ``checkpoint`` cannot be continued by ``session``; empty when it can.

    Extending ``epochs`` is fine except under cosine annealing, whose lr spans all epochs.
    A recorded best epoch whose ``best.pt`` is gone cannot be restored from a ``last.pt``
    written before checkpoints kept the best payload.
    """
    stored = checkpoint["recipe"]
    current = session.recipe.to_dict()
    epochs_matter = session.recipe.schedule == "cosine"
    problems = [
        f"recipe {key}: {stored.get(key)!r} there, {value!r} now"
        for key, value in current.items()
        if stored.get(key) != value and (key != "epochs" or epochs_matter)
    ]
    if checkpoint["seed"] != session.seed:
        problems.append(f"seed: {checkpoint['seed']} there, {session.seed} now")
    if checkpoint.get("inputs") != session.inputs:
        problems.append(f"inputs: {checkpoint.get('inputs')} there, {session.inputs} now")
    if checkpoint["epoch"] > session.recipe.epochs:
        problems.append(f"it already ran {checkpoint['epoch']} epochs, the recipe asks for fewer")
    lost_best = not session.files.best.is_file() and checkpoint.get("best") is None
    if math.isfinite(checkpoint["best_top1"]) and lost_best:
        problems.append(
            f"{session.files.best}, of its epoch {checkpoint['best_epoch']}, is missing"
        )
    return problems


def seed_epoch(loader: Iterable, seed: int, epoch: int) -> None:
    """Make the epoch's randomness a function of (seed, epoch) only (see module docstring)."""
    epoch_seed = int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])
    seed_rngs(epoch_seed)
    generator = getattr(loader, "generator", None)
    if isinstance(generator, torch.Generator):
        generator.manual_seed(epoch_seed)
    for sampler in (getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)):
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)


def _train_epoch(
    session: Session,
    loader: Iterable,
    epoch: int,
    after_step: Callable[[nn.Module], None] | None,
) -> tuple[float, float]:
    """One pass over ``loader``; returns (mean loss, top-1 % on the training batches)."""
    model, device = session.train_model, session.device
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen = 0
    losses: list[torch.Tensor] = []  # per batch, on the device
    bar = tqdm(
        loader,
        desc=f"epoch {epoch}/{session.recipe.epochs}",
        disable=not session.progress or not is_writer(),
        mininterval=1,
        leave=False,
        dynamic_ncols=True,
    )
    for batch_index, (inputs, targets) in enumerate(bar):
        inputs = inputs.to(device, non_blocking=True)
        if session.channels_last and inputs.dim() == 4:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        targets = targets.to(device, non_blocking=True)
        with autocast(device, session.amp_dtype):
            logits = model(inputs)
            loss = session.criterion(logits, targets)
        session.optimizer.zero_grad(set_to_none=True)
        session.scaler.scale(loss).backward()
        session.scaler.step(session.optimizer)
        session.scaler.update()
        if after_step is not None:
            after_step(session.model)
        loss = loss.detach()
        loss_sum += loss * targets.size(0)
        correct += (logits.detach().argmax(dim=1) == targets).sum()
        seen += targets.size(0)
        losses.append(loss)
        if not bar.disable and (batch_index + 1) % _PROGRESS_EVERY == 0:
            bar.set_postfix(loss=f"{loss_sum.item() / seen:.4f}", refresh=False)
    if seen == 0:
        raise SnacsError("the training loader yielded no batches")
    raise_if_not_finite(losses, epoch)
    totals = torch.stack(
        [loss_sum, correct.double(), torch.tensor(float(seen), dtype=torch.float64, device=device)]
    )
    if world()[1] > 1:  # the epoch's statistics over every rank's share
        dist.all_reduce(totals)
    loss_total, correct_total, seen_total = totals.tolist()
    return loss_total / seen_total, 100.0 * correct_total / seen_total


def raise_if_not_finite(losses: list[torch.Tensor], epoch: int) -> None:
    bad = (~torch.isfinite(torch.stack(losses))).nonzero()
    if len(bad):
        index = int(bad[0, 0])
        raise SnacsError(
            f"training loss became {losses[index].item()} at epoch {epoch}, batch "
            f"{index} (0-based); lower the learning rate or check the data"
        )


def _evaluate(session: Session, loader: Iterable) -> dict:
    return evaluate(
        session.model, loader, session.device, ks=(1, 5), amp=session.amp_dtype is not None
    )


def end_epoch(
    session: Session,
    epoch: int,
    lr: float,
    train_stats: tuple[float, float] | None,
    metrics: dict | None,
    seconds: float,
) -> None:
    """Record the epoch, then write best.pt (if improved), last.pt and log.csv, in that order.

    last.pt goes after best.pt so that an interruption in between repeats the epoch, which
    rewrites the same best.pt, rather than leaving best.pt behind last.pt.
    """
    train_loss, train_top1 = train_stats if train_stats is not None else (None, None)
    row = {
        "epoch": epoch,
        "lr": float(lr),
        "train_loss": train_loss,
        "train_top1": train_top1,
        "eval_top1": metrics["top1"] if metrics else None,
        "eval_top5": metrics["top5"] if metrics else None,
        "eval_loss": metrics["loss"] if metrics else None,
        "seconds": float(seconds),
    }
    session.history.append(row)
    improved = metrics is not None and metrics["top1"] > session.best_top1
    writer = is_writer()
    if improved:
        session.best_top1, session.best_epoch = metrics["top1"], epoch
        session.best = {
            "model": {
                k: v.detach().to("cpu", copy=True) for k, v in session.model.state_dict().items()
            },
            "epoch": epoch,
            "top1": metrics["top1"],
            "top5": metrics["top5"],
            "extra_state": session.extra_state,
        }
        if writer:
            save_checkpoint(session.files.best, session.best)
    if writer:
        save_checkpoint(session.files.last, _last_payload(session, epoch))
        _write_log(session.files.log, session.history)
        tqdm.write(_summary(session.recipe.epochs, row, improved))


def _last_payload(session: Session, epoch: int) -> dict:
    """Keys must match ``_LAST_KEYS``."""
    return {
        "model": session.model.state_dict(),
        "optimizer": session.optimizer.state_dict(),
        "scheduler": session.scheduler.state_dict(),
        "scaler": session.scaler.state_dict(),
        "epoch": epoch,
        "best_top1": session.best_top1,
        "best_epoch": session.best_epoch,
        "best": session.best,
        "history": session.history,
        "recipe": session.recipe.to_dict(),
        "seed": session.seed,
        "inputs": session.inputs,
        "torch_rng_state": torch.get_rng_state(),
        "cuda_rng_states": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "extra_state": session.extra_state,
    }


def _write_log(path: Path, history: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LOG_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({key: "" if row[key] is None else row[key] for key in LOG_COLUMNS})
    write_text(path, buffer.getvalue())


def _summary(total_epochs: int, row: dict, improved: bool) -> str:
    parts = [f"epoch {row['epoch']}/{total_epochs}", f"lr {row['lr']:.4g}"]
    if row["train_loss"] is not None:
        parts.append(f"train loss {row['train_loss']:.4f} top1 {row['train_top1']:.2f}%")
    if row["eval_top1"] is not None:
        parts.append(
            f"eval top1 {row['eval_top1']:.2f}% top5 {row['eval_top5']:.2f}% "
            f"loss {row['eval_loss']:.4f}"
        )
    parts.append(f"{row['seconds']:.1f}s")
    return " | ".join(parts) + (" (best)" if improved else "")


def session_result(session: Session, epochs_run: int) -> FitResult:
    evaluated = [row["eval_top1"] for row in session.history if row["eval_top1"] is not None]
    return FitResult(
        best_top1=session.best_top1,
        best_epoch=session.best_epoch,
        last_top1=evaluated[-1],
        epochs_run=epochs_run,
        history=list(session.history),
    )


def topk_hits(logits: torch.Tensor, targets: torch.Tensor, ks: Sequence[int]) -> torch.Tensor:
    """Number of samples whose target is among the k highest logits, for each k.

    ``logits`` is ``[..., batch, classes]``: leading dimensions (stacked members) are kept,
    so the result is ``[len(ks), ...]``.
    """
    num_classes = logits.size(-1)
    ranked = logits.topk(min(max(ks), num_classes), dim=-1).indices
    found = ranked.eq(targets.unsqueeze(-1))
    return torch.stack([found[..., : min(k, num_classes)].any(dim=-1).sum(dim=-1) for k in ks])
