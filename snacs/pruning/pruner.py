"""The Pruner protocol, its two bases, the pruner registry, and discovery of pruner modules.

A pruner is a class with a ``name``, a ``granularity``, a ``citation`` and two steps:
``score(ctx)`` (the timed part: what the method computes about the network, as typed
scores) and ``plan(scores, target, ctx)`` (turning scores into masks). ``FilterPruner`` and
``ConnectionPruner`` hold the planning shared by all pruners of a granularity, so most
pruners only score. Registering a pruner with ``@register_pruner`` and placing its module in
``baselines/`` is all that is needed for the workflow, the tables and the figures to pick
it up.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import pkgutil
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from snacs.errors import ConfigError, SnacsError
from snacs.options import build_options
from snacs.pruning.connections import ConnectionOptions, connection_plan
from snacs.pruning.context import PruneContext
from snacs.pruning.plan import PruningPlan
from snacs.pruning.scores import ConnectionScores, PrunerScores, Scores
from snacs.pruning.target import Target, select_filters
from snacs.registry import Registry


@dataclass(frozen=True)
class NoOptions:
    """Options of a pruner that has none."""


class Pruner(ABC):
    """Base class of every pruner; subclasses set the class attributes and the two steps."""

    name: ClassVar[str]
    granularity: ClassVar[str]  # "filter" or "connection"
    citation: ClassVar[str]
    summary: ClassVar[str] = ""
    # Colour and marker of the method in every figure (None: one derived from the name).
    color: ClassVar[str | None] = None
    marker: ClassVar[str | None] = None
    needs_activations: ClassVar[bool] = False
    Options: ClassVar[type] = NoOptions

    def __init__(self, **options: Any):
        known = {f.name for f in dataclasses.fields(self.Options)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(
                f"unknown option(s) {unknown} for pruner {self.name!r}; "
                f"valid options: {sorted(known) or 'none'}"
            )
        self.options = build_options(self.Options, options)

    def prepare(self, ctx: PruneContext) -> None:
        """One-time per-process work before scoring, such as loading compiled kernels.

        Timed apart from scoring (``prepare_seconds``), as imports are: a pruner's scoring
        time is then the same in a fresh process and in a long one. Nothing that depends
        on the model or the data belongs here. Most pruners have nothing to prepare.
        """
        return None

    @abstractmethod
    def score(self, ctx: PruneContext) -> PrunerScores:
        """Compute the method's importance scores (timed by the harness)."""

    @abstractmethod
    def plan(self, scores: Any, target: Target, ctx: PruneContext) -> PruningPlan:
        """Turn scores into a plan that meets ``target`` (or the method's own rule)."""


class FilterPruner(Pruner):
    """A pruner that ranks whole filters; searching for the target is shared harness logic.

    Subclasses return, from ``score``, ``Scores`` with one score per output channel for each
    layer in ``ctx.graph.filter_prunable()``; lower means less important. The scores'
    ``layer_caps`` replace the class's ``layer_cap`` for the layers they list, and their
    ``protected`` filters are never removed.
    """

    granularity: ClassVar[str] = "filter"
    layer_cap: ClassVar[float] = 0.9

    def plan(self, scores: Scores, target: Target, ctx: PruneContext) -> PruningPlan:
        caps = {name: scores.layer_caps.get(name, self.layer_cap) for name in scores.per_layer}
        removed, masks = select_filters(
            scores.per_layer, target, ctx.model, ctx.graph, ctx.cost, caps, scores.protected
        )
        return PruningPlan(
            method=self.name,
            granularity=self.granularity,
            masks=masks,
            info={
                "removed_filters": {k: len(v) for k, v in removed.items()},
                "layer_caps": caps,
                **scores.plan_info(),
            },
        )


class ConnectionPruner(Pruner):
    """A pruner that scores (child group, parent group) connections; planning is shared.

    Subclasses return ``ConnectionScores`` from ``score`` and use an ``Options`` dataclass
    derived from ``ConnectionOptions`` (the per-layer cap, the global share, the
    never-disconnect guard, per-layer normalisation and cost-aware allocation).
    """

    granularity: ClassVar[str] = "connection"
    Options: ClassVar[type] = ConnectionOptions

    def plan(self, scores: ConnectionScores, target: Target, ctx: PruneContext) -> PruningPlan:
        return connection_plan(self.name, scores, target, ctx.model, ctx.cost, self.options)


PRUNERS: Registry[type[Pruner]] = Registry("pruner")


def register_pruner(cls: type[Pruner]) -> type[Pruner]:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    for attribute in ("name", "granularity", "citation"):
        if not getattr(cls, attribute, None):
            raise TypeError(f"pruner class {cls.__name__} must set {attribute!r}")
    return PRUNERS.register(cls.name)(cls)


_BUILTIN_PACKAGES = ("snacs.algorithm", "baselines")


def load_pruner_modules(extra: Iterable[str] = ()) -> list[str]:
    """Import every module of the built-in pruner packages plus ``extra`` ones.

    ``extra`` entries are dotted module names or paths to ``.py`` files, so a user can
    keep a pruner outside the repository. Returns the imported module names.
    """
    imported = []
    for package_name in _BUILTIN_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__, prefix=f"{package_name}."):
            importlib.import_module(info.name)
            imported.append(info.name)
    for entry in extra:
        imported.append(_import_extra(entry))
    return imported


def _import_extra(entry: str) -> str:
    path = Path(entry)
    if path.suffix == ".py":
        if not path.is_file():
            raise SnacsError(f"pruner module file {path} does not exist")
        module_name = f"snacs_user_pruners.{path.stem}"
        if module_name in sys.modules:  # already registered by an earlier call
            return module_name
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        return module_name
    try:
        importlib.import_module(entry)
    except ModuleNotFoundError as exc:
        raise SnacsError(f"cannot import pruner module {entry!r}: {exc}") from exc
    return entry


def build_pruner(name: str, options: Mapping[str, Any] | None = None) -> Pruner:
    """Instantiate a registered pruner with its options from the config."""
    return PRUNERS.get(name)(**dict(options or {}))
