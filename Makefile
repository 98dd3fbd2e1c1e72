# The two commands of the README: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test run lint messages lock clean

$(STAMP): pyproject.toml devtools/pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		(echo "Houqin needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]" -e ./devtools
	touch $(STAMP)

demo: $(STAMP)  ## play a scripted school against the local Bot API sandbox
	$(BIN)/houqin demo

test: $(STAMP)  ## the whole suite (PostgreSQL tests skip when it is unreachable)
	$(BIN)/python -m pytest -q

run: $(STAMP)  ## run the bot for real (needs TELEGRAM_BOT_TOKEN)
	$(BIN)/houqin run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot handlers scheduler actions notices storage school devtools tests bench

messages: $(STAMP)  ## re-extract translatable strings and update the catalogs
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k t_ -o school/locales/houqin.pot --no-location --sort-output --no-wrap .
	$(BIN)/pybabel update -i school/locales/houqin.pot -d school/locales -D houqin --no-fuzzy-matching --no-wrap

lock:  ## re-pin the whole dependency tree after changing pyproject.toml
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
