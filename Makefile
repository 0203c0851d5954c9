# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test lint format check-python install clean-var

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required (found " + sys.version.split()[0] + ")")'

$(VENV)/.installed: pyproject.toml | check-python
	@echo "[make] Creating $(VENV) and installing the workbench (first run takes a minute)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

run: $(VENV)/.installed
	$(PY) -m coding_app.devstack run --host $(HOST) --port $(PORT)

test: $(VENV)/.installed
	$(PY) -m coding_app.devstack test $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@# The Django plugin imports the settings: placeholder URLs keep it from starting
	@# the embedded servers (mypy connects to nothing).
	DEV_MODE=1 DATABASE_URL=postgres://typecheck.invalid/x REDIS_URL=redis://typecheck.invalid:6379/0 \
		$(VENV)/bin/mypy accounts codesets encounters coding_app jobs

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Removes the embedded database and Redis data (asks first).
clean-var:
	@read -p "Delete ./var (embedded database, Redis, demo passwords)? [y/N] " ok && [ "$$ok" = y ] && rm -rf var || true
