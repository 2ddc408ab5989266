# The two commands: `make run` (demo on http://127.0.0.1:$PORT) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The demo: DEBUG on, a SQLite file and in-process tasks unless DATABASE_URL / REDIS_URL say otherwise.
DEMO_ENV := DEBUG=$${DEBUG:-true}
DEMO_ACCOUNTS ?= 400
DEMO_DAYS ?= 365

.PHONY: run test install migrate seed lint format typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstalled whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

install: $(VENV)/.installed

migrate: install
	$(DEMO_ENV) $(BIN)/python manage.py migrate --noinput

seed: migrate
	$(DEMO_ENV) $(BIN)/python manage.py seed_demo --if-empty --accounts $(DEMO_ACCOUNTS) --days $(DEMO_DAYS)

run: seed
	@echo "Serving on http://127.0.0.1:$(PORT)  (logins: admin, manager, csm, exec; password: demo)"
	$(DEMO_ENV) $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	$(BIN)/mypy .

clean:
	rm -rf $(VENV) staticfiles db.sqlite3
