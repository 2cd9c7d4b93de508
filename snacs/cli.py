"""The ``snacs`` command line: inspection commands for people, step commands for the workflow.

Each workflow rule calls one step command with ``--spec`` (the JSON of the config part the
step reads); a person can run the same step with ``--config FILE --benchmark NAME``.
This module only parses arguments and calls the step functions of ``snacs.pipeline``.
User mistakes (a bad argument, config value or input file) print one line naming the
culprit, without a traceback, and exit with status 2. Every output a command writes is
held by one process at a time: a second command on the same output fails at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence

from snacs.errors import SnacsError
from snacs.locks import exclusive_output


def _device(args: argparse.Namespace):
    """The step's device; under ``torchrun`` also joins the process group (this rank's GPU)."""
    from snacs.engine.distributed import init_from_env

    return init_from_env(args.device)


def _spec(args: argparse.Namespace, step: str) -> dict:
    from snacs.pipeline.inputs import resolve_step_spec

    method = getattr(args, "method", None)
    return resolve_step_spec(args.spec, args.config, args.benchmark, step, method)


def _study(args: argparse.Namespace, study: str) -> tuple[dict, dict | None]:
    from snacs.pipeline.inputs import resolve_study_spec

    return resolve_study_spec(args.spec, args.config, study, getattr(args, "benchmark", None))


def json_object(text: str) -> dict:
    """argparse type: a JSON object (``--spec``, ``--options``, ``--config-json``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object {{...}}, got {text!r}")
    return value


def input_shape(text: str) -> tuple[int, ...]:
    """argparse type: a per-sample shape such as ``3,32,32``."""
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if not shape or any(size < 1 for size in shape):
        raise argparse.ArgumentTypeError(
            f"expected positive integers separated by commas (e.g. 3,32,32), got {text!r}"
        )
    return shape


def cmd_models(args: argparse.Namespace) -> None:
    from snacs.models import model_names

    print("\n".join(model_names()))


def cmd_pruners(args: argparse.Namespace) -> None:
    from snacs.pruning.pruner import PRUNERS, load_pruner_modules

    load_pruner_modules(args.module)
    rows = [(n, PRUNERS.get(n).granularity, PRUNERS.get(n).citation) for n in PRUNERS.names()]
    width = max(len(r[0]) for r in rows)
    for name, granularity, citation in rows:
        print(f"{name:<{width}}  {granularity:<10}  {citation}")


def cmd_count(args: argparse.Namespace) -> None:
    from snacs.pipeline.counts import architecture_counts, format_count_table

    counts = architecture_counts(args.arch, args.num_classes, args.options, args.input_shape)
    print(json.dumps(counts.totals()) if args.json else format_count_table(counts))


def cmd_cost(args: argparse.Namespace) -> None:
    from snacs.config_file import load_config
    from snacs.pipeline.cost import cost_command

    config = load_config(args.config)
    print(cost_command(config, args.table, args.json, args.throughput, args.stack_k))


def cmd_validate(args: argparse.Namespace) -> None:
    from snacs.config import runs
    from snacs.config_file import load_config

    config = load_config(args.configfile)
    print(f"{args.configfile}: valid; {len(runs(config))} pruning runs")


def cmd_data(args: argparse.Namespace) -> None:
    from snacs.pipeline.data import run_data

    check = run_data(_spec(args, "data"), args.out, args.full_check, not args.no_progress)
    print(
        f"{check.dataset}: {check.train_samples:,} training and {check.test_samples:,} test "
        f"samples, {check.num_classes} classes; {check.files_checked:,} image files "
        f"{'decoded' if check.full else 'checked'} in {check.seconds:.1f} s"
    )


def cmd_weights(args: argparse.Namespace) -> None:
    from snacs.pipeline.weights import fetch_weights

    record = fetch_weights(_spec(args, "weights"), args.out)
    print(f"{record['arch']} weights ready (torch hub cache {record['torch_hub_cache']})")


def cmd_dense(args: argparse.Namespace) -> None:
    from snacs.pipeline.dense import run_dense

    record = run_dense(
        _spec(args, "dense"), args.train_dir, args.out, _device(args), not args.no_progress
    )
    print(f"dense top-1 {record.accuracy['top1']:.2f} %")


def cmd_activations(args: argparse.Namespace) -> None:
    from snacs.pipeline.prune import run_activations

    seconds = run_activations(
        _spec(args, "activations"), args.dense, args.out, _device(args), not args.no_progress
    )
    print(f"activations collected in {seconds:.2f} s")


def cmd_prune(args: argparse.Namespace) -> None:
    from snacs.layout import PruneFiles
    from snacs.pipeline.prune import PruneTarget, resolve_target, run_prune

    counts = {len(getattr(args, name)) for name in ("target", "plan", "scores", "out")}
    if len(counts) > 1:
        raise SnacsError(
            f"{len(args.target)} --target, {len(args.plan)} --plan, {len(args.scores)} "
            f"--scores and {len(args.out)} --out: give the four once per target, in order"
        )
    spec = _spec(args, "prune")
    count = spec.get("matched_budget_count", "slim")
    targets = [
        PruneTarget(resolve_target(label, args.reference, count), PruneFiles(*files), label)
        for label, *files in zip(args.target, args.plan, args.scores, args.out, strict=True)
    ]
    records = run_prune(
        spec,
        args.method,
        args.seed,
        args.dense,
        targets,
        _device(args),
        activations_path=args.activations,
        progress=not args.no_progress,
    )
    print(f"{args.method}: scoring {records[0].timings['score_seconds']:.3f} s")
    for label, record in zip(args.target, records, strict=True):
        achieved = record.achieved
        print(
            f"{args.method} {label}: params -{100 * achieved.params:.1f} %, "
            f"FLOPs -{100 * achieved.flops:.1f} % masked, "
            f"-{100 * achieved.slim_flops:.1f} % slim"
            + ("" if record.target_met else f"; TARGET MISSED: {record.target_miss_reason}")
        )


def cmd_control(args: argparse.Namespace) -> None:
    from snacs.layout import PruneFiles
    from snacs.pipeline.controls import run_control_chain

    row = run_control_chain(
        _spec(args, "control"),
        PruneFiles(args.run_plan, args.run_scores, args.run_record),
        args.control,
        args.dense,
        args.dense_json,
        PruneFiles(args.plan, "", args.out),
        args.train_dir,
        args.metrics,
        _device(args),
        args.one_shot,
        not args.no_progress,
    )
    print(
        f"{row.method} {row.target} control {args.control}: top-1 {row.pruned_top1:.2f} % "
        f"(one-shot {row.one_shot_top1:.2f} %), FLOPs -{row.flops_reduction_pct:.1f} %"
    )


def cmd_finetune(args: argparse.Namespace) -> None:
    from snacs.pipeline.finetune import run_finetune

    run_finetune(
        _spec(args, "finetune"),
        args.plan,
        args.dense,
        args.train_dir,
        _device(args),
        args.seed,
        not args.no_progress,
    )


def cmd_finetune_stack(args: argparse.Namespace) -> None:
    from snacs.pipeline.finetune import FinetuneMember, run_finetune_stack

    members = [FinetuneMember(plan, args.dense, folder, args.seed) for plan, folder in args.member]
    run_finetune_stack(_spec(args, "finetune"), members, _device(args), not args.no_progress)


def cmd_reference(args: argparse.Namespace) -> None:
    from snacs.pipeline.finetune import run_dense_reference

    record = run_dense_reference(
        _spec(args, "finetune"),
        args.dense,
        args.dense_json,
        args.train_dir,
        args.out,
        _device(args),
        args.seed,
        not args.no_progress,
    )
    print(
        f"dense fine-tuned: top-1 {record.pruned_top1:.2f} % (dense {record.baseline_top1:.2f} %)"
    )


def cmd_oneshot(args: argparse.Namespace) -> None:
    from snacs.pipeline.oneshot import OneShotJob, run_one_shot

    if len(args.plans) != len(args.prune_json):
        raise SnacsError(
            f"--plans names {len(args.plans)} plans but --prune-json {len(args.prune_json)} "
            "records: give one record per plan, in the same order"
        )
    pairs = zip(args.plans, args.prune_json, strict=True)
    jobs = [OneShotJob(plan, record) for plan, record in pairs]
    record = run_one_shot(_spec(args, "evaluate"), args.dense, jobs, args.out, _device(args))
    per_plan = sum(p.seconds for p in record.plans) / max(1, len(record.plans))
    print(
        f"{len(record.plans)} plans one-shot in {per_plan:.2f} s each after "
        f"{record.setup_seconds:.1f} s of loading; dense model {record.dense.top1:.2f} % "
        f"under the same BatchNorm re-estimation ({record.bn_recalibration_batches} batches)"
    )


def cmd_evaluate(args: argparse.Namespace) -> None:
    from snacs.pipeline.evaluate import run_evaluate

    row = run_evaluate(
        _spec(args, "evaluate"),
        args.plan,
        args.prune_json,
        args.finetuned,
        args.dense_json,
        args.out,
        _device(args),
        one_shot=args.one_shot,
        slim_out=args.slim_out,
    )
    exported = f"; slim model: {args.slim_out}" if args.slim_out else ""
    print(
        f"top-1 {row.pruned_top1:.2f} % (baseline {row.baseline_top1:.2f} %, "
        f"one-shot {row.one_shot_top1:.2f} %){exported}"
    )


def cmd_tables(args: argparse.Namespace) -> None:
    from snacs.report.tables import write_tables

    stems = {"main": args.main, "selected": args.selected, "reported": args.reported}
    write_tables(args.results, stems, args.tolerance_pp, args.compression, args.published)


def cmd_timings(args: argparse.Namespace) -> None:
    from snacs.report.tables import write_timing_tables

    write_timing_tables(args.prune_json, args.out)


def cmd_figures(args: argparse.Namespace) -> None:
    from snacs.pipeline.report import run_figures

    run_figures(args.summary, args.benchmark, args.out)


def _report_config(args: argparse.Namespace) -> dict:
    from snacs.config_file import load_config, validate_config

    if args.config_json is not None:
        return validate_config(args.config_json)
    return load_config(args.configfile)


def cmd_report(args: argparse.Namespace) -> None:
    from snacs.pipeline.report import run_report

    run_report(_report_config(args), args.out)


def cmd_claims(args: argparse.Namespace) -> None:
    from snacs.pipeline.report import run_claims

    print(run_claims(_report_config(args), args.published, args.paper_speed))


def cmd_speed(args: argparse.Namespace) -> None:
    from snacs.pipeline.studies import run_speed

    section, spec = _study(args, "speed")
    device = _device(args)
    progress = not args.no_progress
    print(
        run_speed(
            section, spec, args.out, device, args.dense, args.activations, progress, args.whole_out
        )
    )


def cmd_speed_report(args: argparse.Namespace) -> None:
    from snacs.layout import StudyTables
    from snacs.pipeline.studies import run_speed_report

    tables = StudyTables(args.out, args.markdown, args.latex)
    whole = StudyTables(args.whole_out, args.whole_markdown) if args.whole_raw else None
    print(run_speed_report(args.raw, args.paper, tables, args.figure, args.whole_raw, whole))


def cmd_estimator(args: argparse.Namespace) -> None:
    from snacs.pipeline.studies import run_estimator

    section, _ = _study(args, "estimator")
    run_estimator(section, args.out, not args.no_progress)


def cmd_estimator_report(args: argparse.Namespace) -> None:
    from snacs.layout import StudyTables
    from snacs.pipeline.studies import run_estimator_report

    tables = StudyTables(args.out, args.markdown, args.latex)
    run_estimator_report(args.raw, args.paper, tables, args.figure)


def cmd_layer_compression(args: argparse.Namespace) -> None:
    from snacs.pipeline.studies import run_layer_compression

    run_layer_compression(
        args.prune_json,
        args.selected,
        args.dense_json,
        args.methods,
        args.paper,
        args.out_csv,
        args.figure,
    )


def _add_report_config(parser: argparse.ArgumentParser) -> None:
    """The config a report step reads: its manifest says which files it is built from."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--configfile", help="config YAML")
    source.add_argument(
        "--config-json", type=json_object, help="resolved config as JSON (workflow use)"
    )


def _add_study_tables(parser: argparse.ArgumentParser) -> None:
    """Where a study's tables go: every number (CSV), and the Markdown and LaTeX pages."""
    parser.add_argument("--out", required=True, help="summary CSV (every number)")
    parser.add_argument("--markdown", required=True, help="Markdown table")
    parser.add_argument("--latex", required=True, help="LaTeX table")


def _add_step_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--spec", type=json_object, help="JSON of the config part this step reads (workflow use)"
    )
    parser.add_argument("--config", help="config YAML (with --benchmark, instead of --spec)")
    parser.add_argument("--benchmark", help="benchmark name in the config")
    _add_runtime_arguments(parser)


def _add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """Device, threads and progress: what every command that computes accepts."""
    parser.add_argument(
        "--device",
        default=os.environ.get("SNACS_DEVICE", "auto"),
        help="cpu, cuda, cuda:N or auto (default: $SNACS_DEVICE or auto)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage mistakes end in one line that names the argument, not a usage dump."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="snacs", description="Benchmark harness for neural-network filter pruning (SNACS)."
    )
    parser.add_argument(
        "--log",
        help="write the command's output here once it holds its outputs (workflow use): "
        "a command refused because another one is writing leaves that one's log alone",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable, help: str, step: bool = False):
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(handler=handler)
        if step:
            _add_step_arguments(sub)
        return sub

    command("models", cmd_models, "list registered model architectures")
    sub = command("pruners", cmd_pruners, "list pruners with granularity and citation")
    sub.add_argument("--module", action="append", default=[], help="extra pruner module")
    sub = command("count", cmd_count, "parameters and conv+linear MACs of an architecture")
    sub.add_argument("--arch", required=True)
    sub.add_argument(
        "--num-classes", type=int, help="classes of the output layer (default: the model's)"
    )
    sub.add_argument(
        "--input-shape",
        type=input_shape,
        help="per-sample shape (default: the model's), e.g. 3,32,32",
    )
    sub.add_argument(
        "--options",
        type=json_object,
        default={},
        help="model knobs as JSON, e.g. '{\"depth\": 20}'",
    )
    sub.add_argument("--json", action="store_true", help="totals as JSON, no per-layer table")
    sub = command("cost", cmd_cost, "runs, images and GPU-hours a config will take")
    sub.add_argument("--config", required=True, help="config file, e.g. config/config.yaml")
    sub.add_argument("--table", action="store_true", help="planning table even on a GPU")
    sub.add_argument("--json", help="also write the estimate as JSON to this file")
    sub.add_argument(
        "--throughput",
        help="measured stacking throughput: the JSON of benchmarks/gpu_check.py or "
        "benchmarks/finetune_throughput.py (default: calibrate on this GPU or the planning table)",
    )
    sub.add_argument(
        "--stack-k", type=int, help="fine-tunes trained together (default: the fastest measured)"
    )
    sub = command("validate", cmd_validate, "validate a config file against the schema")
    sub.add_argument("configfile")

    sub = command("data", cmd_data, "write the synthetic dataset or check the real one", True)
    sub.add_argument("--out", help="marker JSON to write when done")
    sub.add_argument(
        "--full-check", action="store_true", help="decode every image (default: headers only)"
    )
    sub = command("weights", cmd_weights, "fetch a pretrained model's weights (login node)", True)
    sub.add_argument("--out", help="marker JSON to write when done")
    sub = command("dense", cmd_dense, "train (or fetch) and evaluate the dense model", True)
    sub.add_argument("--train-dir", required=True, help="training folder (checkpoints, log)")
    sub.add_argument("--out", required=True, help="dense record (JSON)")
    sub = command("activations", cmd_activations, "collect pooled pre-BN activations", True)
    sub.add_argument("--dense", required=True, help="dense checkpoint")
    sub.add_argument("--out", required=True, help="activation cache file")
    sub = command("prune", cmd_prune, "score once with one pruner (timed), plan each target", True)
    sub.add_argument("--method", required=True)
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--dense", required=True, help="dense checkpoint")
    sub.add_argument("--activations", help="activation cache file (shared by pruners)")
    sub.add_argument("--reference", help="prune record of the reference run (match-* targets)")
    # --target, --plan, --scores and --out: once per target, in the same order.
    sub.add_argument("--target", action="append", required=True, help="e.g. flops50-layerwise")
    sub.add_argument("--plan", action="append", required=True, help="pruning plan to write")
    sub.add_argument("--scores", action="append", required=True, help="scores to write")
    sub.add_argument("--out", action="append", required=True, help="prune record to write")
    sub = command(
        "control",
        cmd_control,
        "a run's control (same per-layer counts): plan, fine-tune, result",
        True,
    )
    sub.add_argument("--run-plan", required=True, help="the run's pruning plan")
    sub.add_argument("--run-scores", required=True, help="the run's scores")
    sub.add_argument("--run-record", required=True, help="the run's prune record")
    sub.add_argument("--control", required=True, help="random<k>, magnitude or inverted")
    sub.add_argument("--dense", required=True, help="dense checkpoint")
    sub.add_argument("--dense-json", required=True, help="dense record")
    sub.add_argument("--plan", required=True, help="control plan to write")
    sub.add_argument("--out", required=True, help="control's prune record (JSON) to write")
    sub.add_argument("--train-dir", required=True, help="the control's fine-tune folder")
    sub.add_argument("--metrics", required=True, help="the control's run record (JSON) to write")
    sub.add_argument(
        "--one-shot", required=True, help="the benchmark's one-shot records (snacs oneshot)"
    )
    sub = command("finetune", cmd_finetune, "fine-tune under a plan's fixed masks", True)
    sub.add_argument("--plan", required=True)
    sub.add_argument("--dense", required=True)
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--train-dir", required=True, help="training folder (checkpoints, log)")
    sub = command(
        "finetune-stack",
        cmd_finetune_stack,
        "fine-tune several runs of one benchmark and seed as one stacked model",
        True,
    )
    sub.add_argument("--dense", required=True)
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument(
        "--member",
        nargs=2,
        action="append",
        required=True,
        metavar=("PLAN", "TRAIN_DIR"),
        help="a run's plan and its fine-tune folder (repeat for every member)",
    )
    sub = command(
        "reference", cmd_reference, "fine-tune the dense model with the fine-tune recipe", True
    )
    sub.add_argument("--dense", required=True, help="dense checkpoint")
    sub.add_argument("--dense-json", required=True)
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--train-dir", required=True, help="training folder (checkpoints, log)")
    sub.add_argument("--out", required=True, help="reference record (JSON)")
    sub = command(
        "oneshot", cmd_oneshot, "accuracy right after pruning of many plans, in one process", True
    )
    sub.add_argument("--dense", required=True, help="dense checkpoint")
    sub.add_argument("--plans", nargs="+", required=True, help="pruning plans (runs, controls)")
    sub.add_argument(
        "--prune-json", nargs="+", required=True, help="the plans' prune records, same order"
    )
    sub.add_argument("--out", required=True, help="one-shot records (JSON) to write")
    sub = command("evaluate", cmd_evaluate, "accuracy, counts and latency of a run", True)
    sub.add_argument("--plan", required=True)
    sub.add_argument("--prune-json", required=True)
    sub.add_argument("--finetuned", required=True)
    sub.add_argument("--dense-json", required=True)
    sub.add_argument(
        "--one-shot", required=True, help="the benchmark's one-shot records (snacs oneshot)"
    )
    sub.add_argument("--out", required=True)
    sub.add_argument(
        "--slim-out", help="where the slim model is exported (.pt2); omitted: no export"
    )

    sub = command("tables", cmd_tables, "summarise run results into CSV and Markdown tables")
    sub.add_argument("--results", nargs="+", required=True)
    for name, what in (
        ("main", "every run"),
        ("selected", "the selected operating points"),
        ("reported", "the selected points beside the published ones"),
    ):
        sub.add_argument(
            f"--{name}", required=True, help=f"table of {what}: path without extension"
        )
    sub.add_argument("--tolerance-pp", type=float, default=0.5)
    sub.add_argument("--compression", choices=["params", "flops"], default="params")
    sub.add_argument("--published", help="published results CSV shown beside ours")
    sub = command("timings", cmd_timings, "per-benchmark pruner timing tables from prune records")
    sub.add_argument("--prune-json", nargs="+", required=True)
    sub.add_argument("--out", required=True, help="timing table: path without extension")
    sub = command("figures", cmd_figures, "accuracy-vs-FLOPs figure of one benchmark")
    sub.add_argument("--summary", required=True)
    sub.add_argument("--benchmark", required=True)
    sub.add_argument("--out", nargs="+", required=True)
    sub = command("report", cmd_report, "the self-contained HTML report")
    _add_report_config(sub)
    sub.add_argument("--out", required=True)
    sub = command("claims", cmd_claims, "verdict per claim of the paper: the claims table")
    _add_report_config(sub)
    sub.add_argument("--published", help="paper_figures/published_results.csv")
    sub.add_argument("--paper-speed", help="paper_figures/speed_paper.csv")

    sub = command("speed", cmd_speed, "time SNACS and MINT scoring one layer pair")
    sub.add_argument(
        "--spec", type=json_object, help="JSON with the study section and benchmark (workflow use)"
    )
    sub.add_argument("--config", help="config YAML (instead of --spec)")
    sub.add_argument("--benchmark", help="override studies.speed.benchmark (with --config)")
    sub.add_argument("--dense", help="dense checkpoint (weights: trained)")
    sub.add_argument("--activations", help="activation cache (weights: trained)")
    sub.add_argument("--out", required=True, help="raw timings CSV")
    sub.add_argument(
        "--whole-out", help="also time whole-network scoring (studies.speed.whole) into this CSV"
    )
    _add_runtime_arguments(sub)
    sub = command("speed-report", cmd_speed_report, "speed study tables and figure")
    sub.add_argument("--raw", required=True, help="raw timings CSV from snacs speed")
    sub.add_argument("--paper", required=True, help="paper_figures/speed_paper.csv")
    sub.add_argument("--whole-raw", help="whole-network timings CSV from snacs speed --whole-out")
    _add_study_tables(sub)
    sub.add_argument("--whole-out", help="whole-network summary CSV (with --whole-raw)")
    sub.add_argument("--whole-markdown", help="whole-network Markdown table (with --whole-raw)")
    sub.add_argument("--figure", nargs="+", required=True, help="figure files (.png, .pdf)")
    sub = command("estimator-accuracy", cmd_estimator, "bias and MSE of ACMI on Gaussian cases")
    sub.add_argument("--spec", type=json_object, help="JSON with the study section (workflow use)")
    sub.add_argument("--config", help="config YAML (instead of --spec)")
    sub.add_argument("--out", required=True, help="raw estimates CSV")
    _add_runtime_arguments(sub)
    sub = command("estimator-report", cmd_estimator_report, "estimator study tables and figure")
    sub.add_argument("--raw", required=True, help="raw estimates CSV")
    sub.add_argument("--paper", required=True, help="paper_figures/estimator_accuracy_paper.csv")
    _add_study_tables(sub)
    sub.add_argument("--figure", nargs="+", required=True, help="figure files (.png, .pdf)")
    sub = command(
        "layer-compression", cmd_layer_compression, "per-layer pruned share of the chosen runs"
    )
    sub.add_argument("--prune-json", nargs="+", required=True, help="prune records")
    sub.add_argument("--selected", required=True, help="selected table (CSV) of snacs tables")
    sub.add_argument("--dense-json", required=True, help="the benchmark's dense record")
    sub.add_argument("--methods", nargs="+", required=True)
    sub.add_argument("--paper", help="paper_figures/layer_compression_paper.csv")
    sub.add_argument("--out-csv", required=True)
    sub.add_argument("--figure", nargs="+", required=True, help="figure files (.png, .pdf)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)
    with contextlib.ExitStack() as held:
        try:
            for output, writer in _outputs(args):
                held.enter_context(exclusive_output(output, f"snacs {args.command}", writer))
            if args.log:  # only once the outputs are ours: a refused command keeps off it
                held.enter_context(_output_to(args.log))
            args.handler(args)
        except SnacsError as exc:
            return _fail(args.command, str(exc))
        except OSError as exc:  # a missing input file, an unwritable output folder, a full disk
            return _fail(args.command, _os_error_line(exc))
    return 0


@contextlib.contextmanager
def _output_to(log: str):
    """Send this process's stdout and stderr (its own and its children's) to ``log``."""
    from pathlib import Path

    Path(log).parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "w") as file:
        os.dup2(file.fileno(), 1)
        os.dup2(file.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _outputs(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """(output, writer) pairs the command locks; under torchrun only rank 0 writes.

    ``--out`` and ``--out-csv`` name outputs of their own. An ``--out-dir`` is shared by
    commands writing different files into it (tables and timings both write to
    results/tables), so there the lock is the command's own within the folder.
    """
    if os.environ.get("RANK", "0") != "0":
        return []
    found: set[tuple[str, str | None]] = set()
    for name in ("out", "out_csv", "whole_out", "train_dir", "main"):
        value = getattr(args, name, None)
        found |= {(v, None) for v in (value if isinstance(value, list) else [value]) if v}
    found |= {(folder, None) for _, folder in getattr(args, "member", None) or []}
    if getattr(args, "out_dir", None):
        found.add((args.out_dir, args.command))
    return sorted(found, key=str)


def _fail(command: str, message: str) -> int:
    print(f"snacs {command}: error: {_one_line(message)}", file=sys.stderr)
    return 2


def _one_line(message: str) -> str:
    """An error raised in a DataLoader worker comes back wrapped with the worker's
    traceback; its last line is the original message, which names the culprit."""
    if "Original Traceback" not in message:
        return message
    last = message.strip().splitlines()[-1]
    return last.split(": ", 1)[1] if last.startswith("snacs.errors.") else last


def _os_error_line(exc: OSError) -> str:
    """``<reason>: <file>`` for file errors (the file is what the user must fix)."""
    if exc.filename is None:
        return str(exc)
    target = f" -> {exc.filename2}" if exc.filename2 else ""
    return f"{exc.strerror or type(exc).__name__}: {exc.filename}{target}"


if __name__ == "__main__":
    sys.exit(main())
