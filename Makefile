# The README's commands. Each one sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
WEB_CONCURRENCY ?= 3
WEB_THREADS ?= 2
# pytest-xdist workers: one per core (`auto`), at most 8 (each has its own PostgreSQL database,
# SQLite files and Redis database, 15 down to 8); TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= auto
PYTEST_ARGS ?=
# make synth SYNTH_ARGS="--users 2000 --notes 10000 --interactions 100000"
SYNTH_ARGS ?=
export SPROUT_DATA_DIR ?= ./var

.PHONY: run test seed worker lint bench synth install clean translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall whenever the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	PORT=$(PORT) $(BIN)/flask --app app init
	$(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers $(WEB_CONCURRENCY) --threads $(WEB_THREADS) \
		--access-logfile - app.wsgi:app

test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxprocesses 8 $(PYTEST_ARGS)

seed: install
	$(BIN)/flask --app app init
	$(BIN)/flask --app app seed

worker: install
	$(BIN)/flask --app app worker

# Synthetic users, notes and interactions in the configured database (benchmarks/).
synth: install
	$(BIN)/flask --app app init
	$(BIN)/python benchmarks/synthetic_data.py $(SYNTH_ARGS)

# The console's messages: a fresh template to translate from, then every part's catalogue
# compiled (the .mo files are committed, so a fresh clone runs without this step).
translations: install
	$(BIN)/pybabel extract -F app/console/babel.cfg -k _l -o app/console/translations/messages.pot .
	for part in app/console/translations/*/; do $(BIN)/pybabel compile -d $$part -l zh; done

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# The feed serving path against its floor, in one run (benchmarks/feed_bench.py): needs
# PostgreSQL and Redis up; fills the database sprout_feed_bench once, uses Redis db 7.
# Writes nothing to the repo: it prints (and saves under /tmp/feed_bench/) a Markdown block to
# copy into docs/benchmarks.md. make bench BENCH_ARGS="--scale 10": 1M notes, jobs only.
bench: install
	$(BIN)/python benchmarks/feed_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
