# regtune — set-up, demo, tests, lint. Everything runs in .venv, created on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV    := $(VENV)/.installed-dev

.PHONY: demo test test-slow lint format clean bench bench-quick

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --quiet -e .
	touch $@

$(DEV): $(STAMP)
	$(BIN)/python -m pip install --quiet --quiet -e '.[dev]'
	touch $@

## demo: install regtune into .venv and tune the diabetes data bundled with scikit-learn
demo: $(STAMP)
	$(BIN)/regtune tune builtin:diabetes

## test: install the dev extras if needed and run the tests (PostgreSQL-free unless REGTUNE_PG_URL is set)
test: $(DEV)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(DEV)
	$(BIN)/python -m pytest -q -m slow

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(DEV)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info

## bench: regtune against the peer scripts on the same folds (writes benchmarks/results/)
bench: $(DEV)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/search_modes.py
	$(BIN)/python benchmarks/run.py --model sgd --only diabetes,breast_cancer,diamonds-10k,churn
	$(BIN)/python benchmarks/run.py --model mlp --hidden 32 --only diabetes,breast_cancer --n-trials 30 --oracle-points 15

bench-quick: $(DEV)
	$(BIN)/python benchmarks/run.py --quick
	$(BIN)/python benchmarks/search_modes.py --quick
