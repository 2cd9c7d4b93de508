"""What a configured method runs: the registered pruner and the options it is given.

A method entry in a config names a pruner (by its own name or ``pruner:``) and mixes the
pruner's options with keys the workflow reads itself. Both the config checks and the
steps need this split; it lives here, below both, so neither imports the other for it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

RESERVED_METHOD_KEYS = ("pruner", "targets", "controls")


def pruner_name(config: Mapping[str, Any], method: str) -> str:
    """The registered pruner a configured method runs."""
    return config["methods"][method].get("pruner", method)


def pruner_options(config: Mapping[str, Any], method: str) -> dict:
    """The method entry without the workflow's own keys: what the pruner's Options get."""
    entry = config["methods"][method]
    return {k: copy.deepcopy(v) for k, v in entry.items() if k not in RESERVED_METHOD_KEYS}
