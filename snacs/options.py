"""Checking option values a user wrote against the type or function that declares them.

Pruner options are dataclasses, model knobs and dataset options are keyword arguments of
factories. Checking a config against these declarations before any job starts turns a
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
from typing import Any

from snacs.errors import ConfigError

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
    Unknown keys and values of the wrong type fail here, and so do the type's own
    checks when ``construct`` is true (false where the values are converted before use).
    """
    fields = [f.name for f in dataclasses.fields(options_type)]
    check_keywords(_hints(options_type, fields), values, where, owner, "option")
    if not construct:
        return
    try:
        options_type(**values)
    except (ConfigError, TypeError, ValueError) as exc:
        raise ConfigError(f"{_prefix(where)}{exc}") from None


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
