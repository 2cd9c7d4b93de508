# The two commands of the README. Both install what they need first (idempotent).
PYTHON ?= python3
CORES ?= 2

.PHONY: setup demo test lint

setup:
	$(PYTHON) -m pip install --quiet -e ".[dev]"

demo: setup
	snakemake --cores $(CORES) --configfile=config/demo.yaml results/all

test: setup
	$(PYTHON) -m ruff check .
	$(PYTHON) -m pytest -q

lint: setup
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
