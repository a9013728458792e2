# Two commands for a fresh machine with Python 3.11:  make run  and  make test
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN = $(VENV)/bin
PORT ?= 8501

.PHONY: setup run test lint bench bench-quick clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Creates data/salesplan.duckdb with the demo organisation when it holds no data yet, then serves the dashboard.
run: setup
	$(BIN)/salesplan init
	$(BIN)/salesplan demo --if-empty
	$(BIN)/streamlit run app.py --server.port $(PORT)

# Static checks: the layer contracts (import-linter), ruff, then mypy; configured in pyproject.toml.
lint: setup
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/mypy

# The whole suite in parallel (pytest-xdist, one worker per core; tests that must not share the
# machine with others are grouped in tests/conftest.py). Set PYTEST_WORKERS=0 to run serially.
PYTEST_WORKERS ?= auto
# pytest's exit 5 (no tests collected) is a failure too, with its reason said.
test: setup lint
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup || { status=$$?; \
	  [ $$status -ne 5 ] || echo "make test: pytest collected no tests" >&2; exit $$status; }

# Full benchmark (sizes S, M, L; about 10 minutes); rewrites the table in BENCHMARKS.md
bench: setup
	$(BIN)/python -m bench.run

# Quick mode (size S, one run; also run inside the test suite by tests/test_bench_quick.py)
bench-quick: setup
	$(BIN)/python -m bench.run --quick

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache
