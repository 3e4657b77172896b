# Two commands on a fresh machine:
#   make demo   set up, start the embedded PostgreSQL, generate demo data, run the pipeline, serve the Dagster UI
#               (GMP_DEMO_NO_UI=1 make demo stops after the run and prints where to look)
#   make test   set up and run the whole test suite
#   make test-fast   the unit tests only (tests/unit: no database, dbt, Dagster instance or browser)
#   make lint   ruff (lint, format check) and sqlfluff (dbt project), as CI runs them (.ci/lint)
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-fast lint install ui docs clean-state

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade "pip>=24"
	$(VENV)/bin/pip install --quiet -c requirements.lock -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gmp demo

# Test worker processes (pytest-xdist), a test file at a time each, so a module's fixtures are built once;
# each worker has its own embedded PostgreSQL and Dagster instance. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
PYTEST := $(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile

test: $(STAMP)
	$(PYTEST)

test-fast: $(STAMP)
	$(PYTEST) tests/unit -q

lint: $(STAMP)
	bash .ci/lint

ui: $(STAMP)
	$(VENV)/bin/gmp ui

docs: $(STAMP)
	$(VENV)/bin/gmp docs

clean-state:
	-$(VENV)/bin/gmp db stop
	rm -rf .gmp
