# Two commands for a fresh machine with Python 3.11:  make run  and  make test
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN = $(VENV)/bin
PORT ?= 8501

# Some machines set PYTHONDONTWRITEBYTECODE=1 for every process; the suite starts many Python
# processes (pytest's workers, command-line runs, dashboard servers), and without bytecode caches
# each of them compiles the project and pytest rewrites its plugins again (~2 s of CPU per pytest
# process measured). The caches go to __pycache__ folders, which git ignores.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup run test lint bench bench-quick clean

setup: $(VENV)/.installed

# The install goes through uv (installed into the venv by its own pip): on a fresh machine pip took
# 60-90 s of the test run's time (resolving one package at a time, then compiling every installed
# module, plotly's thousands included), uv ~10 s; Python compiles only what is imported, once, into
# the __pycache__ folders. The venv is made without pip, and uv is put in it by the interpreter's own
# pip (`pip --python`): ensurepip's copy of pip into the venv took 5-6 CPU-s that nothing used. Where
# uv cannot be had (no pip beside the interpreter, as on Debian without python3-pip, or a package
# index only pip is set up for), the venv gets its pip from ensurepip and pip does the install.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv --without-pip $(VENV)
	{ $(PYTHON) -m pip --python $(BIN)/python install --quiet uv && $(BIN)/python -m uv pip install --quiet --python $(BIN)/python -e '.[test]'; } \
	  || { $(BIN)/python -m ensurepip --default-pip >/dev/null && $(BIN)/python -m pip install --quiet -e '.[test]'; }
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
# A third worker on 2 cores was measured side by side (fresh clones, 2026-12-07): the machine's idle
# CPU 56 -> 19 s, but its busy CPU 645 -> 675 s (one more worker's fixtures and server): 353 -> 348 s.
# --durations=25 lists the slowest setups, calls and teardowns, so that a test growing slow is seen.
PYTEST_WORKERS ?= auto
# The static checks (make lint: mypy alone takes a core for about 40 s on a fresh clone) run beside
# pytest rather than before it, so that both cores stay busy; their output follows pytest's, and a
# failure of either fails the target. pytest's exit 5 (no tests collected) is a failure too, with
# its reason said.
test: setup
	@lint_log=$$(mktemp); $(MAKE) --no-print-directory lint >"$$lint_log" 2>&1 & lint_pid=$$!; \
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup --durations=25; status=$$?; \
	[ $$status -ne 5 ] || echo "make test: pytest collected no tests" >&2; \
	wait $$lint_pid; lint_status=$$?; cat "$$lint_log"; rm -f "$$lint_log"; \
	if [ $$lint_status -ne 0 ]; then echo "make test: make lint failed" >&2; [ $$status -ne 0 ] || status=$$lint_status; fi; \
	exit $$status

# Full benchmark, three programs one after the other, each printing its numbers: bench.run (sizes
# S, M, L; about 10 minutes; rewrites the table in BENCHMARKS.md, with the report with deals and the
# weekly report), bench.storage (PostgreSQL vs DuckDB at M, 8 concurrent uploaders with exact
# totals) and bench.backtest (1,000 reps x 3 years: too_late precision, recall, calibration, time).
# All three run even when one fails; the target fails if any did.
bench: setup
	status=0; \
	$(BIN)/python -m bench.run || status=$$?; \
	$(BIN)/python -m bench.storage || status=$$?; \
	$(BIN)/python -m bench.backtest || status=$$?; \
	exit $$status

# Quick mode of the three (size S, one run; bench.run --quick is also run inside the test suite by
# tests/core/test_bench_quick.py)
bench-quick: setup
	status=0; \
	$(BIN)/python -m bench.run --quick || status=$$?; \
	$(BIN)/python -m bench.storage --quick || status=$$?; \
	$(BIN)/python -m bench.backtest --quick || status=$$?; \
	exit $$status

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache
