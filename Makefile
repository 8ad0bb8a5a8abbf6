# Everything installs itself into .venv on first use; only python3 (3.11+) and make are needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve test lint check bench clean

$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet -e 'clients/python[async]'
	touch $(STAMP)

serve: $(STAMP)  ## start on 127.0.0.1:8080 (mock) and :8081 (admin)
	$(BIN)/controlplane serve $(ARGS)

test: $(STAMP)  ## the whole test suite
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)  ## ruff and mypy (strict) on the package
	$(BIN)/ruff check controlplane tests benchmarks
	$(BIN)/ruff format --check controlplane tests benchmarks
	$(BIN)/mypy

check: test lint

bench: $(STAMP)  ## the benchmark suite (wrk, ~12 min on 2 cores): writes benchmarks/RESULTS.md
	$(BIN)/python benchmarks/run.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
