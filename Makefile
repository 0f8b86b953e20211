# OutcomeLoop: `make run` for the demo, `make test` for the tests. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export OUTCOMELOOP_HOME ?= $(CURDIR)/var
SCALE ?= 1

.PHONY: install run demo test test-slow test-e2e bench lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24,<27"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	@if [ -z "$$(find "$(OUTCOMELOOP_HOME)/inbox" -type f 2>/dev/null | head -n 1)" ]; then \
		echo "Inbox is empty: writing demo data into $(OUTCOMELOOP_HOME)/inbox"; \
		$(BIN)/outcomeloop demo; \
	fi
	$(BIN)/outcomeloop dev

demo: install
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
