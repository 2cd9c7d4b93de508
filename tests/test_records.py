"""The accounting fields of the records, through the real steps on the real digits data."""

import pytest
import torch

from snacs.config import step_spec
from snacs.config_file import validate_config
from snacs.io import load_checkpoint, read_json
from snacs.layout import PruneFiles, training_files
from snacs.pipeline.dense import run_dense
from snacs.pipeline.evaluate import run_evaluate
from snacs.pipeline.finetune import DENSE_REFERENCE, run_dense_reference, run_finetune
from snacs.pipeline.oneshot import OneShotJob, run_one_shot
from snacs.pipeline.prune import PruneTarget, run_prune
from snacs.pruning.records import (
    PruneRecord,
    Reductions,
    ReferenceRecord,
    RunRecord,
    TargetRecord,
)
from snacs.pruning.target import Target

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A validated one-benchmark config and its trained dense model."""
    root = tmp_path_factory.mktemp("records")
    config = validate_config(
        {
            "benchmarks": {
                "digits": {
                    "dataset": {"name": "digits"},
                    "model": {
                        "arch": "mlp_mnist",
                        "options": {"in_features": 64, "hidden": [64, 32]},
                    },
                    "dense": {"recipe": {"epochs": 3, "batch_size": 64, "lr": 0.05}},
                    "finetune": {"recipe": {"epochs": 1, "batch_size": 64, "lr": 0.01}},
                    "statistics": {"samples_per_class": 10},
                    "evaluation": {"latency_repeats": 3, "bn_recalibration_batches": 2},
                }
            },
            "methods": {"l1": {}, "snacs": {"groups": 8}},
        }
    )
    dense = training_files(root / "dense")
    run_dense(step_spec(config, "digits", "dense"), dense.folder, root / "dense.json", CPU, False)
    return config, root


@pytest.mark.parametrize("method", ["l1", "snacs"])
def test_prune_and_run_records_carry_the_accounting(digits, method):
    config, root = digits
    dense = root / "dense"
    out = root / method
    files = PruneFiles(*(str(out / name) for name in ("plan.pt", "scores.pt", "prune.json")))
    (summary,) = run_prune(
        step_spec(config, "digits", "prune", method),
        method,
        0,
        dense / "best.pt",
        [PruneTarget(Target(0.4, "flops"), files)],
        CPU,
        progress=False,
    )
    achieved = summary.achieved
    assert summary.scored_with == ["flops40-layerwise"]  # scored alone
    assert PruneRecord.load(out / "prune.json") == summary  # typed reductions and target
    assert achieved == Reductions.between(summary.dense, summary.masked, summary.slim)
    assert achieved.flops >= achieved.slim_flops - 1e-12
    # Judged on the reductions the record reports (the one count), within ±1 pp.
    assert summary.target_met == (abs(achieved.flops - 0.4) <= 0.01)
    assert summary.target_met == (summary.target_miss_reason == "")
    assert summary.plan_info["target_met"] == summary.target_met
    assert summary.target == TargetRecord("flops40-layerwise", 0.4, "flops", "layerwise", "masked")
    assert set(summary.layer_pruned_pct) == {"fc1", "fc2", "fc3"}
    run_finetune(
        step_spec(config, "digits", "finetune"),
        out / "plan.pt",
        dense / "best.pt",
        out / "finetuned",
        CPU,
        0,
        progress=False,
    )
    one_shot = run_one_shot(
        step_spec(config, "digits", "evaluate"),
        dense / "best.pt",
        [OneShotJob(out / "plan.pt", out / "prune.json")],
        out / "one_shot.json",
        CPU,
    )
    row = run_evaluate(
        step_spec(config, "digits", "evaluate"),
        out / "plan.pt",
        out / "prune.json",
        out / "finetuned" / "best.pt",
        root / "dense.json",
        out / "row.json",
        CPU,
        one_shot=out / "one_shot.json",
        slim_out=out / "slim.pt2",
    )
    assert row.to_dict() == read_json(out / "row.json")
    assert RunRecord.load(out / "row.json") == row
    assert row.slim_params_reduction_pct <= row.params_reduction_pct + 1e-9
    assert row.flops_reduction_pct == pytest.approx(100 * achieved.flops)
    assert row.slim_params_reduction_pct == pytest.approx(100 * achieved.slim_params)
    assert row.one_shot_top1 == one_shot.plans[0].top1 and 0 <= row.one_shot_top1 <= 100
    assert row.one_shot_baseline_top1 == one_shot.dense.top1
    assert row.bn_recalibration_batches == 0  # the MLP has no BatchNorm
    assert (row.target_met, row.target_miss_reason) == (
        summary.target_met,
        summary.target_miss_reason,
    )
    export = row.slim_export
    assert export["format"] == "torch.export" and export["max_abs_logit_diff"] < 1e-4
    slim = torch.export.load(str(out / "slim.pt2")).module()
    assert slim(torch.zeros(3, 64)).shape == (3, 10)
    spread = row.latency_ms["slim"]
    assert spread["q1_ms"] <= spread["median_ms"] <= spread["q3_ms"]


#: what differs between two runs of the same work: the clock, the machine, the sharing
UNTIMED = {"timings", "score_timings", "provenance", "scored_with"}


def _untimed(value):
    """``value`` without its timings and provenance, tensors as lists (comparable with ==)."""
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if k not in UNTIMED}
    if isinstance(value, list | tuple):
        return [_untimed(v) for v in value]
    return value.tolist() if isinstance(value, torch.Tensor) else value


@pytest.mark.parametrize("method", ["l1", "snacs"])
def test_one_scoring_for_several_targets_plans_what_runs_alone_plan(digits, method):
    config, root = digits
    spec = step_spec(config, "digits", "prune", method)
    targets = [Target(0.3, "flops"), Target(0.5, "flops"), Target(0.4, "params", "global")]

    def files(folder):
        return PruneFiles(*(str(folder / n) for n in ("plan.pt", "scores.pt", "prune.json")))

    def prune(folder, chosen):
        each = [PruneTarget(t, files(folder / t.label)) for t in chosen]
        return run_prune(spec, method, 0, root / "dense" / "best.pt", each, CPU, progress=False)

    together = prune(root / f"{method}-together", targets)
    labels = [t.label for t in targets]
    for target, shared in zip(targets, together, strict=True):
        (alone,) = prune(root / f"{method}-alone", [target])
        assert (alone.scored_with, shared.scored_with) == ([target.label], labels)
        assert _untimed(shared.to_dict()) == _untimed(alone.to_dict())
        for name in ("plan.pt", "scores.pt"):
            written = [
                load_checkpoint(root / f"{method}-{how}" / target.label / name)
                for how in ("together", "alone")
            ]
            assert _untimed(written[0]) == _untimed(written[1]), name
    # one scoring: every record carries the same seconds of it, and its own planning
    assert (
        len({tuple(r.timings[k] for k in ("score_seconds", "prepare_seconds")) for r in together})
        == 1
    )


def test_dense_reference_is_fine_tuned_with_the_pruners_recipe(digits):
    config, root = digits
    record = run_dense_reference(
        step_spec(config, "digits", "finetune"),
        root / "dense" / "best.pt",
        root / "dense.json",
        root / "reference",
        root / "reference.json",
        CPU,
        seed=1,
        progress=False,
    )
    assert record.method == DENSE_REFERENCE and record.seed == 1
    assert record.finetune_epochs == 1 and record.finetune_epoch == 1
    assert record.baseline_top1 == read_json(root / "dense.json")["accuracy"]["top1"]
    assert ReferenceRecord.load(root / "reference.json") == record
    assert (root / "reference" / "best.pt").is_file()
