# Everything installs itself into .venv on first use; only python3 (3.11+) and make are needed.
# The development environment installs from requirements/dev.lock (exact versions, with
# hashes), so every machine runs what CI ran; `make lock` regenerates it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements/dev.lock
LATEST := .venv-latest

.PHONY: serve test test-deployment lint check bench dist generate lock test-latest clean screenshots

$(STAMP): $(LOCK) pyproject.toml clients/python/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "controlplane needs Python 3.11 or newer; $(PYTHON) is " + sys.version.split()[0] + ": run make PYTHON=python3.11 (or newer)")'
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

serve: $(STAMP)  ## start on 127.0.0.1:8080 (mock) and :8081 (admin)
	$(BIN)/controlplane serve $(ARGS)

test: $(STAMP)  ## the whole test suite
	$(BIN)/python -m pytest $(ARGS)

test-deployment: $(STAMP)  ## the tests of the shared server once more, against `serve --workers 2 --state redis://` (needs redis-server)
	CONTROLPLANE_TEST_DEPLOYMENT=workers $(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)  ## ruff, mypy (strict) and the import contracts (pyproject's [tool.importlinter])
	$(BIN)/ruff check controlplane clients/python tests benchmarks tools
	$(BIN)/ruff format --check controlplane clients/python tests benchmarks tools
	$(BIN)/mypy
	$(BIN)/lint-imports

check: test lint

bench: $(STAMP)  ## the benchmark suite (wrk, ~16 min on 2 cores): writes benchmarks/RESULTS.md
	$(BIN)/python benchmarks/run.py $(ARGS)

dist: $(STAMP)  ## wheels of the server (which ships the client) and of the client alone, into dist/
	rm -rf build clients/python/build  # setuptools reuses build/: removed modules would ship
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist . ./clients/python

screenshots: $(STAMP)  ## the dashboard's pictures in docs/images, taken by its browser tests
	SCREENSHOTS=docs/images $(BIN)/python -m pytest -q tests/test_dashboard_browser.py

generate: $(STAMP)  ## rewrite the generated files: the client's _shapes.py and docs/reference/openapi.json
	$(BIN)/python tools/generate.py

lock: $(STAMP)  ## re-resolve requirements/dev.lock from pyproject.toml and requirements/tools.in
	$(BIN)/uv pip compile pyproject.toml requirements/tools.in --extra test --universal \
	  --python-version 3.11 --generate-hashes --custom-compile-command "make lock" -o $(LOCK)

test-latest:  ## the suite against the newest releases pyproject.toml allows (not the lock), in .venv-latest
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade -e '.[test]'
	$(LATEST)/bin/python -m pytest $(ARGS)

clean:
	rm -rf $(VENV) $(LATEST) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
