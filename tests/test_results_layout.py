"""Every result path comes from ``snacs.layout``: no other code spells a result file's name."""

import ast
import re
from pathlib import Path

import pytest

from snacs.layout import CONTROL_PATTERN, RUN_PATTERN, ResultsLayout, RunKey

ROOT = Path(__file__).resolve().parent.parent
LAYOUT = ResultsLayout("RESULTS")
RUN = RunKey("b", "m", "t", 0)


def _layout_paths() -> list[str]:
    """Every path the layout gives, for one benchmark, run, control and seed."""
    paths = [
        LAYOUT.data_marker("b"),
        LAYOUT.weights_marker("b"),
        LAYOUT.dense_record("b"),
        LAYOUT.activations("b"),
        LAYOUT.run_record(RUN),
        LAYOUT.run_record(RUN.of_control("magnitude")),
        LAYOUT.slim_model(RUN),
        LAYOUT.reference_record("b", 0),
        LAYOUT.layer_compression("b"),
        LAYOUT.accuracy_figure("b"),
        LAYOUT.layer_figure("b"),
        LAYOUT.speed_figure(),
        LAYOUT.estimator_figure(),
        LAYOUT.report_html,
        LAYOUT.speed.raw,
        LAYOUT.speed.whole_raw,
        LAYOUT.estimator.raw,
        *LAYOUT.speed.tables.files,
        *LAYOUT.speed.whole_tables.files,
        *LAYOUT.estimator.tables.files,
        *vars(LAYOUT.prune(RUN)).values(),
        *(
            f
            for name in ("main", "selected", "reported", "timings", "claims")
            for f in LAYOUT.table_files(name)
        ),
    ]
    for files in (LAYOUT.dense("b"), LAYOUT.finetune(RUN), LAYOUT.reference("b", 0)):
        paths += [str(files.best), str(files.last), str(files.log)]
    return paths


def result_names() -> set[str]:
    """The names only the layout may spell: file names and the folders below results/."""
    names = {Path(path).name for path in _layout_paths()}
    folders = {
        part
        for path in _layout_paths()
        for part in Path(path).relative_to("RESULTS").parent.parts
        if part not in ("b", "m", "t", "seed0", "control-magnitude")
    }
    return names | {f"{folder}/" for folder in folders} | {"control-", "_acc_vs_flops"}


def spells(text: str, name: str) -> bool:
    """Whether ``text`` holds ``name``; a folder only as a whole path part."""
    if not name.endswith("/"):
        return name in text
    return re.search(rf"(?<![\w.]){re.escape(name)}", text) is not None


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: prose may name files; code may not."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def python_literals(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string constant of a module that is not a docstring."""
    tree = ast.parse(path.read_text(), str(path))
    skip = _docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
    ]


def workflow_code(path: Path) -> list[tuple[int, str]]:
    """(line, text) of a rule file without its comments (rule docstrings are prose too)."""
    lines = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        code = line.split("#", 1)[0]
        if not re.match(r'\s*"""', code):
            lines.append((number, code))
    return lines


def _sources() -> list[Path]:
    code = [p for p in (ROOT / "snacs").rglob("*.py") if p.name != "layout.py"]
    code += list((ROOT / "baselines").glob("*.py"))
    return code + list((ROOT / "workflow" / "rules").glob("*.smk")) + [ROOT / "Snakefile"]


def test_the_names_come_from_the_layout():
    names = result_names()
    assert {"prune.json", "plan.pt", "best.pt", "log.csv", "speed_summary.csv", "main.csv"} <= names
    assert {"pruned/", "metrics/", "finetuned/", "tables/", "studies/"} <= names
    assert RUN_PATTERN.folder == "{benchmark}/{method}/{target}/seed{seed}"
    assert CONTROL_PATTERN.folder.endswith("seed{seed}/control-{control}")


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_result_name_is_spelled_outside_the_layout(path):
    names = result_names()
    texts = workflow_code(path) if path.suffix in (".smk", "") else python_literals(path)
    found = [
        f"{path.relative_to(ROOT)}:{line}: {name!r}"
        for line, text in texts
        for name in names
        if spells(text, name)
    ]
    assert not found, "result names spelled outside snacs/layout.py:\n" + "\n".join(found)


def test_the_check_finds_a_spelled_name(tmp_path):
    """The scan is not blind: a module that builds a result path by hand is caught."""
    module = tmp_path / "step.py"
    module.write_text('"""Writes prune.json (prose may say so)."""\nOUT = "x/prune.json"\n')
    assert [text for _, text in python_literals(module) if "prune.json" in text] == ["x/prune.json"]
    rules = tmp_path / "rules.smk"
    rules.write_text('# the plan.pt of a run\nrule a:\n    output: f"{R}/plan.pt"\n')
    assert [line for line, text in workflow_code(rules) if "plan.pt" in text] == [3]
