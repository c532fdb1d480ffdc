# cscvault: `make demo` and `make test` work on a fresh machine with only Python 3.11.
# Both create .venv when missing and install the project (pinned by requirements.lock) into it.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench validate clean docs

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cscvault demo

# Browser tests drive Debian's chromium (/usr/bin/chromium) and skip, saying so, where it is not installed;
# .ci/run installs it. Live-R tests (-m r) and long validation (-m slow) are not part of `make test`.
# It runs on every core (pytest-xdist); --dist loadscope keeps each module on one worker, so a module-scoped
# vault or synthetic trial is built once.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist loadscope -m "not slow and not r"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

validate: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

clean:
	rm -rf $(VENV) cscvault-demo .pytest_cache .mypy_cache .ruff_cache
