# snacs workflow: dense -> prune (timed) -> finetune -> evaluate -> tables -> figures -> results/all,
# plus the side studies of the paper (speed, estimator accuracy, compression per layer).
# Run `snakemake --cores 8 results/all` (paper config) or add `--configfile config/demo.yaml`.
from snakemake.utils import min_version

min_version("9.0")

# Only fall back to the paper config when no --configfile was given: Snakemake would
# otherwise merge the paper benchmarks into a demo config.
if not config:

    configfile: "config/config.yaml"


# What `snakemake --report report.html` shows (the project's own report is results/report.html).
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/dense.smk"
include: "workflow/rules/prune.smk"
include: "workflow/rules/studies.smk"
include: "workflow/rules/report.smk"


# Snakemake restores the default target after each include, so it is named here: a bare
# `snakemake --cores N` builds results/all.
rule default:
    default_target: True
    localrule: True
    input:
        rules.all.output.report,
