# The two commands of the README. Both install what they need first (idempotent).
PYTHON ?= python3
CORES ?= 2

.PHONY: setup demo test lint

setup:
	$(PYTHON) -m pip install --quiet -e ".[dev]"

# The demo fine-tunes a benchmark's runs six at a time as one stacked model (stack_k): the
# same numbers to float tolerance, in half the CPU time of one process per run.
demo: setup
	snakemake --cores $(CORES) --configfile=config/demo.yaml results/all --config stack_k=6

test: setup
	$(PYTHON) -m ruff check .
	$(PYTHON) -m pytest -q

lint: setup
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
