"""Snakemake conventions: lint-clean configs, and a SLURM profile that puts each rule where
it belongs (downloads on the login node, CPU rules without a GPU, runtimes from the work)."""

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from snacs.cli import build_parser
from snacs.config_file import load_config
from snacs.pipeline.resources import speed_study_minutes, training_minutes
from tests.conftest import snakemake_command

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "config").glob("*.yaml"))
CPU_RULES = {"tables", "timings", "figure", "speed_report", "estimator_report", "all"}
GPU_RULES = {
    "dense",
    "activations",
    "prune",
    "prune_matched",
    "finetune",
    "dense_reference",
    "oneshot",
    "evaluate",
    "speed",
}


def snakemake(workdir: Path, config: Path, *args: str) -> subprocess.CompletedProcess:
    command = snakemake_command(workdir, config, *args)
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_lint_is_clean(tmp_path, config):
    result = snakemake(tmp_path, config, "--lint")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "Lints for" not in result.stdout + result.stderr


def _planned_resources(output: str) -> dict[str, list[dict[str, str]]]:
    """rule name -> resources of each planned job, parsed from a dry run's job listing."""
    planned: dict[str, list[dict[str, str]]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        head = re.match(r"(?:local)?rule (\w+):", block)
        line = re.search(r"^\s+resources: (.*)$", block, re.M)
        if head and line:
            pairs = dict(item.split("=", 1) for item in line.group(1).split(", "))
            planned.setdefault(head.group(1), []).append(pairs)
    return planned


def test_slurm_profile_dry_run_places_every_rule(tmp_path):
    pytest.importorskip("snakemake_executor_plugin_slurm")
    config_path = REPO / "config" / "config.yaml"
    result = snakemake(
        tmp_path, config_path, "--profile", str(REPO / "workflow/profiles/slurm"), "-n"
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    planned = _planned_resources(result.stdout)
    assert GPU_RULES | CPU_RULES | {"data", "weights"} <= set(planned)
    for rule in GPU_RULES:
        for job in planned[rule]:
            assert job["slurm_partition"] == "gpu" and job["gpu"] == "1", rule
    for rule in CPU_RULES | {"data", "weights", "estimator_accuracy"}:
        for job in planned[rule]:
            assert job["slurm_partition"] == "cpu" and "gpu" not in job, rule

    config = load_config(config_path)
    (speed,) = planned["speed"]
    assert int(speed["runtime"]) == speed_study_minutes(config["studies"]["speed"])
    assert int(speed["runtime"]) > 120  # the paper's study takes about two hours of work
    bench = config["benchmarks"]["ilsvrc2012_resnet50"]
    finetune = {int(job["runtime"]) for job in planned["finetune"]}
    assert training_minutes(bench, bench["finetune"]["recipe"]) in finetune
    assert len(finetune) > 1  # sized per benchmark, not one figure for all


def test_downloads_are_local_rules(tmp_path):
    """``data`` (dataset downloads) and ``weights`` run on the submitting machine."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

    with SnakemakeApi(OutputSettings()) as api:
        workflow_api = api.workflow(
            resource_settings=ResourceSettings(cores=1),
            config_settings=ConfigSettings(configfiles=[REPO / "config" / "config.yaml"]),
            snakefile=REPO / "Snakefile",
            workdir=tmp_path,
        )
        workflow = workflow_api._workflow
        local = {rule.name for rule in workflow.rules if rule.name in workflow._localrules}
    assert {"data", "weights"} <= local
    assert not local & (GPU_RULES | CPU_RULES)


def test_speed_study_runtime_follows_its_size():
    small = {"groups": [4, 8], "mint_groups": [4], "reruns": 2, "mint_reruns": 1, "phis": ["one"]}
    paper = {
        "groups": [16, 32, 64, 128, 256],
        "mint_groups": [16, 32, 64, 128, 256],
        "reruns": 10,
        "mint_reruns": 10,
        "phis": ["one", "weight"],
    }
    assert speed_study_minutes(small) < 40 < 2 * 60 < speed_study_minutes(paper)
    assert speed_study_minutes({**paper, "mint_groups": []}) < speed_study_minutes(paper) / 5


def _step_commands(dry_run: str) -> list[list[str]]:
    """The ``snacs`` command line (after ``snacs [--log FILE]``) of every planned job."""
    commands = []
    for line in re.findall(r"^Shell command: (.*)$", dry_run, re.M):
        for part in line.split("&&"):
            words = shlex.split(part)
            at = [i for i, word in enumerate(words) if word == "snacs" or word.endswith("/snacs")]
            if at:
                words = words[at[0] + 1 :]
                commands.append(words[2:] if words[0] == "--log" else words)
    return commands


@pytest.mark.parametrize(
    ("config", "extra"),
    [("ci.yaml", ()), ("demo.yaml", ("--config", "stack_k=6")), ("config.yaml", ())],
)
def test_every_planned_step_command_takes_its_rules_flags(tmp_path, config, extra):
    """A rule's shell line spells its step function's derived flags: each planned command
    parses (the matched prune, stacked fine-tunes and one-shot included)."""
    result = snakemake(tmp_path, REPO / "config" / config, "-n", "-p", "results/all", *extra)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    commands = _step_commands(result.stdout)
    assert {"prune", "oneshot", "evaluate", "report"} <= {words[0] for words in commands}
    for words in commands:
        try:
            build_parser(steps=(words[0],)).parse_args(words)
        except SystemExit:
            pytest.fail(f"snacs {' '.join(words)[:400]}: flags its command does not take")
