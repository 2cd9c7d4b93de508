"""A step command's arguments, read off its step function's signature.

A workflow step is said twice: in its rule's shell line and in its function. The command
line reads the function, so a new parameter needs no edit here. Each parameter becomes a
flag named after it (``dense_checkpoint`` -> ``--dense-checkpoint``) and typed by its
annotation: paths and strings, ``int``, ``float``, a ``Literal`` (its choices), a
sequence of those (one or more values), a ``bool`` (a flag that flips its default:
``progress`` -> ``--no-progress``). It is required unless it has a default or may be
``None``. A record of files (a dataclass such as ``PruneFiles``) becomes one flag per
field (``out: PruneFiles`` -> ``--out-plan``, ``--out-scores``, ``--out-record``); a
sequence of records one flag per field with a value per record, or one value for all.
What is not one value on a command line has a converter: the config part a step reads
(``spec``, a study's ``section``, the report's ``config``), the ``device``, the prune
step's targets (``targets`` -> ``--targets`` with their labels, ``--targets-plan``,
``--targets-scores``, ``--targets-record`` with a file per label). A parameter that fits
none is an error when the parser is built, naming the parameter, so no step can gain an
argument the command line leaves out.

Parameters (and record fields) annotated ``Written`` name what the step writes: the
command line locks them before the step starts (one writer per output).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import json
import os
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

from snacs.errors import SnacsError
from snacs.layout import WRITTEN


class StepSignatureError(TypeError):
    """A step function has a parameter the command line cannot give (a programming error)."""


def json_object(text: str) -> dict:
    """argparse type: a JSON object (``--spec``, ``--options``, ``--config-json``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object {{...}}, got {text!r}")
    return value


#: The help of a parameter's flag, by parameter name: one glossary, since the steps name
#: the same things alike. A parameter without an entry gets a flag without help.
HELP: Mapping[str, str] = {
    "activations": "activation cache (weights: trained)",
    "activations_path": "activation cache file (shared by pruners)",
    "compression": "what the selection compares at the tolerance",
    "dense": "dense checkpoint (weights: trained)",
    "dense_checkpoint": "dense checkpoint",
    "dense_json": "the benchmark's dense record",
    "figure": "figure files (.png, .pdf)",
    "finetuned_checkpoint": "the run's fine-tuned checkpoint",
    "full_check": "decode every image (default: headers only)",
    "label": "the control: random<k>, magnitude or inverted",
    "latex": "LaTeX table",
    "markdown": "Markdown table",
    "method": "a method of the config (its pruner and options)",
    "methods": "methods to show",
    "metrics_out": "run record (JSON)",
    "one_shot": "the benchmark's one-shot records (snacs oneshot)",
    "out_dir": "training folder (checkpoints, log)",
    "paper": "the paper's numbers (paper_figures/)",
    "paper_speed": "paper_figures/speed_paper.csv",
    "plan": "pruning plan",
    "plan_path": "pruning plan",
    "progress": "hide progress bars",
    "prune_json": "prune records",
    "prune_record": "the plan's prune record",
    "published": "published results CSV shown beside ours",
    "raw": "raw CSV of the study's measuring step",
    "record": "prune record (JSON)",
    "results": "run records",
    "scores": "the pruner's scores",
    "seed": "seed of the run",
    "selected": "selected table (CSV) of snacs tables",
    "slim_out": "where the slim model is exported (.pt2); omitted: no export",
    "stem": "table path without extension",
    "summary": "every number (CSV)",
    "summary_csv": "main table (CSV) of snacs tables",
    "tables": "table path without extension",
    "tolerance_pp": "accuracy points a selected run may lose",
    "train_dir": "training folder (checkpoints, log)",
    "whole_out": "also time whole-network scoring (studies.speed.whole) into this CSV",
    "whole_raw": "whole-network timings CSV from snacs speed --whole-out",
    "whole_tables": "whole-network table (with --whole-raw)",
}


@dataclass(frozen=True)
class Param:
    """One parameter of a step function (or field of a record), as the command line sees it."""

    name: str
    hint: Any  # the annotation without ``Written`` and ``None``
    written: bool
    optional: bool  # may be None
    default: Any = inspect.Parameter.empty

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty and not self.optional

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def help(self, text: str | None = None) -> str | None:
        """``text`` (default: the glossary's), saying so when the step writes it."""
        text = text or HELP.get(self.name)
        if not self.written:
            return text
        return f"{text} (written)" if text else "written by the step"


def param(name: str, hint: Any, default: Any = inspect.Parameter.empty) -> Param:
    """``hint`` unwrapped: ``Written[...]`` and ``... | None`` become flags of the parameter."""
    written = optional = False
    while True:
        if typing.get_origin(hint) is typing.Annotated:
            written |= any(mark is WRITTEN for mark in hint.__metadata__)
            hint = typing.get_args(hint)[0]
        elif typing.get_origin(hint) in (Union, types.UnionType) and type(None) in (
            members := typing.get_args(hint)
        ):
            optional = True
            rest = tuple(m for m in members if m is not type(None))
            hint = rest[0] if len(rest) == 1 else Union[rest]  # noqa: UP007 (built at run time)
        else:
            return Param(name, hint, written, optional, default)


@dataclass(frozen=True)
class Step:
    """What a converter may know of the step: its function and the config part it reads."""

    function: Callable
    part: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(inspect.signature(self.function).parameters)

    @property
    def where(self) -> str:
        return f"{self.function.__module__}.{self.function.__qualname__}"


Build = Callable[[argparse.Namespace, Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Binding:
    """How one or more parameters of a step come from the parsed command line."""

    parameters: tuple[str, ...]
    flags: tuple[str, ...]
    outputs: tuple[str, ...]  # the namespace entries that name what the step writes
    build: Build  # their values, given the values of the parameters before them


@dataclass(frozen=True)
class Arguments:
    """A step command's arguments: one binding per parameter (or group of parameters)."""

    bindings: tuple[Binding, ...]

    def values(self, args: argparse.Namespace) -> dict[str, Any]:
        """The step function's keyword arguments."""
        values: dict[str, Any] = {}
        for binding in self.bindings:
            values.update(binding.build(args, values))
        return values

    def outputs(self, args: argparse.Namespace) -> list[str]:
        """Every path the command will write, as given on the command line."""
        found = []
        for dest in (dest for binding in self.bindings for dest in binding.outputs):
            value = getattr(args, dest)
            found += [str(v) for v in (value if isinstance(value, list) else [value]) if v]
        return found


Converter = Callable[[argparse.ArgumentParser, Param, Step], Binding]


def step_arguments(parser: argparse.ArgumentParser, step: Step) -> Arguments:
    """Add the flags of ``step.function``'s parameters to ``parser``; how to read them back."""
    try:
        hints = typing.get_type_hints(step.function, include_extras=True)
    except NameError as exc:
        raise StepSignatureError(f"{step.where}: an annotation does not resolve ({exc})") from None
    bindings: list[Binding] = []
    covered: set[str] = set()
    for name, parameter in inspect.signature(step.function).parameters.items():
        if name in covered:
            continue
        if name not in hints:
            raise StepSignatureError(
                f"{step.where}: parameter {name!r} has no annotation to derive its flag from"
            )
        found = param(name, hints[name], parameter.default)
        try:
            binding = converter(found, step)(parser, found, step)
        except argparse.ArgumentError as exc:
            raise StepSignatureError(f"{step.where}: parameter {name!r}: {exc}") from None
        bindings.append(binding)
        covered |= set(binding.parameters)
    return Arguments(tuple(bindings))


def converter(found: Param, step: Step) -> Converter:
    """The converter of a parameter: by name for the config parts, else by its type."""
    if found.name in BY_NAME and typing.get_origin(found.hint) in (Mapping, dict):
        return BY_NAME[found.name]
    if qualified_name(found.hint) in BY_TYPE:
        return BY_TYPE[qualified_name(found.hint)]
    if found.hint is bool:
        return _switch
    if _value_kwargs(found.hint) is not None:
        return _value
    if dataclasses.is_dataclass(found.hint):
        return _record
    if dataclasses.is_dataclass(_element(found.hint)):
        return _records
    raise StepSignatureError(
        f"{step.where}: parameter {found.name!r} is {found.hint!r}, which the command line "
        "cannot give; add a converter for it to BY_TYPE in snacs/step_arguments.py"
    )


def qualified_name(hint: Any) -> str | None:
    """``module.Class`` of a class annotation, ``Sequence[module.Class]`` of a sequence of
    one (the converters need not import it)."""
    if isinstance(hint, type):
        return f"{hint.__module__}.{hint.__qualname__}"
    element = _element(hint)
    return f"Sequence[{qualified_name(element)}]" if isinstance(element, type) else None


PATH_TYPES = {str, Path}


def _element(hint: Any) -> Any:
    """The element type of a ``Sequence[...]``/``Iterable[...]``/``list[...]``, else None."""
    if typing.get_origin(hint) in (Sequence, Iterable, list) and typing.get_args(hint):
        return typing.get_args(hint)[0]
    return None


def _scalar_kwargs(hint: Any) -> dict[str, Any] | None:
    members = (
        set(typing.get_args(hint))
        if typing.get_origin(hint) in (Union, types.UnionType)
        else {hint}
    )
    if members <= PATH_TYPES:
        return {"type": str}
    if hint in (int, float):
        return {"type": hint}
    if typing.get_origin(hint) is Literal:
        choices = list(typing.get_args(hint))
        return {"type": type(choices[0]), "choices": choices}
    return None


def _value_kwargs(hint: Any) -> dict[str, Any] | None:
    """argparse keywords of a one-value (or sequence of values) annotation, else None."""
    element = _element(hint)
    if element is None:
        return _scalar_kwargs(hint)
    scalar = _scalar_kwargs(element)
    return None if scalar is None else {**scalar, "nargs": "+"}


def _defaults(found: Param) -> dict[str, Any]:
    if found.required:
        return {"required": True}
    default = None if found.default is inspect.Parameter.empty else found.default
    return {"default": default}


def _value(parser: argparse.ArgumentParser, found: Param, step: Step) -> Binding:
    kwargs = _value_kwargs(found.hint) or {}
    parser.add_argument(
        found.flag, dest=found.name, help=found.help(), **kwargs, **_defaults(found)
    )
    outputs = (found.name,) if found.written else ()
    return Binding((found.name,), (found.flag,), outputs, lambda args, _: _own(args, found.name))


def _own(args: argparse.Namespace, name: str) -> dict[str, Any]:
    return {name: getattr(args, name)}


def _switch(parser: argparse.ArgumentParser, found: Param, step: Step) -> Binding:
    """A ``bool`` with a default: a flag that flips it (``--no-progress``, ``--full``)."""
    if found.default not in (True, False):
        raise StepSignatureError(
            f"{step.where}: flag {found.name!r} needs a default (True or False)"
        )
    flag = f"--no-{found.name.replace('_', '-')}" if found.default else found.flag
    action = "store_false" if found.default else "store_true"
    parser.add_argument(flag, dest=found.name, action=action, help=found.help())
    return Binding((found.name,), (flag,), (), lambda args, _: _own(args, found.name))


def _fields(record: type, prefix: str, written: bool) -> list[tuple[Param, str, str]]:
    """(field, flag, dest) of a record's fields, flags named ``--<prefix>-<field>``."""
    hints = typing.get_type_hints(record, include_extras=True)
    found = []
    for field in dataclasses.fields(record):
        default = (
            field.default if field.default is not dataclasses.MISSING else inspect.Parameter.empty
        )
        item = param(field.name, hints[field.name], default)
        item = dataclasses.replace(item, written=item.written or written)
        if _value_kwargs(item.hint) is None and item.hint is not bool:
            raise StepSignatureError(
                f"{record.__qualname__}.{field.name}: {item.hint!r} is not one value"
            )
        name = f"{prefix}_{field.name}"
        found.append((item, "--" + name.replace("_", "-"), name))
    return found


def _record(parser: argparse.ArgumentParser, found: Param, step: Step) -> Binding:
    """A record of files (a dataclass): one flag per field."""
    fields = _fields(found.hint, found.name, found.written)
    for item, flag, dest in fields:
        required = item.required and not found.optional
        parser.add_argument(
            flag,
            dest=dest,
            required=required,
            help=item.help(HELP.get(item.name) or HELP.get(found.name)),
            **_value_kwargs(item.hint),
        )

    def build(args: argparse.Namespace, _: Mapping[str, Any]) -> dict[str, Any]:
        given = {item.name: getattr(args, dest) for item, _, dest in fields}
        if found.optional and all(value is None for value in given.values()):
            return {found.name: None}
        missing = [flag for item, flag, _ in fields if item.required and given[item.name] is None]
        if missing:
            named = [flag for item, flag, _ in fields if given[item.name] is not None]
            raise SnacsError(f"{', '.join(named)} must come with {', '.join(missing)}")
        defaulted = {
            item.name for item, _, _ in fields if item.default is not inspect.Parameter.empty
        }
        given = {k: v for k, v in given.items() if v is not None or k not in defaulted}
        return {found.name: found.hint(**given)}

    outputs = tuple(dest for item, _, dest in fields if item.written)
    return Binding((found.name,), tuple(flag for _, flag, _ in fields), outputs, build)


def _records(parser: argparse.ArgumentParser, found: Param, step: Step) -> Binding:
    """A sequence of records: one flag per field, a value per record or one for all."""
    fields = _fields(_element(found.hint), found.name, found.written)
    for item, flag, dest in fields:
        kwargs = {**_value_kwargs(item.hint), "nargs": "+"}
        parser.add_argument(flag, dest=dest, required=item.required, help=item.help(), **kwargs)

    def build(args: argparse.Namespace, _: Mapping[str, Any]) -> dict[str, Any]:
        given = {item.name: (getattr(args, dest), flag) for item, flag, dest in fields}
        count = max((len(values) for values, _ in given.values() if values), default=0)
        for values, flag in given.values():
            if values is not None and len(values) not in (1, count):
                raise SnacsError(
                    f"{flag} gives {len(values)} values for {count} {found.name}: give one per "
                    "record, in the same order as the others, or one for all"
                )
        columns = {
            name: [None] * count if values is None else values * (count // len(values))
            for name, (values, _) in given.items()
        }
        rows = [{name: column[i] for name, column in columns.items()} for i in range(count)]
        return {found.name: [_element(found.hint)(**row) for row in rows]}

    outputs = tuple(dest for item, _, dest in fields if item.written)
    return Binding((found.name,), tuple(flag for _, flag, _ in fields), outputs, build)


def _step_spec(parser: argparse.ArgumentParser, found: Param, step: Step) -> Binding:
    """The config part the step reads: the workflow's ``--spec`` JSON, or a config file."""
    parser.add_argument(
        "--spec", type=json_object, help="JSON of the config part this step reads (workflow use)"
    )
    parser.add_argument("--config", help="config YAML (with --benchmark, instead of --spec)")
    parser.add_argument("--benchmark", help="benchmark name in the config")
    by_method = "method" in step.names  # a method's own options are part of its spec

    def build(args: argparse.Namespace, _: Mapping[str, Any]) -> dict[str, Any]:
        from snacs.pipeline.inputs import resolve_step_spec

        method = args.method if by_method else None
        return {
            found.name: resolve_step_spec(args.spec, args.config, args.benchmark, step.part, method)
        }

    return Binding((found.name,), ("--spec", "--config", "--benchmark"), (), build)


def _study_spec(parser: argparse.ArgumentParser, found: Param, step: Step) -> Binding:
    """A study's config section, and (``spec``) the step spec of the benchmark it runs on."""
    with_benchmark = "spec" in step.names
    parser.add_argument(
        "--spec",
        type=json_object,
        help="JSON with the study section"
        + (" and benchmark" if with_benchmark else "")
        + " (workflow use)",
    )
    parser.add_argument("--config", help="config YAML (instead of --spec)")
    flags = ("--spec", "--config")
    if with_benchmark:
        parser.add_argument(
            "--benchmark", help=f"override studies.{step.part}.benchmark (with --config)"
        )
        flags += ("--benchmark",)

    def build(args: argparse.Namespace, _: Mapping[str, Any]) -> dict[str, Any]:
        from snacs.pipeline.inputs import resolve_study_spec

        benchmark = args.benchmark if with_benchmark else None
        section, spec = resolve_study_spec(args.spec, args.config, step.part, benchmark)
        return {found.name: section, **({"spec": spec} if with_benchmark else {})}

    names = (found.name, "spec") if with_benchmark else (found.name,)
    return Binding(names, flags, (), build)


def _report_config(parser: argparse.ArgumentParser, found: Param, step: Step) -> Binding:
    """The whole config a report step reads: its manifest says which files it is built from."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--configfile", help="config YAML")
    source.add_argument(
        "--config-json", type=json_object, help="resolved config as JSON (workflow use)"
    )

    def build(args: argparse.Namespace, _: Mapping[str, Any]) -> dict[str, Any]:
        from snacs.config_file import load_config, validate_config

        if args.config_json is not None:
            return {found.name: validate_config(args.config_json)}
        return {found.name: load_config(args.configfile)}

    return Binding((found.name,), ("--configfile", "--config-json"), (), build)


def _device(parser: argparse.ArgumentParser, found: Param, step: Step) -> Binding:
    """The step's device; under ``torchrun`` also joins the process group (this rank's GPU)."""
    parser.add_argument(
        "--device",
        default=os.environ.get("SNACS_DEVICE", "auto"),
        help="cpu, cuda, cuda:N or auto (default: $SNACS_DEVICE or auto)",
    )

    def build(args: argparse.Namespace, _: Mapping[str, Any]) -> dict[str, Any]:
        from snacs.engine.distributed import init_from_env

        return {found.name: init_from_env(args.device)}

    return Binding((found.name,), ("--device",), (), build)


def _prune_targets(parser: argparse.ArgumentParser, found: Param, step: Step) -> Binding:
    """A prune step's targets: their labels (``--targets``) and each one's files, one flag
    per field of its record of files with a value per label, in the same order.

    A matched-budget label (``match-...``) reads the reference run's prune record
    (``--reference``), and the matched run counts its budget as the spec's
    ``matched_budget_count`` says. Each target keeps the label it was given, under which
    its run's results group.
    """
    element = _element(found.hint)
    files = param("files", typing.get_type_hints(element, include_extras=True)["files"])
    fields = _fields(files.hint, found.name, files.written)
    parser.add_argument(
        found.flag,
        dest=found.name,
        nargs="+",
        required=True,
        help="target labels, e.g. flops30-layerwise flops50-layerwise",
    )
    parser.add_argument("--reference", help="prune record of the reference run (match-* targets)")
    for item, flag, dest in fields:
        kwargs = {**_value_kwargs(item.hint), "nargs": "+"}
        each = f"{HELP.get(item.name, item.name)}, one per target in their order"
        parser.add_argument(flag, dest=dest, required=True, help=item.help(each), **kwargs)

    def build(args: argparse.Namespace, values: Mapping[str, Any]) -> dict[str, Any]:
        from snacs.pipeline.prune import resolve_target

        labels = getattr(args, found.name)
        columns = {item.name: getattr(args, dest) for item, _, dest in fields}
        unpaired = [
            f"{len(columns[item.name])} {flag}"
            for item, flag, _ in fields
            if len(columns[item.name]) != len(labels)
        ]
        if unpaired:
            raise SnacsError(
                f"{len(labels)} {found.flag} but {', '.join(unpaired)}: give each file once "
                "per target, in the order of the targets"
            )
        count = values.get("spec", {}).get("matched_budget_count", "slim")
        targets = [
            element(
                target=resolve_target(label, args.reference, count),
                files=files.hint(**{name: column[i] for name, column in columns.items()}),
                label=label,
            )
            for i, label in enumerate(labels)
        ]
        return {found.name: targets}

    outputs = tuple(dest for item, _, dest in fields if item.written)
    flags = (found.flag, "--reference", *(flag for _, flag, _ in fields))
    return Binding((found.name,), flags, outputs, build)


def _in_process(parser: argparse.ArgumentParser, found: Param, step: Step) -> Binding:
    """A value only another step passes in process: the command line leaves its default."""
    if found.default is inspect.Parameter.empty:
        raise StepSignatureError(
            f"{step.where}: {found.name!r} is given in process only, so needs a default"
        )
    return Binding((found.name,), (), (), lambda args, _: {})


#: Parameters that are a config part, by name (their type is a plain mapping).
BY_NAME: Mapping[str, Converter] = {
    "spec": _step_spec,
    "section": _study_spec,
    "config": _report_config,
}
#: Parameters that are not one value, by type (module.Class: nothing is imported to look).
BY_TYPE: Mapping[str, Converter] = {
    "torch.device": _device,
    "Sequence[snacs.pipeline.prune.PruneTarget]": _prune_targets,
    # the control chain hands evaluate the one-shot accuracy it measured itself
    "snacs.pruning.records.OneShotAccuracy": _in_process,
}


@dataclass(frozen=True)
class StepCommand:
    """A workflow step as a command: its step function, what ``--help`` says, what it prints.

    ``function`` is ``module:attribute``, imported only when the command's arguments are
    built (a step module pulls in torch); ``part`` is the config part its spec is (default:
    the command's name); ``says`` makes the one line printed from the step's result and
    the values it was called with.
    """

    name: str
    function: str
    help: str
    says: Callable[[Any, Mapping[str, Any]], str] | None = None
    part: str | None = None

    def step(self) -> Step:
        module, _, attribute = self.function.partition(":")
        return Step(getattr(importlib.import_module(module), attribute), self.part or self.name)

    def add_arguments(self, parser: argparse.ArgumentParser) -> Arguments:
        return step_arguments(parser, self.step())

    def run(self, arguments: Arguments, args: argparse.Namespace) -> None:
        values = arguments.values(args)
        result = self.step().function(**values)
        if self.says is not None:
            print(self.says(result, values))
