"""The one-shot step: every plan of a benchmark right after pruning, in one process.

On a synthetic CIFAR set read through the real loader (random crops and flips drawn from
the global generators) and a small VGG with BatchNorm, so the re-estimation batches matter.
"""

import pytest
import torch
from record_fixtures import prune_record

from snacs.config import step_spec
from snacs.config_file import validate_config
from snacs.errors import SnacsError
from snacs.io import save_checkpoint
from snacs.pipeline.data import prepare_dataset
from snacs.pipeline.oneshot import (
    OneShotJob,
    ReplayedBatches,
    one_shot_accuracy,
    one_shot_batches,
    run_one_shot,
)
from snacs.pruning.benchmark import load_model, new_model
from snacs.pruning.graph import trace_layer_graph
from snacs.pruning.masking import filter_masks
from snacs.pruning.plan import PruningPlan
from snacs.pruning.records import OneShotRecords, PruneRecord, RecordError
from tests.conftest import randomise_norms

CPU = torch.device("cpu")
TARGET = "flops50-layerwise"


def _spec(root, **evaluation):
    config = validate_config(
        {
            "benchmarks": {
                "tiny": {
                    "dataset": {
                        "name": "cifar10",
                        "root": str(root / "data"),
                        "synthetic": {
                            "format": "cifar10",
                            "seed": 0,
                            "train_per_class": 8,
                            "test_per_class": 4,
                        },
                    },
                    "model": {"arch": "vgg16_cifar", "options": {"width_mult": 0.125}},
                    "dense": {"recipe": {"epochs": 1}},
                    "finetune": {"recipe": {"epochs": 1}},
                    "statistics": {"samples_per_class": 4},
                    "evaluation": {"batch_size": 16, "bn_recalibration_batches": 3, **evaluation},
                }
            },
            "methods": {"l1": {}},
        }
    )
    return step_spec(config, "tiny", "evaluate")


@pytest.fixture(scope="module")
def tiny_benchmark(tmp_path_factory):
    """(spec, bundle, dense checkpoint, one-shot jobs of two filter plans, folder)."""
    root = tmp_path_factory.mktemp("oneshot")
    spec = _spec(root)
    bundle = prepare_dataset(spec)
    torch.manual_seed(0)
    model = randomise_norms(new_model(spec, bundle.num_classes))
    dense = root / "dense.pt"
    save_checkpoint(dense, {"model": model.state_dict()})
    graph = trace_layer_graph(model)
    convs = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    jobs = []
    for seed, (method, drop) in enumerate((("l1", [0, 1]), ("random", [2, 3]))):
        masks = filter_masks(model, graph, {convs[1]: drop, convs[3]: drop})
        plan = root / f"{method}.pt"
        PruningPlan(method, "filter", masks).save(plan)
        record = prune_record(root / f"{method}.json", method, TARGET, seed, benchmark="tiny")
        jobs.append(OneShotJob(plan, record))
    return spec, bundle, dense, jobs, root


def _inputs(batches):
    return [inputs for inputs, _ in batches]


def test_re_estimation_batches_follow_the_evaluation_seed(tiny_benchmark):
    spec, bundle, *_ = tiny_benchmark
    first = one_shot_batches(spec, bundle, CPU)
    again = one_shot_batches(spec, bundle, CPU)
    assert first.calibration.held and first.test.held
    assert len(_inputs(first.calibration)) == 3
    for a, b in zip(_inputs(first.calibration), _inputs(again.calibration), strict=True):
        assert torch.equal(a, b)
    reseeded = {**spec, "evaluation": {**spec["evaluation"], "bn_recalibration_seed": 7}}
    other = one_shot_batches(reseeded, bundle, CPU)
    assert not torch.equal(_inputs(first.calibration)[0], _inputs(other.calibration)[0])


def test_a_plan_reads_the_same_after_any_other_plan(tiny_benchmark):
    """Each evaluation starts from the dense weights: nothing of the plan before is left."""
    spec, bundle, dense, jobs, _ = tiny_benchmark
    model = load_model(spec, bundle.num_classes, dense)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    batches = one_shot_batches(spec, bundle, CPU)
    l1, other = (PruningPlan.load(job.plan).masks for job in jobs)

    def measure(masks):
        accuracy, used = one_shot_accuracy(model, state, masks, batches, [1, 5], CPU)
        return accuracy, {k: v.clone() for k, v in model.state_dict().items()}

    alone, alone_state = measure(l1)
    measure(other)
    after, after_state = measure(l1)
    assert alone == after  # top-1, top-5 and the mean loss, to the last digit
    assert all(torch.equal(alone_state[k], after_state[k]) for k in alone_state)
    conv = next(k for k in state if k.endswith(".weight") and state[k].dim() == 4)
    pruned = [k for k in state if k.endswith(".weight") and state[k].dim() == 4][1]
    assert alone_state[pruned][:2].abs().sum() == 0 and state[pruned][:2].abs().sum() > 0
    _, dense_state = measure(None)
    assert all(torch.equal(dense_state[k], state[k]) for k in (conv, pruned))
    norms = [k for k in state if k.endswith("running_mean")]
    assert not any(torch.equal(dense_state[k], state[k]) for k in norms)  # re-estimated


def test_one_process_evaluates_every_plan_and_the_dense_model(tiny_benchmark, tmp_path):
    spec, _, dense, jobs, _ = tiny_benchmark
    out = tmp_path / "one_shot.json"
    record = run_one_shot(spec, dense, [*jobs, jobs[0]], out, CPU)
    assert OneShotRecords.load(out) == record
    assert record.bn_recalibration_batches == 3 and record.bn_recalibration_seed == 0
    assert [(p.method, p.seed) for p in record.plans] == [("l1", 0), ("random", 1), ("l1", 0)]
    assert record.plans[0].top1 == record.plans[2].top1
    assert (record.dense.method, record.dense.seed) == ("", None)
    again = run_one_shot(spec, dense, jobs, tmp_path / "again.json", CPU)
    assert [p.top1 for p in again.plans] == [p.top1 for p in record.plans[:2]]
    assert again.dense.top1 == record.dense.top1
    random_run = PruneRecord.load(jobs[1].prune_record)
    assert again.of(random_run).method == "random"


def test_a_missing_run_or_another_benchmark_is_named(tiny_benchmark, tmp_path):
    spec, _, dense, jobs, root = tiny_benchmark
    record = run_one_shot(spec, dense, jobs[:1], tmp_path / "one.json", CPU)
    control = prune_record(
        tmp_path / "control.json", "l1", TARGET, 0, benchmark="tiny", control="magnitude"
    )
    with pytest.raises(RecordError, match=r"0 one-shot results for l1 .* \[magnitude control\]"):
        record.of(PruneRecord.load(control))
    elsewhere = prune_record(tmp_path / "elsewhere.json", "l1", TARGET, 0, benchmark="b9")
    with pytest.raises(
        SnacsError, match="elsewhere.json: l1 flops50-layerwise seed 0 is a run of benchmark .b9."
    ):
        run_one_shot(spec, dense, [OneShotJob(jobs[0].plan, elsewhere)], tmp_path / "x.json", CPU)


def test_batches_too_large_to_hold_are_read_again_each_pass():
    reads = []

    def source():
        reads.append(1)
        generator = torch.Generator().manual_seed(0)
        return [(torch.rand(4, generator=generator), torch.zeros(4)) for _ in range(5)]

    held = ReplayedBatches(source, 3)
    streamed = ReplayedBatches(source, 3, hold_bytes=40)
    assert held.held and not streamed.held
    before = len(reads)
    for _ in range(2):
        for (a, _), (b, _) in zip(held, streamed, strict=True):
            assert torch.equal(a, b)
    assert len(reads) == before + 2  # the streamed source twice, the held one never
    assert len(list(streamed)) == 3
