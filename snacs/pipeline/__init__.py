"""Workflow steps: each function is one Snakemake rule's job, callable without Snakemake.

This package and ``snacs.cli`` are the only places that know every part of the library
(data, models, engine, pruning, metrics, report), as DESIGN.md's dependency rule asks.
"""
