# Swiftcart: `make run` serves the demo shop, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
DEV_SMTP_PORT ?= 8025

TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test test-pg lint format bench clean translations translations-extract translations-init translations-update translations-check

PO_FILES := $(wildcard shop/translations/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.run-deps: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements.txt aiosmtpd==1.4.6
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

## run: the demo shop on http://127.0.0.1:5000, with a development mail server that
## keeps every email in instance/mail/ (and logs its subject)
run: $(VENV)/.run-deps translations
	$(FLASK) db upgrade
	$(FLASK) shop seed-demo
	@echo "Shop: http://127.0.0.1:5000   Emails: instance/mail/*.eml (development SMTP on :$(DEV_SMTP_PORT))"
	@$(BIN)/python tests/smtp_sink.py --port $(DEV_SMTP_PORT) --maildir instance/mail & sink=$$!; \
	trap 'kill $$sink 2>/dev/null' EXIT INT TERM; \
	MAIL_SERVER=127.0.0.1 MAIL_PORT=$(DEV_SMTP_PORT) $(FLASK) run --host 127.0.0.1 --port 5000

# axe-core for the browser tests' accessibility check (from the npm registry, if npm is here)
tests/browser/node_modules/.package-lock.json: tests/browser/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tests/browser --no-audit --no-fund --silent; \
	else echo "npm not found: browser tests will be skipped (they need axe-core)"; fi

## test: lint, then the whole test suite (browser tests run when Chromium is installed)
test: $(VENV)/.dev-deps tests/browser/node_modules/.package-lock.json translations
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

## test-pg: the whole test suite again, each test on its own PostgreSQL database
test-pg: $(VENV)/.dev-deps tests/browser/node_modules/.package-lock.json translations
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m pytest

## translations: compile every shop/translations/*/LC_MESSAGES/messages.po into its .mo
translations: $(MO_FILES)

shop/translations/%/LC_MESSAGES/messages.mo: shop/translations/%/LC_MESSAGES/messages.po | $(VENV)/.run-deps
	$(BIN)/pybabel compile --statistics -i $< -o $@

## translations-extract: every translatable string of the code and templates into messages.pot
translations-extract: $(VENV)/.run-deps
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--project=Swiftcart -o shop/translations/messages.pot .

## translations-init LANG=xx: start a new language from messages.pot
translations-init: translations-extract
	$(BIN)/pybabel init -i shop/translations/messages.pot -d shop/translations -l $(LANG)

## translations-update: merge messages.pot's new strings into every language (empty, to translate)
translations-update: translations-extract
	$(BIN)/pybabel update -i shop/translations/messages.pot -d shop/translations --no-fuzzy-matching --ignore-obsolete
	@echo "Now translate every empty msgstr in shop/translations/*/LC_MESSAGES/messages.po, then: make translations-check"

## translations-check: every string of the code and templates is in the German catalogue, translated
translations-check: $(VENV)/.dev-deps translations
	$(BIN)/python -m pytest -q tests/test_translations.py -k "translated or placeholder or missing"

lint: $(VENV)/.dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-deps
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

$(VENV)/.bench-deps: requirements.txt bench/requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r bench/requirements.txt
	touch $@

## bench: checkout latency and throughput under four SMTP scenarios, then the backlog drain
## (figures and charts for docs/performance.md; about 7 minutes)
bench: $(VENV)/.bench-deps
	$(BIN)/python bench/checkout.py
	$(BIN)/python bench/backlog.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
