"""snacs: a reproducible benchmark harness for filter pruning built around SNACS.

The package is importable without Snakemake; the workflow in ``workflow/`` only calls
the ``snacs`` command line, which in turn calls this library.
"""

__version__ = "0.1.0"
