# Two commands set up everything on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config.yaml
STAMP  := $(VENV)/.installed

.PHONY: setup run test lint bench check clean messages web screenshots

# Re-install only when the dependency lists change.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/monitor --config $(CONFIG) db upgrade
	$(BIN)/monitor --config $(CONFIG) seeds import
	exec $(BIN)/monitor --config $(CONFIG) run

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check monitor tests bench
	$(BIN)/mypy

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python bench/run.py

# The interface's words: extract the message ids, merge them into the Chinese catalogue, compile.
# Translate the new empty msgstr entries in monitor/i18n/locale/zh_CN/LC_MESSAGES/monitor.po, then
# run this again; tests/i18n checks that every message has its Chinese.
LOCALE := monitor/i18n/locale
messages: setup
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k ngettext:1,2 --no-location --sort-output \
		--project monitor --omit-header -o $(LOCALE)/monitor.pot . >/dev/null
	$(BIN)/pybabel update -D monitor -i $(LOCALE)/monitor.pot -d $(LOCALE) --no-fuzzy-matching \
		--ignore-obsolete
	$(BIN)/pybabel compile -D monitor -d $(LOCALE) --statistics

# The README's pictures of the web view, taken by the browser test (needs /usr/bin/chromium).
screenshots: setup
	MONITOR_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/web/test_browser.py tests/mail/test_phone.py

web: setup
	$(BIN)/monitor --config $(CONFIG) db upgrade
	exec $(BIN)/monitor --config $(CONFIG) web

check: setup
	$(BIN)/monitor --config $(CONFIG) check

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache
