# OutcomeLoop: `make run` for the demo, `make test` for the tests. Everything installs into .venv,
# from the lock files in requirements/: `make run` the runtime set (requirements/runtime.lock),
# `make install` and `make test` the dev set (requirements/dev.lock: runtime + Spark, PostgreSQL
# and the test tools). After editing pyproject.toml's dependencies or requirements/constraints.txt,
# `make lock` regenerates both lock files (`make lock UPGRADE=1` also moves every pin to the
# newest allowed release).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
export OUTCOMELOOP_HOME ?= $(CURDIR)/var
SCALE ?= 1

# The locks are compiled for the machines the project runs on: CPython 3.11 on x86_64 Linux.
UV_VERSION := 0.13.9
LOCK := $(BIN)/uv pip compile pyproject.toml --quiet --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 -c requirements/constraints.txt \
	--custom-compile-command "make lock" --annotation-style line $(if $(UPGRADE),--upgrade)

.PHONY: install install-runtime lock run demo test test-slow test-e2e bench lint format clean

install: $(DEV_STAMP)

install-runtime: $(RUNTIME_STAMP)

# A venv with a current pip, then the locked set, then OutcomeLoop itself without dependencies
# (the lock already holds them all, at the versions tested together).
$(RUNTIME_STAMP): requirements/runtime.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24,<27"
	$(BIN)/python -m pip install --quiet -r requirements/runtime.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# The dev lock pins the runtime set at the same versions, so it satisfies `make run` too.
$(DEV_STAMP): requirements/dev.lock requirements/runtime.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24,<27"
	$(BIN)/python -m pip install --quiet -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(RUNTIME_STAMP) $@

# The runtime lock is compiled against the dev lock, so both pin every shared package alike.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(LOCK) --extra dev -o requirements/dev.lock
	$(LOCK) -c requirements/dev.lock -o requirements/runtime.lock

run: install-runtime
	@if [ -z "$$(find "$(OUTCOMELOOP_HOME)/inbox" -type f 2>/dev/null | head -n 1)" ]; then \
		echo "Inbox is empty: writing demo data into $(OUTCOMELOOP_HOME)/inbox"; \
		$(BIN)/outcomeloop demo; \
	fi
	$(BIN)/outcomeloop dev

demo: install-runtime
	$(BIN)/outcomeloop demo

test: install
	$(BIN)/python -m pytest -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

test-e2e: install
	$(BIN)/python -m pytest -q -m e2e

bench: install
	$(BIN)/python -m benchmarks.run --scale $(SCALE)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var
