# Two commands: `make demo` (the main job) and `make test` (the tests). Both set up .venv on first use.
VENV ?= .venv
BIN := $(VENV)/bin
export MUJOCO_GL ?= egl
export PYTHONUNBUFFERED := 1

.PHONY: setup demo test lint bench doctor clean

setup:
	@bash scripts/setup_env.sh

demo: setup
	$(BIN)/spatial-ros demo

doctor: setup
	$(BIN)/spatial-ros doctor

lint: setup
	$(BIN)/ruff check .

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build install log .pytest_cache .ruff_cache
