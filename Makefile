# newsmon: `make run` (poll + digest on the embedded default), `make test` (the whole suite).
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
VENV := .venv
NEWSMON := $(VENV)/bin/newsmon

.PHONY: setup run test lint bench clean

$(UV):
	python3 -m pip install --user --quiet uv

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

setup: $(VENV)/.synced

run: setup
	$(NEWSMON) init
	$(NEWSMON) run

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest

lint: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: setup
	@for b in bench/*.py; do [ -e "$$b" ] || continue; echo "== $$b"; $(VENV)/bin/python "$$b" || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build
