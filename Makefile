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

demo: $(STAMP)
	$(BIN)/python -m endorse.demo

test: $(STAMP)
	scripts/ensure-system-deps
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

bench: $(STAMP)
	scripts/ensure-system-deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var
