"""What a step reads: its spec from the workflow's JSON or from a config file.

A rule passes each step the JSON of exactly the config part it reads (``--spec``); a
person runs the same step with a config file and a benchmark name. Both routes end in
the same dict, so a step cannot tell who started it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from snacs.config import step_spec
from snacs.config_file import load_config
from snacs.errors import ConfigError


def resolve_step_spec(
    spec: Mapping[str, Any] | None,
    config: str | Path | None,
    benchmark: str | None,
    step: str,
    method: str | None = None,
) -> dict:
    """``spec`` when given, else the ``step`` part of ``benchmark`` in the config file."""
    if spec is not None:
        return dict(spec)
    if not (config and benchmark):
        raise ConfigError("give either --spec JSON or both --config FILE and --benchmark NAME")
    return step_spec(load_config(config), benchmark, step, method)


def resolve_study_spec(
    spec: Mapping[str, Any] | None,
    config: str | Path | None,
    study: str,
    benchmark: str | None = None,
) -> tuple[dict, dict | None]:
    """(study config section, benchmark step spec or None) from a spec or a config file.

    The speed study runs on one benchmark's data and model (``benchmark`` overrides the
    section's choice); the other studies need no benchmark.
    """
    from snacs.studies.speed import speed_benchmark

    if spec is not None:
        if "study" not in spec:
            raise ConfigError("--spec JSON of a study needs a 'study' entry")
        return dict(spec["study"]), spec.get("benchmark")
    if not config:
        raise ConfigError("give either --spec JSON or --config FILE")
    loaded = load_config(config)
    section = loaded["studies"][study]
    if study != "speed":
        return section, None
    if benchmark:
        section = {**section, "benchmark": benchmark}
    name = speed_benchmark({**loaded, "studies": {**loaded["studies"], "speed": section}})
    return section, step_spec(loaded, name, "activations")
