# The two commands a new user needs: `make demo` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The demo's beat schedule and supervisord pid file (bench/soak.py points it at a scratch folder).
ODR_DEMO_VAR ?= var
# The demo's development settings, written once; settings read the same file (bench/soak.py points
# both at its scratch folder).
ODR_ENV_FILE ?= .env

.PHONY: demo test e2e lint messages install clean

## demo: install, migrate an SQLite database, seed demo data, then run the site, a Celery worker
## and beat together under supervisor (no server needed: filesystem broker); print the demo logins.
## A process that dies is started again; Ctrl-C stops all. `make demo PORT=8001` if 8000 is taken.
demo: install $(ODR_ENV_FILE)
	@$(BIN)/python -c 'import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("$(HOST)", $(PORT)))' 2>/dev/null \
		|| { echo "Port $(PORT) on $(HOST) is in use (another make demo?): stop it, or run make demo PORT=8001"; exit 1; }
	mkdir -p $(ODR_DEMO_VAR)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "Open http://$(HOST):$(PORT)/ — e-mails: http://$(HOST):$(PORT)/dev/mailbox/ — staff: /admin/. Ctrl-C stops."
	HOST=$(HOST) PORT=$(PORT) ODR_DEMO_VAR=$(abspath $(ODR_DEMO_VAR)) ODR_PUBLIC_URL=http://$(HOST):$(PORT) \
		exec $(BIN)/python -m odr.demo_launcher

## test: the whole suite (SQLite by default; set DATABASE_URL for PostgreSQL)
test: install
	$(BIN)/python -m pytest

## lint: ruff, formatting, migrations in step with the models
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run

## messages: extract translatable strings into locale/*/django.po, then compile them (needs gettext)
messages: install
	$(BIN)/python manage.py makemessages -l fr -l en --ignore=.venv --ignore=tests
	$(BIN)/python manage.py compilemessages --ignore=.venv

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# axe-core for the browser tests' accessibility checks (tests/e2e), from package-lock.json. Without
# npm (or without Debian's chromium) the browser tests skip and say why.
node_modules/.installed: package-lock.json
	if command -v npm >/dev/null; then npm ci --silent --no-audit --no-fund && touch $@; fi

## e2e: the browser tests only (Debian's chromium + axe-core); screenshots in artifacts/e2e/
e2e: install
	$(BIN)/python -m pytest -m e2e tests/e2e

# Development settings for the demo: debug on and a random secret key, never committed.
$(ODR_ENV_FILE):
	@printf 'DEBUG=1\nSECRET_KEY=%s\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > $@
	@echo "Wrote $@ (DEBUG=1, a random SECRET_KEY) for local development."

clean:
	rm -rf $(VENV) db.sqlite3 var .pytest_cache .ruff_cache
