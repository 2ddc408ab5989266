# The two commands: `make run` (demo on http://127.0.0.1:$PORT) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The demo: DEBUG on, a SQLite file and in-process tasks unless DATABASE_URL / REDIS_URL say otherwise.
DEMO_ENV := DEBUG=$${DEBUG:-true}
DEMO_ACCOUNTS ?= 400
DEMO_DAYS ?= 365

.PHONY: run test install migrate seed lint format typecheck bench load clean

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

# Load test of a server already running on LOAD_HOST (e.g. gunicorn on the 50,000-account
# database): LOAD_USERS users spawned 10 a second, headless, stopped after LOAD_TIME; prints
# p50/p95/p99 per page. Run it with that server's DATABASE_URL: it issues the API user's
# token there unless LOAD_API_TOKEN is set.
LOAD_HOST ?= http://127.0.0.1:8899
LOAD_TIME ?= 2m
LOAD_USERS ?= 50
LOAD_TOKEN_CODE := from accounts.models import User; from accounts.services.api_tokens import api_token_create; print(api_token_create(user=User.objects.get(username='manager'), name='load test')[1])
load: install
	LOAD_API_TOKEN="$${LOAD_API_TOKEN:-$$($(DEMO_ENV) $(BIN)/python manage.py shell -v 0 -c "$(LOAD_TOKEN_CODE)")}" \
	$(BIN)/locust -f tests/load/locustfile.py --headless --only-summary -H $(LOAD_HOST) \
		-u $(LOAD_USERS) -r 10 --run-time $(LOAD_TIME) --stop-timeout 10

clean:
	rm -rf $(VENV) staticfiles db.sqlite3
