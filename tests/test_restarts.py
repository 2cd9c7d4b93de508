"""A step that dies mid-run has its lost outputs rebuilt by the next ``snakemake results/all``.

Snakemake remakes a missing file only for a job that has to run and reads that file: a
forced prune that is killed leaves its outputs deleted, the old fine-tune and metrics
in place, and a plain rerun saw nothing to do. The workflow is planned on config/ci.yaml
with every output present as an empty file (no training): the forced prune then fails
at once on the empty dense checkpoint, as a killed one would, and a dry run must plan it.
"""

import subprocess
from pathlib import Path

import pytest

from tests.conftest import snakemake_command

REPO = Path(__file__).resolve().parents[1]
RUN = "results/pruned/synth_vgg/snacs/flops50-layerwise/seed0"


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    command = snakemake_command(workdir, REPO / "config" / "ci.yaml", "--cores", "1", *args)
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def planned_jobs(result: subprocess.CompletedProcess) -> dict[str, int]:
    if "Job stats:" not in result.stdout:
        return {}
    counts = {}
    for row in result.stdout.split("Job stats:")[1].strip().splitlines()[2:]:
        if not row.strip():
            break
        name, count = row.split()[:2]
        counts[name] = int(count)
    return counts


def every_output_present(workdir: Path) -> None:
    """Empty files for every output of the plan, recorded by Snakemake as up to date."""
    plan = snakemake(workdir, "results/all", "--dry-run")
    assert plan.returncode == 0, plan.stderr[-2000:]
    for line in plan.stdout.splitlines():
        if line.strip().startswith("output:"):
            for name in line.split(":", 1)[1].split(","):
                path = workdir / name.strip()
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
    touched = snakemake(workdir, "results/all", "--touch")
    assert touched.returncode == 0, touched.stderr[-2000:]
    assert planned_jobs(snakemake(workdir, "results/all", "--dry-run")) == {}


@pytest.mark.slow
def test_a_killed_prune_is_rebuilt_by_the_next_run(tmp_path):
    every_output_present(tmp_path)
    failed = snakemake(tmp_path, "--forcerun", f"{RUN}/plan.pt", "--", "results/all")
    assert failed.returncode != 0
    assert not (tmp_path / RUN / "plan.pt").exists()  # Snakemake removed the failed outputs
    again = planned_jobs(snakemake(tmp_path, "results/all", "--dry-run"))
    assert again.get("prune") == 1 and again.get("finetune") == 1
    # the benchmark's one-shot file is rebuilt with the new plan, and every run of the
    # benchmark reads it: synth_vgg's three evaluations rerun
    assert again.get("oneshot") == 1 and again.get("evaluate") == 3
