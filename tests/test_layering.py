"""Imports point one way: studies measure, the report presents and reads records.

Checked on the source (every ``import``, including ones inside functions), so a lazy
import that would close a cycle is caught even where no test runs that function.
"""

import ast
from pathlib import Path

import pytest

import snacs

PACKAGE = Path(snacs.__file__).parent
# (lower package, package it must never import): the report sits above these.
FORBIDDEN = [
    ("studies", "snacs.report"),
    ("pipeline", "snacs.report"),
    ("pruning", "snacs.report"),
    ("pruning", "snacs.studies"),
    ("tabular", "snacs.report"),
    ("tabular", "snacs.studies"),
]


# CLI glue: the steps that build the report's outputs sit beside the measuring steps.
GLUE = {"pipeline/report.py", "pipeline/studies.py"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize(("package", "forbidden"), FORBIDDEN)
def test_lower_packages_never_import_upper_ones(package, forbidden):
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            n for n in imported_modules(path) if n == forbidden or n.startswith(forbidden + ".")
        )
        for path in sorted((PACKAGE / package).rglob("*.py"))
        if str(path.relative_to(PACKAGE)) not in GLUE
    }
    offenders = {path: names for path, names in offenders.items() if names}
    assert not offenders, f"{package} imports {forbidden}: {offenders}"


def test_the_check_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from snacs.report import html\n")
    assert "snacs.report" in imported_modules(module)
