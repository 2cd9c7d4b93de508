"""Checking option values a user wrote against the type or function that declares them.

Pruner options and study settings are dataclasses (possibly nesting another, as the SNACS
pruner nests its estimator's ``EdgeOptions``), model knobs and dataset options are keyword
arguments of factories. Checking a config against these declarations before any job starts turns a
misspelt key or a wrong type into one error that names the config key and lists the
valid choices, instead of a failure deep inside a job that ran after hours of training.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from snacs.errors import ConfigError

T = TypeVar("T")

_PLAIN = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}


def check_options(
    options_type: type,
    values: Mapping[str, Any],
    where: str | None,
    owner: str,
    construct: bool = True,
) -> None:
    """Raise ConfigError unless ``options_type(**values)`` is a valid set of options.

    ``where`` is the config path of ``values`` (e.g. ``methods.snacs``) and prefixes
    every message; ``owner`` names what the options belong to (``pruner 'snacs'``).
    Unknown keys and values of the wrong type fail here (in nested options too, named by
    their full path), and so do the type's own checks when ``construct`` is true.
    """
    check_keywords(_field_hints(options_type), values, where, owner, "option")
    if not construct:
        return
    try:
        build_options(options_type, values)
    except (ConfigError, TypeError, ValueError) as exc:
        raise ConfigError(f"{_prefix(where)}{exc}") from None


def build_options(options_type: type[T], values: Mapping[str, Any]) -> T:
    """``options_type(**values)`` with the config's shapes turned into the declared ones.

    YAML has mappings and lists only: a mapping given for a field declared as a dataclass
    becomes that dataclass (recursively) and a list given for a tuple field a tuple, so
    options are typed all the way down and compare and hash as the declared types do.
    """
    hints = _field_hints(options_type)
    return options_type(
        **{name: _declared_shape(hints.get(name, Any), value) for name, value in values.items()}
    )


def known_fields(options_type: type, section: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of a config ``section`` that are fields of ``options_type``.

    For settings read from a config section that also holds keys of other consumers
    (``enabled``, ``benchmark``): those are left to the schema and the workflow.
    """
    names = {f.name for f in dataclasses.fields(options_type)}
    return {key: value for key, value in section.items() if key in names}


def _declared_shape(hint: Any, value: Any) -> Any:
    if dataclasses.is_dataclass(hint) and isinstance(hint, type) and isinstance(value, Mapping):
        return build_options(hint, value)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        shaped = [_declared_shape(arg, value) for arg in args if arg is not type(None)]
        return next((item for item in shaped if item is not value), value)
    if origin is tuple and isinstance(value, list | tuple):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_declared_shape(args[0], item) for item in value)
        if len(args) == len(value):
            return tuple(_declared_shape(a, item) for a, item in zip(args, value, strict=True))
        return tuple(value)
    return value


def check_call_options(
    factory: Callable[..., Any],
    values: Mapping[str, Any],
    where: str | None,
    owner: str,
    skip: Iterable[str] = (),
    noun: str = "option",
) -> None:
    """Check ``values`` against the keyword parameters of ``factory`` (minus ``skip``)."""
    names = [p for p in inspect.signature(factory).parameters if p not in set(skip)]
    check_keywords(_hints(factory, names), values, where, owner, noun)


def check_keywords(
    hints: Mapping[str, Any],
    values: Mapping[str, Any],
    where: str | None,
    owner: str,
    noun: str,
) -> None:
    """Unknown names and type mismatches of ``values`` against ``hints`` (name -> type)."""
    valid = sorted(hints)
    for name in sorted(values):
        if name not in hints:
            close = difflib.get_close_matches(name, valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{_prefix(where, name)}{owner} has no {noun} {name!r}{hint}; "
                f"valid {noun}s: {', '.join(valid) or '(none)'}"
            )
        nested = hints[name]
        if dataclasses.is_dataclass(nested) and isinstance(values[name], Mapping):
            inner = f"{where}.{name}" if where is not None else name
            check_keywords(
                _field_hints(nested), values[name], inner, f"{owner} {noun} {name!r}", noun
            )
            continue
        problem = type_mismatch(hints[name], values[name])
        if problem:
            raise ConfigError(f"{_prefix(where, name)}{owner} {noun} {name!r} {problem}")


def type_mismatch(hint: Any, value: Any) -> str | None:
    """Why ``value`` does not fit the annotation ``hint``, or None when it fits.

    Understands the annotations options use (plain scalars, ``X | None``, ``Literal``,
    lists/tuples/sequences and dicts of those); anything else is accepted unchecked.
    """
    if hint is Any or hint is inspect.Parameter.empty:
        return None
    if hint is type(None):
        return None if value is None else f"must be null, got {value!r}"
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        ok = isinstance(value, Mapping | hint)
        return None if ok else f"must be a mapping of {hint.__name__} fields, got {value!r}"
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        problems = [type_mismatch(arg, value) for arg in args]
        if all(problems):
            return " or ".join(p for p in problems if p)
        return None
    if origin is typing.Literal:
        if value in args:
            return None
        return f"must be one of {', '.join(map(repr, args))}, got {value!r}"
    if hint in _PLAIN:
        return None if _is_plain(hint, value) else f"must be {_PLAIN[hint]}, got {value!r}"
    if origin in (list, tuple, set, frozenset) or _is_abc(origin, "Sequence"):
        if not isinstance(value, list | tuple):
            return f"must be a list, got {value!r}"
        item = args[0] if args and (len(args) == 1 or args[-1] is Ellipsis) else Any
        for element in value:
            problem = type_mismatch(item, element)
            if problem:
                return f"has an element that {problem}"
        return None
    if origin is dict or _is_abc(origin, "Mapping"):
        if not isinstance(value, dict):
            return f"must be a mapping, got {value!r}"
        item = args[1] if len(args) == 2 else Any
        for key, element in value.items():
            problem = type_mismatch(item, element)
            if problem:
                return f"entry {key!r} {problem}"
        return None
    return None


def _is_plain(kind: type, value: Any) -> bool:
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


def _is_abc(origin: Any, name: str) -> bool:
    import collections.abc

    return origin is getattr(collections.abc, name)


def _field_hints(options_type: type) -> dict[str, Any]:
    return _hints(options_type, [f.name for f in dataclasses.fields(options_type)])


def _hints(declaration: Any, names: Iterable[str]) -> dict[str, Any]:
    """Resolved annotations of ``names`` (unannotated or unresolvable ones: unchecked)."""
    try:
        resolved = typing.get_type_hints(declaration)
    except (NameError, TypeError):
        resolved = {}
    return {name: resolved.get(name, Any) for name in names}


def _prefix(where: str | None, name: str | None = None) -> str:
    if where is None:
        return ""
    return f"invalid config at {where}.{name}: " if name else f"invalid config at {where}: "
