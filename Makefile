# The README's commands. Each one sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
WEB_CONCURRENCY ?= 3
WEB_THREADS ?= 2
export SPROUT_DATA_DIR ?= ./var

.PHONY: run test seed worker lint bench synth install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall whenever the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/flask --app app init
	$(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers $(WEB_CONCURRENCY) --threads $(WEB_THREADS) \
		--access-logfile - app.wsgi:app

test: install
	$(BIN)/python -m pytest

seed: install
	$(BIN)/flask --app app init
	$(BIN)/flask --app app seed

worker: install
	$(BIN)/flask --app app worker

synth: install
	$(BIN)/flask --app app init
	$(BIN)/flask --app app synth

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Benchmarks write nothing to the repo; copy their tables into docs/benchmarks.md.
bench: install
	$(BIN)/python benchmarks/api_load.py
	rm -f $(SPROUT_DATA_DIR)/bench-synthetic.db
	$(BIN)/python benchmarks/synthetic_data.py --database-url sqlite:///$(SPROUT_DATA_DIR)/bench-synthetic.db \
		--users 2000 --notes 10000 --interactions 100000

clean:
	rm -rf $(VENV) var .pytest_cache
