# Two commands on a fresh machine: `make run` (demo server) and `make test` (whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT
RUN_STAMP := $(VENV)/.run-requirements
DEV_STAMP := $(VENV)/.dev-requirements
CATALOGS := $(wildcard web/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

.PHONY: run test setup setup-dev lint translations extract-messages clean-instance

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): requirements.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@ $(RUN_STAMP)

%.mo: %.po $(RUN_STAMP)
	$(BIN)/pybabel compile -i $< -o $@

translations: $(COMPILED)

setup: $(RUN_STAMP) translations

setup-dev: $(DEV_STAMP) translations

run: setup
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi demo load --if-empty
	$(BIN)/flask --app wsgi matcher indexer --once
	@$(BIN)/flask --app wsgi demo credentials
	@echo "Serving http://127.0.0.1:$(PORT)  (Ctrl-C stops)"
	exec $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

# The whole suite on SQLite, then every database-touching test again on PostgreSQL
# (a database created and dropped by the test session; without a server this half says
# plainly that it was not run, and fails under MATCHER_REQUIRE_ALL=1 as in .ci/run).
# Of tests/reliability, the crash-safety and backfill-worker tests follow --db; the harness
# and gunicorn-fork tests do not depend on the database and run in the SQLite half only.
PG_TESTS := tests/models tests/web tests/api tests/security \
	tests/reliability/test_crash_safety.py tests/reliability/test_backfill_workers.py

test: setup-dev
	$(BIN)/python -m pytest
	@echo "== PostgreSQL half: $(PG_TESTS) =="
	$(BIN)/python -m pytest --db postgresql $(PG_TESTS)

lint: setup-dev
	$(BIN)/ruff check .

extract-messages: setup-dev
	$(BIN)/pybabel extract -F babel.cfg -k _l -o web/translations/messages.pot .
	$(BIN)/pybabel update -i web/translations/messages.pot -d web/translations --no-fuzzy-matching
