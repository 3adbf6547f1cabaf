# Two commands matter: `make demo` and `make test`. Both bootstrap .venv/ themselves.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_HOME := $(CURDIR)/var/prefect
export DO_NOT_TRACK := 1

.PHONY: demo test bench venv clean lint

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# Prefect creates its home but not the folders above it: a fresh clone has no var/.
PREFECT_DIR := var/prefect
$(PREFECT_DIR):
	@mkdir -p $@

demo: $(STAMP) | $(PREFECT_DIR)
	$(BIN)/python -m endorse_cli.demo

test: $(STAMP) | $(PREFECT_DIR)
	scripts/ensure-system-deps
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

bench: $(STAMP) | $(PREFECT_DIR)
	scripts/ensure-system-deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var
