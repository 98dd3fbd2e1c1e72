# The two commands of the README: `make demo` and `make test`. Each creates .venv when missing.
# `make run` installs only what the bot needs at run time (requirements.lock); the demo, the
# tests and the linters add the development tools (requirements-dev.lock, a superset).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.runtime

.PHONY: demo test run lint messages lock clean browser screenshots

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

COCKPIT_PORT ?= 8080

demo: $(STAMP)  ## play a scripted school against the local Bot API sandbox, then serve its cockpit
	$(BIN)/houqin demo --cockpit $(COCKPIT_PORT)

test: $(STAMP) browser  ## the whole suite (PostgreSQL tests skip when it is unreachable)
	$(BIN)/python -m pytest -q

# The cockpit's browser tests drive Debian's chromium (playwright downloads no browser).
# Installed when missing and apt-get can (as root, as in CI); otherwise those tests skip.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian's chromium for the cockpit's browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "chromium is not installed (sudo apt-get install chromium): the cockpit's browser tests will be skipped"; \
		fi; }

screenshots: $(STAMP) browser  ## the README's cockpit screenshots (docs/), with a CJK font
	@fc-list :lang=zh 2>/dev/null | grep -q . || apt-get install -y -qq fonts-wqy-microhei >/dev/null
	HOUQIN_SCREENSHOTS=docs $(BIN)/python -m pytest -q tests/test_cockpit_browser.py -k today

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
