"""Imports point down the dependency table of the design, and only down.

Each module of ``snacs`` and ``baselines`` belongs to one unit of one row of the table
below (top row first). A module may import its own unit and any unit of a lower row;
units of one row sit side by side and never import each other (in particular pruners
never import each other: every baseline module is a unit of its own). Checked on the
source, every ``import`` including ones inside functions, so a lazy import that would
close a cycle is caught even where no test runs that function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import snacs

PACKAGE = Path(snacs.__file__).parent
ROOT = PACKAGE.parent
SOURCES = ("snacs", "baselines")

# (row, units), top first. A unit is a module or a package (all modules below it);
# "baselines.*" makes each module of baselines/ a unit. The design's table, with its
# top row spelled out (entry point > command line > the steps' glue) and the modules
# every layer shares (utilities, errors) at the bottom.
TABLE: list[tuple[str, list[str]]] = [
    ("entry point", ["snacs.__main__"]),
    ("command line", ["snacs.cli"]),
    # A step command's arguments, read off its step function (which it imports lazily).
    ("step arguments", ["snacs.step_arguments"]),
    (
        "workflow glue",
        ["snacs.pipeline.inputs", "snacs.pipeline.report", "snacs.pipeline.studies"],
    ),
    # A config file is read, then every name in it checked against the registries below.
    ("config loading", ["snacs.config_file"]),
    ("config checks", ["snacs.config_checks"]),
    ("report", ["snacs.report"]),
    ("studies, pipeline steps", ["snacs.studies", "snacs.pipeline"]),
    ("pruners", ["snacs.algorithm", "baselines.*"]),
    ("engine, metrics, config reading", ["snacs.engine", "snacs.metrics", "snacs.config"]),
    ("pruning core", ["snacs.pruning"]),
    ("leaves", ["snacs.estimators", "snacs.models", "snacs.data"]),
    (
        "shared utilities",
        ["snacs.registry", "snacs.options", "snacs.io", "snacs.locks", "snacs.tabular"],
    ),
    ("errors", ["snacs", "snacs.errors"]),
]

# Import arrows known to point the wrong way, each with the reason it is still there.
# The case passes by itself once the arrow is gone; any other offender fails it.
KNOWN: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for source in SOURCES
        for path in sorted((ROOT / source).rglob("*.py"))
    }


def imported_modules(path: Path, module: str | None = None) -> set[str]:
    """Every dotted name an ``import`` of the file names (``from a import b``: a and a.b).

    Relative imports are resolved against ``module``, the file's own dotted name.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    package = (
        (module or "").split(".")
        if path.name == "__init__.py"
        else ((module or "").split(".")[:-1])
    )
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                origin = ".".join([*base, node.module] if node.module else base)
            else:
                origin = node.module or ""
            names.add(origin)
            names.update(f"{origin}.{alias.name}" for alias in node.names)
    return names


def unit_of(name: str) -> str | None:
    """The unit of a dotted name (longest matching unit), None outside snacs/baselines."""
    if name.split(".")[0] == "baselines":
        return ".".join(name.split(".")[:2])
    best = None
    for _, units in TABLE:
        for unit in units:
            if (name == unit or name.startswith(unit + ".")) and len(unit) > len(best or ""):
                best = unit
    return best


def rank_of(unit: str) -> int:
    for rank, (_, units) in enumerate(TABLE):
        if unit in units or (unit.startswith("baselines.") and "baselines.*" in units):
            return rank
    raise KeyError(unit)


def offenders(module: str, path: Path) -> set[str]:
    """Units ``module`` imports that are not below it (nor its own unit)."""
    own = unit_of(module)
    assert own is not None, module
    found = set()
    for name in imported_modules(path, module):
        target = unit_of(name)
        if target is None or target == own:
            continue
        if rank_of(target) <= rank_of(own):
            found.add(target)
    return found


UNITS = [unit for _, units in TABLE for unit in units if unit != "baselines.*"] + sorted(
    {unit_of(m) for m in source_modules() if m.startswith("baselines.")}
)


@pytest.mark.parametrize("unit", UNITS)
def test_unit_imports_only_point_down(unit):
    bad = {
        module: sorted(offenders(module, path))
        for module, path in source_modules().items()
        if unit_of(module) == unit
    }
    bad = {module: targets for module, targets in bad.items() if targets}
    known = {
        (module, target): KNOWN[(module, target)]
        for module, targets in bad.items()
        for target in targets
        if (module, target) in KNOWN
    }
    unknown = {
        module: [t for t in targets if (module, t) not in known] for module, targets in bad.items()
    }
    unknown = {module: targets for module, targets in unknown.items() if targets}
    assert not unknown, f"{unit} ({TABLE[rank_of(unit)][0]}) imports upwards or sideways: {unknown}"
    if known:
        pytest.xfail("; ".join(known.values()))


def test_every_module_has_a_row_and_every_row_a_module():
    modules = source_modules()
    unmapped = sorted(m for m in modules if unit_of(m) is None)
    assert not unmapped, f"modules missing from the layering table: {unmapped}"
    for row, units in TABLE:
        for unit in units:
            if unit == "baselines.*":
                assert any(m.startswith("baselines.") for m in modules), row
            else:
                assert any(unit_of(m) == unit for m in modules), f"{row}: {unit} has no module"


def test_the_check_sees_lazy_relative_and_sideways_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n    from snacs.report import html\n"
        "from ..pipeline import prune\n"
        "import baselines.mint\n"
    )
    names = imported_modules(module, "snacs.studies.m")
    assert {"snacs.report.html", "snacs.pipeline.prune", "baselines.mint"} <= names
    found = offenders("snacs.studies.m", module)
    assert found == {"snacs.report", "snacs.pipeline"}  # up, and sideways; pruners are below
    pruner = tmp_path / "p.py"
    pruner.write_text("from baselines.l1_norm import L1Pruner\nimport snacs.algorithm.acmi\n")
    assert offenders("baselines.thinet", pruner) == {"baselines.l1_norm", "snacs.algorithm"}
