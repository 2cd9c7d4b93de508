"""The ``snacs`` command line: inspection commands for people, step commands for the workflow.

Each workflow rule calls one step command with ``--spec`` (the JSON of the config part the
step reads); a person can run the same step with ``--config FILE --benchmark NAME``.
User errors print one line without a traceback and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

from snacs.errors import ConfigError, SnacsError

DEFAULT_INPUT_SHAPES = {
    "vgg16_cifar": (3, 32, 32),
    "resnet_cifar": (3, 32, 32),
    "resnet56_cifar": (3, 32, 32),
    "resnet50": (3, 224, 224),
    "mlp_mnist": (1, 28, 28),
}


def _device(args: argparse.Namespace):
    from snacs.engine import resolve_device

    return resolve_device(args.device)


def _spec(args: argparse.Namespace, step: str) -> dict:
    from snacs.config import load_config, step_spec

    if args.spec:
        try:
            return json.loads(args.spec)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--spec is not valid JSON: {exc}") from exc
    if not (args.config and args.benchmark):
        raise ConfigError("give either --spec JSON or both --config FILE and --benchmark NAME")
    method = getattr(args, "method", None)
    return step_spec(load_config(args.config), args.benchmark, step, method)


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
    from snacs.metrics import count_macs, count_params, layer_counts
    from snacs.models import build_model

    options = json.loads(args.options) if args.options else {}
    model = build_model(args.arch, args.num_classes, **options)
    if args.input_shape:
        shape = tuple(int(v) for v in args.input_shape.split(","))
    elif args.arch in DEFAULT_INPUT_SHAPES:
        shape = DEFAULT_INPUT_SHAPES[args.arch]
    else:
        raise ConfigError(f"give --input-shape for {args.arch!r} (e.g. 3,32,32)")
    params = count_params(model)
    macs = count_macs(model, shape)
    macs_bias = count_macs(model, shape, include_bias=True)
    if args.json:
        print(
            json.dumps(
                {
                    "arch": args.arch,
                    "input_shape": list(shape),
                    "params": params,
                    "macs": macs,
                    "macs_with_bias": macs_bias,
                }
            )
        )
        return
    print(
        f"{'layer':<28} {'kind':<6} {'weight shape':<20} {'output shape':<18} "
        f"{'params':>12} {'MACs':>15}"
    )
    for row in layer_counts(model, shape):
        print(
            f"{row.name:<28} {row.kind:<6} {str(row.weight_shape):<20} "
            f"{str(row.output_shape):<18} {row.params:>12,} {row.macs:>15,}"
        )
    print(
        f"\n{args.arch} at input {shape}: {params:,} parameters (all, incl. BN), "
        f"{macs:,} conv+linear MACs ({macs_bias:,} with bias)"
    )


def cmd_validate(args: argparse.Namespace) -> None:
    from snacs.config import load_config, runs

    config = load_config(args.configfile)
    print(f"{args.configfile}: valid; {len(runs(config))} pruning runs")


def cmd_data(args: argparse.Namespace) -> None:
    from snacs.pipeline.common import prepare_dataset

    root = prepare_dataset(_spec(args, "data"))
    if args.out:
        from snacs.io import write_json

        write_json(args.out, {"root": str(root)})


def cmd_dense(args: argparse.Namespace) -> None:
    from snacs.pipeline.dense import run_dense

    record = run_dense(_spec(args, "dense"), args.out, _device(args), not args.no_progress)
    print(f"dense top-1 {record.accuracy['top1']:.2f} %")


def cmd_activations(args: argparse.Namespace) -> None:
    from snacs.pipeline.prune import run_activations

    seconds = run_activations(
        _spec(args, "activations"), args.dense, args.out, _device(args), not args.no_progress
    )
    print(f"activations collected in {seconds:.2f} s")


def cmd_prune(args: argparse.Namespace) -> None:
    from snacs.pipeline.prune import resolve_target, run_prune

    record = run_prune(
        _spec(args, "prune"),
        args.method,
        resolve_target(args.target, args.reference),
        args.seed,
        args.dense,
        args.out,
        _device(args),
        activations_path=args.activations,
        progress=not args.no_progress,
        label=args.target,
    )
    achieved = record.achieved
    print(
        f"{args.method} {args.target}: scoring {record.timings['score_seconds']:.3f} s, "
        f"params -{100 * achieved['params_reduction']:.1f} %, "
        f"FLOPs -{100 * achieved['flops_reduction']:.1f} %"
    )


def cmd_finetune(args: argparse.Namespace) -> None:
    from snacs.pipeline.finetune import run_finetune

    run_finetune(
        _spec(args, "finetune"),
        args.plan,
        args.dense,
        args.out,
        _device(args),
        args.seed,
        not args.no_progress,
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
    )
    print(f"top-1 {row.pruned_top1:.2f} % (baseline {row.baseline_top1:.2f} %)")


def cmd_tables(args: argparse.Namespace) -> None:
    from snacs.report.tables import write_tables

    write_tables(args.results, args.out_dir, args.tolerance_pp, args.compression, args.published)


def cmd_timings(args: argparse.Namespace) -> None:
    from snacs.report.tables import write_timing_tables

    write_timing_tables(args.prune_json, args.out_dir)


def cmd_figures(args: argparse.Namespace) -> None:
    import pandas as pd

    from snacs.report.figures import accuracy_vs_flops

    accuracy_vs_flops(pd.read_csv(args.summary), args.benchmark, args.out)


def _report_config(args: argparse.Namespace) -> dict:
    from snacs.config import load_config, validate_config

    if args.config_json:
        return validate_config(json.loads(args.config_json))
    return load_config(args.configfile)


def cmd_report(args: argparse.Namespace) -> None:
    from snacs.pipeline.provenance import provenance
    from snacs.report.html import write_report
    from snacs.report.manifest import report_manifest

    config = _report_config(args)
    write_report(args.out, report_manifest(config), config, provenance())


def cmd_claims(args: argparse.Namespace) -> None:
    import pandas as pd

    from snacs.report.claims import build_claims, write_claims
    from snacs.report.manifest import report_manifest
    from snacs.report.tables import read_published

    config = _report_config(args)
    manifest = report_manifest(config)
    paper_speed = pd.read_csv(args.paper_speed) if args.paper_speed else None
    frame = build_claims(config, manifest, read_published(args.published), paper_speed)
    write_claims(frame, config, manifest)
    for row in frame.itertuples():
        print(f"{row.verdict:>13}  {row.claim} [{row.benchmark}]")


def _study_section(args: argparse.Namespace, study: str) -> tuple[dict, dict | None]:
    """(study config section, benchmark step spec or None) from --spec or --config."""
    from snacs.config import load_config, step_spec
    from snacs.studies.speed import speed_benchmark

    if args.spec:
        try:
            spec = json.loads(args.spec)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--spec is not valid JSON: {exc}") from exc
        return spec["study"], spec.get("benchmark")
    if not args.config:
        raise ConfigError("give either --spec JSON or --config FILE")
    config = load_config(args.config)
    section = config["studies"][study]
    if study != "speed":
        return section, None
    if getattr(args, "benchmark", None):
        section = {**section, "benchmark": args.benchmark}
    name = speed_benchmark({**config, "studies": {**config["studies"], "speed": section}})
    return section, step_spec(config, name, "activations")


def cmd_speed(args: argparse.Namespace) -> None:
    from snacs.io import write_text
    from snacs.studies import speed

    section, spec = _study_section(args, "speed")
    settings = speed.SpeedSettings.from_config(section)
    device = _device(args)
    if speed.weights_source(settings.weights, spec) == "trained":
        if not (args.dense and args.activations):
            raise ConfigError(
                f"the speed study reads the trained {spec['name']} model: give --dense "
                "(dense/best.pt) and --activations (activations.pt), or set weights: random"
            )
        pair = speed.pair_from_trained(spec, args.dense, args.activations, settings)
    else:
        pair = speed.pair_from_random_init(spec, settings, device, not args.no_progress)
    raw = speed.run_speed_study(pair, settings, device, not args.no_progress)
    write_text(args.out, raw.to_csv(index=False))
    summary = speed.summarise_speed(raw)
    print(speed.setup_summary(raw))
    print(summary.to_string(index=False))


def cmd_speed_report(args: argparse.Namespace) -> None:
    from snacs.report.study_figures import speed_figure
    from snacs.studies.speed import claim_summary, write_speed_tables

    table = write_speed_tables(args.raw, args.paper, args.out_dir)
    speed_figure(table, args.figure)
    print(claim_summary(table))


def cmd_estimator(args: argparse.Namespace) -> None:
    from snacs.io import write_text
    from snacs.studies.estimator_accuracy import EstimatorSettings, run_estimator_study

    section, _ = _study_section(args, "estimator")
    raw = run_estimator_study(EstimatorSettings.from_config(section), not args.no_progress)
    write_text(args.out, raw.to_csv(index=False))


def cmd_estimator_report(args: argparse.Namespace) -> None:
    from snacs.report.study_figures import estimator_figure
    from snacs.studies.estimator_accuracy import write_estimator_tables

    estimator_figure(write_estimator_tables(args.raw, args.paper, args.out_dir), args.figure)


def cmd_layer_compression(args: argparse.Namespace) -> None:
    import pandas as pd

    from snacs.io import write_text
    from snacs.pruning.records import DenseRecord
    from snacs.report.study_figures import layer_compression_figure
    from snacs.report.tables import layer_compression

    dense = DenseRecord.load(args.dense_json)
    table = layer_compression(args.prune_json, pd.read_csv(args.selected), dense, args.methods)
    write_text(args.out_csv, table.to_csv(index=False))
    paper = pd.read_csv(args.paper) if args.paper else None
    if paper is not None:
        paper = paper[paper["benchmark"] == dense.benchmark]
    layer_compression_figure(table, paper, dense.title, args.figure)


def _add_report_config(parser: argparse.ArgumentParser) -> None:
    """The config a report step reads: its manifest says which files it is built from."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--configfile", help="config YAML")
    source.add_argument("--config-json", help="resolved config as JSON (workflow use)")


def _add_step_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", help="JSON of the config part this step reads (workflow use)")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snacs", description="Benchmark harness for neural-network filter pruning (SNACS)."
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
    sub.add_argument("--num-classes", type=int, default=10)
    sub.add_argument("--input-shape", help="per-sample shape, e.g. 3,32,32")
    sub.add_argument("--options", help="model knobs as JSON, e.g. '{\"depth\": 20}'")
    sub.add_argument("--json", action="store_true", help="totals as JSON, no per-layer table")
    sub = command("validate", cmd_validate, "validate a config file against the schema")
    sub.add_argument("configfile")

    sub = command("data", cmd_data, "write the synthetic dataset or check the real one", True)
    sub.add_argument("--out", help="marker JSON to write when done")
    sub = command("dense", cmd_dense, "train (or fetch) and evaluate the dense model", True)
    sub.add_argument("--out", required=True, help="output folder")
    sub = command("activations", cmd_activations, "collect pooled pre-BN activations", True)
    sub.add_argument("--dense", required=True, help="dense checkpoint")
    sub.add_argument("--out", required=True, help="activation cache file")
    sub = command("prune", cmd_prune, "score and plan with one pruner (timed)", True)
    sub.add_argument("--method", required=True)
    sub.add_argument("--target", required=True, help="target label, e.g. flops50-layerwise")
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--dense", required=True, help="dense checkpoint")
    sub.add_argument("--activations", help="activation cache file (shared by pruners)")
    sub.add_argument("--reference", help="prune.json of the reference run (match-* targets)")
    sub.add_argument("--out", required=True, help="output folder")
    sub = command("finetune", cmd_finetune, "fine-tune under a plan's fixed masks", True)
    sub.add_argument("--plan", required=True)
    sub.add_argument("--dense", required=True)
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--out", required=True)
    sub = command("evaluate", cmd_evaluate, "accuracy, counts and latency of a run", True)
    sub.add_argument("--plan", required=True)
    sub.add_argument("--prune-json", required=True)
    sub.add_argument("--finetuned", required=True)
    sub.add_argument("--dense-json", required=True)
    sub.add_argument("--out", required=True)

    sub = command("tables", cmd_tables, "summarise run results into CSV and Markdown tables")
    sub.add_argument("--results", nargs="+", required=True)
    sub.add_argument("--out-dir", required=True, help="writes main.* and selected.* there")
    sub.add_argument("--tolerance-pp", type=float, default=0.5)
    sub.add_argument("--compression", choices=["params", "flops"], default="params")
    sub.add_argument("--published", help="published results CSV shown beside ours")
    sub = command("timings", cmd_timings, "per-benchmark pruner timing tables from prune.json")
    sub.add_argument("--prune-json", nargs="+", required=True)
    sub.add_argument("--out-dir", required=True, help="writes timings.{csv,md,tex} there")
    sub = command("figures", cmd_figures, "accuracy-vs-FLOPs figure of one benchmark")
    sub.add_argument("--summary", required=True)
    sub.add_argument("--benchmark", required=True)
    sub.add_argument("--out", nargs="+", required=True)
    sub = command("report", cmd_report, "the self-contained HTML report")
    _add_report_config(sub)
    sub.add_argument("--out", required=True)
    sub = command("claims", cmd_claims, "verdict per claim of the paper: tables/claims.{csv,md}")
    _add_report_config(sub)
    sub.add_argument("--published", help="paper_figures/published_results.csv")
    sub.add_argument("--paper-speed", help="paper_figures/speed_paper.csv")

    sub = command("speed", cmd_speed, "time SNACS and MINT scoring one layer pair (§9.2)")
    sub.add_argument("--spec", help="JSON with the study section and benchmark (workflow use)")
    sub.add_argument("--config", help="config YAML (instead of --spec)")
    sub.add_argument("--benchmark", help="override studies.speed.benchmark (with --config)")
    sub.add_argument("--dense", help="dense checkpoint (weights: trained)")
    sub.add_argument("--activations", help="activation cache (weights: trained)")
    sub.add_argument("--out", required=True, help="raw timings CSV")
    _add_runtime_arguments(sub)
    sub = command("speed-report", cmd_speed_report, "speed study tables and figure")
    sub.add_argument("--raw", required=True, help="raw timings CSV from snacs speed")
    sub.add_argument("--paper", required=True, help="paper_figures/speed_paper.csv")
    sub.add_argument("--out-dir", required=True, help="writes speed_summary.csv, speed.md/.tex")
    sub.add_argument("--figure", nargs="+", required=True, help="figure files (.png, .pdf)")
    sub = command(
        "estimator-accuracy", cmd_estimator, "bias and MSE of ACMI on Gaussian cases (§9.4)"
    )
    sub.add_argument("--spec", help="JSON with the study section (workflow use)")
    sub.add_argument("--config", help="config YAML (instead of --spec)")
    sub.add_argument("--out", required=True, help="raw estimates CSV")
    _add_runtime_arguments(sub)
    sub = command("estimator-report", cmd_estimator_report, "estimator study tables and figure")
    sub.add_argument("--raw", required=True, help="raw estimates CSV")
    sub.add_argument("--paper", required=True, help="paper_figures/estimator_accuracy_paper.csv")
    sub.add_argument("--out-dir", required=True, help="writes estimator_summary.csv, .md, .tex")
    sub.add_argument("--figure", nargs="+", required=True, help="figure files (.png, .pdf)")
    sub = command(
        "layer-compression", cmd_layer_compression, "per-layer pruned % of chosen runs (§9.3)"
    )
    sub.add_argument("--prune-json", nargs="+", required=True, help="prune records (prune.json)")
    sub.add_argument("--selected", required=True, help="selected.csv from snacs tables")
    sub.add_argument("--dense-json", required=True, help="the benchmark's dense.json")
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
    try:
        args.handler(args)
    except SnacsError as exc:
        print(f"snacs {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
