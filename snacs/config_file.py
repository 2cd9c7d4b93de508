"""Loading and validating a config a person wrote: the file, the schema, then every name.

The Snakefile and the ``snacs`` command line validate through this one module, so a
config means the same thing whether a rule or a person runs a step. After the schema
(:func:`snacs.config.apply_schema`), every name is checked against the registries and
every pruner's, model's and dataset's options against their declarations
(:mod:`snacs.config_checks`), so a mistake is one line naming its key before any job.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from snacs.config import apply_schema
from snacs.config_checks import check_config
from snacs.errors import ConfigError


def validate_config(config: Mapping[str, Any]) -> dict:
    """Return a defaulted copy of ``config``; raise ConfigError naming the first bad key."""
    instance = apply_schema(config)
    check_config(instance)
    return instance


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing a key written twice in one mapping.

    PyYAML keeps the last of two equal keys without a word, so a method or a benchmark
    written twice would run with the second entry's settings only.
    """


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict:
    first_line: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden
            continue
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, list | dict):  # unhashable: construct_mapping refuses it below
            continue
        if key in first_line:
            raise yaml.constructor.ConstructorError(
                problem=f"key {key!r} is given twice (first on line {first_line[key]})",
                problem_mark=key_node.start_mark,
            )
        first_line[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """The parser's complaint on one line, led by where it is (line and column from 1)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    position = getattr(exc, "position", None)
    where = f"byte {position}: " if position is not None else ""
    return " ".join(f"{where}{problem}".split())


def load_config(path: str | Path) -> dict:
    """Read a YAML config file and validate it; every mistake is one line naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        raw = yaml.load(path.read_bytes(), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {_yaml_problem(exc)}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"config file {path} holds a YAML {type(raw).__name__}, not a mapping of config keys"
        )
    return validate_config(raw)


