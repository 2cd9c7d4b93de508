"""User-facing text speaks only of files in the repository."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Pointers into material users do not have: the project's private reference notes.
FORBIDDEN = re.compile(r"spec §|§\s*\d|\.\./shared|/work/shared|snacs-spec|anchors\.md")
USER_FACING = ["README.md", "docs", "snacs", "baselines", "benchmarks", "workflow", "config"]
SUFFIXES = {".md", ".py", ".smk", ".yaml", ".rst", ".csv"}


def _files() -> list[Path]:
    found = [REPO / "Snakefile", REPO / "Makefile"]
    for entry in USER_FACING + ["paper_figures"]:
        path = REPO / entry
        found += [path] if path.is_file() else sorted(path.rglob("*"))
    return [p for p in found if p.is_file() and (p.suffix in SUFFIXES or p.suffix == "")]


# The project's own CI config over its test data: its test skips where the data is absent.
OWN_TEST_DATA = {REPO / "config" / "pretrained-ci.yaml"}


def test_no_pointers_to_files_users_do_not_have():
    hits = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in _files()
        if path not in OWN_TEST_DATA
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if FORBIDDEN.search(line)
    ]
    assert len(_files()) > 100 and not hits, "\n".join(hits)


def test_files_the_readme_names_exist():
    readme = (REPO / "README.md").read_text()
    for name in re.findall(r"`((?:docs|workflow|snacs|config|paper_figures)/[\w./-]+)`", readme):
        if "<" in name or "*" in name:
            continue
        assert (REPO / name).exists(), name
