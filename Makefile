# The two commands of the README: `make demo` and `make test`. Each creates .venv when missing.
# `make run` installs only what the bot needs at run time (requirements.lock); the demo, the
# tests and the linters add the development tools (requirements-dev.lock, a superset).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.runtime

.PHONY: demo test run lint messages lock clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		(echo "Houqin needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c requirements.lock -e .
	touch $(RUNTIME_STAMP)

$(STAMP): pyproject.toml devtools/pyproject.toml requirements-dev.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c requirements-dev.lock -e ".[dev]" -e ./devtools
	touch $(STAMP) $(RUNTIME_STAMP)

demo: $(STAMP)  ## play a scripted school against the local Bot API sandbox
	$(BIN)/houqin demo

test: $(STAMP)  ## the whole suite (PostgreSQL tests skip when it is unreachable)
	$(BIN)/python -m pytest -q

run: $(RUNTIME_STAMP)  ## run the bot for real (needs TELEGRAM_BOT_TOKEN)
	$(BIN)/houqin run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot cockpit handlers scheduler actions notices storage school devtools tests bench
	$(BIN)/lint-imports

messages: $(STAMP)  ## re-extract translatable strings and update the catalogs
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k t_ -o school/locales/houqin.pot --no-location --sort-output --no-wrap .
	$(BIN)/pybabel update -i school/locales/houqin.pot -d school/locales -D houqin --no-fuzzy-matching --no-wrap

lock:  ## re-pin both locks after changing pyproject.toml: runtime alone, then with the dev tools
	rm -rf $(VENV)/lock-runtime
	$(PYTHON) -m venv $(VENV)/lock-runtime
	$(VENV)/lock-runtime/bin/python -m pip install --quiet .
	$(VENV)/lock-runtime/bin/python -m pip freeze --exclude-editable | grep -v '^houqin' > requirements.lock
	rm -rf $(VENV)/lock-runtime
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > requirements-dev.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
