# Two commands matter: `make demo` and `make test`. Both bootstrap .venv/ themselves.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# One venv, two stamps: the product (what `make demo` and `make serve` need) and, on top of it, the
# test tools (`make test`, `make bench`). Switching between them never reinstalls what is there.
STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
PIP := $(BIN)/python -m pip install --disable-pip-version-check --progress-bar on -c constraints.txt
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_HOME := $(CURDIR)/var/prefect
export DO_NOT_TRACK := 1
# The data `make serve` and `make shell` look at: the demo's, unless told otherwise (DATA=var).
DATA ?= var/demo
PORT ?= 8000

.PHONY: demo test simulation bench venv clean lint serve shell

$(BIN)/python:
	@echo "[make] creating .venv/ (python3 -m venv)"
	@$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	@echo "[make] installing what endorse needs to run, every version pinned in constraints.txt (a few minutes the first time)"
	$(PIP) -e .
	@touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	@echo "[make] installing the test tools (pytest, Playwright, SciPy, hypothesis, ruff…)"
	$(PIP) -e '.[dev]'
	@touch $(DEV_STAMP)

venv: $(STAMP)

# Prefect creates its home but not the folders above it: a fresh clone has no var/.
PREFECT_DIR := var/prefect
$(PREFECT_DIR):
	@mkdir -p $@

demo: $(STAMP) | $(PREFECT_DIR)
	$(BIN)/python -m endorse_cli.demo

# Everything, the simulated year included (tests/simulation/test_year.py: its own xdist group, a few
# minutes on one of the two workers while the other runs the rest).
test: $(DEV_STAMP) | $(PREFECT_DIR)
	scripts/ensure-system-deps
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

# The simulated year alone (the small profile, fault-free and with faults).
simulation: $(DEV_STAMP) | $(PREFECT_DIR)
	scripts/ensure-system-deps
	$(BIN)/python -m pytest -q -n 0 -m simulation tests/simulation

bench: $(DEV_STAMP) | $(PREFECT_DIR)
	scripts/ensure-system-deps
	$(BIN)/python -m bench

# The web app on $(DATA) (the demo's data by default): the dashboard, rating and review links. Ctrl-C stops it.
serve: $(STAMP)
	@test -f $(DATA)/endorse.sqlite3 || test -n "$$DATABASE_URL" || { echo "[make] no data in $(DATA): run make demo first (or make serve DATA=var)"; exit 1; }
	@echo "[make] serving $(DATA): open http://127.0.0.1:$(PORT)/coordinator/ (Ctrl-C stops it)"
	@test ! -f $(DATA)/demo-account.txt || cat $(DATA)/demo-account.txt
	ENDORSE_DATA_DIR=$(CURDIR)/$(DATA) ENDORSE_PUBLIC_BASE_URL=http://127.0.0.1:$(PORT) $(BIN)/endorse serve --web-only --port $(PORT)

# A shell with endorse on the PATH, looking at $(DATA); `exit` leaves it.
shell: $(STAMP)
	@echo "[make] endorse is on the PATH here and looks at $(DATA) (ENDORSE_DATA_DIR); exit to leave"
	@ENDORSE_DATA_DIR=$(CURDIR)/$(DATA) bash --rcfile <(echo 'source ~/.bashrc 2>/dev/null; source $(BIN)/activate') -i

clean:
	rm -rf $(VENV) var
