# regtune — set-up, demo, tests, lint. Everything runs in .venv, created on first use, from the lock files
# in requirements/ (see requirements/README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV    := $(VENV)/.installed-dev
PIP    := $(BIN)/python -m pip install --quiet --quiet
UV     := $(BIN)/python -m uv
LOCK_FLAGS := --quiet --universal --python-version 3.11 --generate-hashes --no-header

.PHONY: demo test test-slow test-package test-latest test-oldest lint format clean bench bench-quick bench-scale bench-spark lock

$(STAMP): pyproject.toml requirements/run.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(PIP) --require-hashes -r requirements/run.lock
	$(PIP) --no-deps -e .
	touch $@

$(DEV): $(STAMP) requirements/dev.lock
	$(PIP) --require-hashes -r requirements/dev.lock
	$(PIP) --no-deps -e .
	touch $@

## demo: install regtune into .venv and tune the diabetes data bundled with scikit-learn
demo: $(STAMP)
	$(BIN)/regtune tune builtin:diabetes

## test: install the dev extras if needed and run the tests (PostgreSQL-free unless REGTUNE_TEST_PG_URL is set)
test: $(DEV)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(DEV)
	$(BIN)/python -m pytest -q -m slow

## test-package: python -m build, the wheel installed into a clean venv runs `regtune tune`; the GitHub Action's
## own install (from the repository, into a fresh venv). Slow (each installs the locked dependencies); .ci/run runs it
test-package: $(DEV)
	$(BIN)/python -m pytest -q -m slow tests/test_packaging.py tests/test_actions.py

## test-latest: the suite against the newest versions pyproject.toml allows (a separate venv; the lock is untouched)
test-latest:
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/python -m pip install --quiet --upgrade pip
	.venv-latest/bin/python -m pip install --quiet --quiet --upgrade --upgrade-strategy eager -e '.[dev]'
	.venv-latest/bin/python -m pip freeze --exclude-editable > .venv-latest/versions.txt
	.venv-latest/bin/python -m pytest -q -m "not slow" -p no:cacheprovider

## test-oldest: the suite against the lowest versions pyproject.toml allows (its lower bounds are tested)
test-oldest: $(DEV)
	$(BIN)/python -m pip install --quiet uv
	$(UV) pip compile pyproject.toml --extra dev --quiet --python-version 3.11 --resolution lowest-direct \
		--no-header -o .venv/oldest.txt
	rm -rf .venv-oldest
	$(PYTHON) -m venv .venv-oldest
	.venv-oldest/bin/python -m pip install --quiet --quiet -r .venv/oldest.txt
	.venv-oldest/bin/python -m pip install --quiet --quiet --no-deps -e .
	.venv-oldest/bin/python -m pytest -q -m "not slow" -p no:cacheprovider

## lock: resolve requirements/*.lock again from pyproject.toml (newest allowed versions), then run make test
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(UV) pip compile pyproject.toml --extra dev $(LOCK_FLAGS) --upgrade -o requirements/dev.lock
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) --constraint requirements/dev.lock -o requirements/run.lock

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(DEV)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .venv-latest .venv-oldest .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info

## bench: regtune against the peer scripts on the same folds (writes benchmarks/results/)
bench: $(DEV)
	$(BIN)/python benchmarks/choice_check.py
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/search_modes.py
	$(BIN)/python benchmarks/run.py --model sgd --only diabetes,breast_cancer,diamonds-10k,churn
	$(BIN)/python benchmarks/run.py --model mlp --hidden 32 --only diabetes,breast_cancer --n-trials 30 --oracle-points 15
	$(BIN)/python benchmarks/families.py
	$(BIN)/python benchmarks/python_api.py

bench-quick: $(DEV)
	$(BIN)/python benchmarks/run.py --quick
	$(BIN)/python benchmarks/search_modes.py --quick

## bench-scale: --engine dask on a synthetic Parquet directory (ROWS × COLS, default 20M × 50, written once to
## SCALE_DIR, not committed) against one plain dask pass over the same files, in turn REPEAT times: time and memory
ROWS ?= 20000000
COLS ?= 50
SCALE_DIR ?= /tmp/regtune-bench-scale
REPEAT ?= 3
bench-scale: $(DEV)
	$(BIN)/python benchmarks/scale.py --rows $(ROWS) --cols $(COLS) --dir $(SCALE_DIR) --repeat $(REPEAT)

## bench-spark: Spark MLlib's CrossValidator (pyspark in local mode, its own .venv-spark; Java 17) on the table of
## bench-scale at SPARK_ROWS (default 2M) rows, on regtune's folds, against regtune --engine dask on the same files
SPARK_ROWS ?= 2000000
bench-spark: $(DEV)
	test -x .venv-spark/bin/python || $(PYTHON) -m venv .venv-spark
	.venv-spark/bin/python -m pip install --quiet pyspark 'pandas<3' pyarrow numpy
	$(BIN)/python benchmarks/scale.py --rows $(SPARK_ROWS) --cols $(COLS) --dir /tmp/regtune-bench-spark --spark .venv-spark/bin/python
