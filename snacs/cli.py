"""The ``snacs`` command line: inspection commands for people, step commands for the workflow.

Each workflow rule calls one step command with ``--spec`` (the JSON of the config part the
step reads); a person can run the same step with ``--config FILE --benchmark NAME``.
A step command is one entry of ``STEP_COMMANDS``: its flags are its step function's
parameters (:mod:`snacs.step_arguments`), so a step is said in its rule and its function.
User mistakes (a bad argument, config value or input file) print one line naming the
culprit, without a traceback, and exit with status 2. Every output a command writes is
held by one process at a time: a second command on the same output fails at once.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from snacs.errors import SnacsError
from snacs.locks import exclusive_output
from snacs.step_arguments import StepCommand, json_object


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


def _says_data(check, call: Mapping[str, Any]) -> str:
    return (
        f"{check.dataset}: {check.train_samples:,} training and {check.test_samples:,} test "
        f"samples, {check.num_classes} classes; {check.files_checked:,} image files "
        f"{'decoded' if check.full else 'checked'} in {check.seconds:.1f} s"
    )


def _says_prune(records, call: Mapping[str, Any]) -> str:
    lines = [f"{call['method']}: scoring {records[0].timings['score_seconds']:.3f} s"]
    for each, record in zip(call["targets"], records, strict=True):
        achieved = record.achieved
        lines.append(
            f"{call['method']} {each.run_label}: params -{100 * achieved.params:.1f} %, "
            f"FLOPs -{100 * achieved.flops:.1f} % masked, "
            f"-{100 * achieved.slim_flops:.1f} % slim"
            + ("" if record.target_met else f"; TARGET MISSED: {record.target_miss_reason}")
        )
    return "\n".join(lines)


def _says_control(row, call: Mapping[str, Any]) -> str:
    return (
        f"{row.method} {row.target} control {call['label']}: top-1 {row.pruned_top1:.2f} % "
        f"(one-shot {row.one_shot_top1:.2f} %), FLOPs -{row.flops_reduction_pct:.1f} %"
    )


def _says_one_shot(record, call: Mapping[str, Any]) -> str:
    per_plan = sum(p.seconds for p in record.plans) / max(1, len(record.plans))
    return (
        f"{len(record.plans)} plans one-shot in {per_plan:.2f} s each after "
        f"{record.setup_seconds:.1f} s of loading; dense model {record.dense.top1:.2f} % "
        f"under the same BatchNorm re-estimation ({record.bn_recalibration_batches} batches)"
    )


def _says_evaluate(row, call: Mapping[str, Any]) -> str:
    exported = f"; slim model: {call['slim_out']}" if call["slim_out"] else ""
    return (
        f"top-1 {row.pruned_top1:.2f} % (baseline {row.baseline_top1:.2f} %, "
        f"one-shot {row.one_shot_top1:.2f} %){exported}"
    )


def _printout(text: str, call: Mapping[str, Any]) -> str:
    """A step that returns its own printout (a table, a verdict per claim)."""
    return text


#: The workflow's steps as commands, in the order of the workflow. Each command's flags
#: come from its step function's parameters (snacs.step_arguments).
STEP_COMMANDS = (
    StepCommand(
        "data",
        "snacs.pipeline.data:run_data",
        "write the synthetic dataset or check the real one",
        _says_data,
    ),
    StepCommand(
        "weights",
        "snacs.pipeline.weights:fetch_weights",
        "fetch a pretrained model's weights (login node)",
        lambda record, _: (
            f"{record['arch']} weights ready (torch hub cache {record['torch_hub_cache']})"
        ),
    ),
    StepCommand(
        "dense",
        "snacs.pipeline.dense:run_dense",
        "train (or fetch) and evaluate the dense model",
        lambda record, _: f"dense top-1 {record.accuracy['top1']:.2f} %",
    ),
    StepCommand(
        "activations",
        "snacs.pipeline.prune:run_activations",
        "collect pooled pre-BN activations",
        lambda seconds, _: f"activations collected in {seconds:.2f} s",
    ),
    StepCommand(
        "prune",
        "snacs.pipeline.prune:run_prune",
        "score once with one pruner (timed), plan each target",
        _says_prune,
    ),
    StepCommand(
        "control",
        "snacs.pipeline.controls:run_control_chain",
        "a run's control (same per-layer counts): plan, fine-tune, result",
        _says_control,
    ),
    StepCommand(
        "finetune", "snacs.pipeline.finetune:run_finetune", "fine-tune under a plan's fixed masks"
    ),
    StepCommand(
        "finetune-stack",
        "snacs.pipeline.finetune:run_finetune_stack",
        "fine-tune several runs of one benchmark and seed as one stacked model",
        part="finetune",
    ),
    StepCommand(
        "reference",
        "snacs.pipeline.finetune:run_dense_reference",
        "fine-tune the dense model with the fine-tune recipe",
        lambda record, _: (
            f"dense fine-tuned: top-1 {record.pruned_top1:.2f} % "
            f"(dense {record.baseline_top1:.2f} %)"
        ),
        part="finetune",
    ),
    StepCommand(
        "oneshot",
        "snacs.pipeline.oneshot:run_one_shot",
        "accuracy right after pruning of many plans, in one process",
        _says_one_shot,
        part="evaluate",
    ),
    StepCommand(
        "evaluate",
        "snacs.pipeline.evaluate:run_evaluate",
        "accuracy, counts and latency of a run",
        _says_evaluate,
    ),
    StepCommand(
        "tables",
        "snacs.report.tables:write_tables",
        "summarise run results into CSV and Markdown tables",
    ),
    StepCommand(
        "timings",
        "snacs.report.tables:write_timing_tables",
        "per-benchmark pruner timing tables from prune records",
    ),
    StepCommand(
        "figures", "snacs.pipeline.report:run_figures", "accuracy-vs-FLOPs figure of one benchmark"
    ),
    StepCommand("report", "snacs.pipeline.report:run_report", "the self-contained HTML report"),
    StepCommand(
        "claims",
        "snacs.pipeline.report:run_claims",
        "verdict per claim of the paper: the claims table",
        _printout,
    ),
    StepCommand(
        "speed",
        "snacs.pipeline.studies:run_speed",
        "time SNACS and MINT scoring one layer pair",
        _printout,
    ),
    StepCommand(
        "speed-report",
        "snacs.pipeline.studies:run_speed_report",
        "speed study tables and figure",
        _printout,
    ),
    StepCommand(
        "estimator-accuracy",
        "snacs.pipeline.studies:run_estimator",
        "bias and MSE of ACMI on Gaussian cases",
        part="estimator",
    ),
    StepCommand(
        "estimator-report",
        "snacs.pipeline.studies:run_estimator_report",
        "estimator study tables and figure",
    ),
    StepCommand(
        "layer-compression",
        "snacs.pipeline.studies:run_layer_compression",
        "per-layer pruned share of the chosen runs",
    ),
)


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage mistakes end in one line that names the argument, not a usage dump."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser(steps: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The ``snacs`` parser, with the arguments of the step commands named in ``steps``.

    A step command's arguments come from its step function, so building them imports the
    step's module (torch and the rest); the other step commands are listed, with no
    arguments and no help of their own. ``None``: every command, fully built.
    """
    parser = OneLineErrorParser(
        prog="snacs", description="Benchmark harness for neural-network filter pruning (SNACS)."
    )
    parser.add_argument(
        "--log",
        help="write the command's output here once it holds its outputs (workflow use): "
        "a command refused because another one is writing leaves that one's log alone",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], None], help: str):
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(_run=handler, _outputs=lambda args: [])
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

    for step in STEP_COMMANDS:
        built = steps is None or step.name in steps
        sub = commands.add_parser(step.name, help=step.help, description=step.help, add_help=built)
        if built:
            arguments = step.add_arguments(sub)
            sub.add_argument(
                "--threads", type=int, help="torch CPU threads (default: torch's choice)"
            )
            sub.set_defaults(
                _run=functools.partial(step.run, arguments), _outputs=arguments.outputs
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # Which command, first: only its arguments are built (a step's import torch and more).
    command = build_parser(steps=()).parse_known_args(argv)[0].command
    args = build_parser(steps=(command,)).parse_args(argv)
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)
    with contextlib.ExitStack() as held:
        try:
            for output in _outputs(args):
                held.enter_context(exclusive_output(output, f"snacs {args.command}"))
            if args.log:  # only once the outputs are ours: a refused command keeps off it
                held.enter_context(_output_to(args.log))
            args._run(args)
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


def _outputs(args: argparse.Namespace) -> list[str]:
    """What the command locks: every output its step function marks ``Written``; under
    torchrun only rank 0 writes, so the other ranks lock nothing."""
    if os.environ.get("RANK", "0") != "0":
        return []
    return sorted(set(args._outputs(args)))


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
