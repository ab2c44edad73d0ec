# Speech emotion & gender workbook -- `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Parameters of the workbook (passed to every notebook that declares them)
DATASET ?= auto
SOURCE  ?=
PROFILE ?= full
NB      ?=
SCHEDULER ?=
CORPUS  ?=
CORPUS_DIR ?=
# make report: the executed notebooks of a union run, timed beside a one-corpus run's (default: outputs/notebooks)
UNION_NOTEBOOKS ?=
BASE_NOTEBOOKS ?=
# SOURCE: a path (made absolute by the runner), a URL, or ravdess=PATH,cremad=PATH for several corpora
RUN_ARGS = --dataset $(DATASET) --profile $(PROFILE) $(if $(SOURCE),--source "$(SOURCE)") \
           $(if $(SCHEDULER),--scheduler "$(SCHEDULER)") \
           $(if $(CORPUS),--corpus $(CORPUS)) $(if $(CORPUS_DIR),--corpus-dir "$(abspath $(CORPUS_DIR))")

.PHONY: help setup all notebook report test test-unit test-unit-browser test-notebooks test-refs test-browser chromium lab serve lock clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'
	@echo "  Parameters: DATASET=auto|ravdess|cremad|ravdess+cremad|synthetic SOURCE=<url|zip|folder> or ravdess=<path>,cremad=<path>"
	@echo "              PROFILE=full|quick NB=<notebook>"
	@echo "              SCHEDULER=local:N|tcp://host:8786 (Dask; default: local processes)"
	@echo "              CORPUS=emodb|tess|cremad|savee|csv CORPUS_DIR=<folder or list> (notebook 08, cross-corpus)"

requirements.txt: environment.yml tools/requirements_from_env.py
	$(PYTHON) tools/requirements_from_env.py environment.yml > $@.tmp && mv $@.tmp $@

setup: $(STAMP) ## Build .venv with the pinned packages (idempotent, seconds when nothing changed)

$(STAMP): requirements.txt requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.txt -c requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -c "from speechemo.features.extraction import warm_up; warm_up()"  # numba's cache, written once
	@touch $@
	@echo "environment ready in $(VENV)"

all: setup ## Run every notebook in order (papermill) into outputs/notebooks/
	$(BIN)/python -m speechemo.workbook.runner $(RUN_ARGS)

notebook: setup ## Run one notebook: make notebook NB=03 (other parameters as for all)
	@test -n "$(NB)" || { echo "usage: make notebook NB=03_classical_baselines"; exit 2; }
	$(BIN)/python -m speechemo.workbook.runner $(RUN_ARGS) --only "$(NB)"

report: setup ## Write the README's generated tables from outputs/ (UNION_NOTEBOOKS=<run>/outputs/notebooks: a union run's times)
	$(BIN)/python -m speechemo.deployment.report --summary outputs/results/summary.csv --readme README.md \
	  $(if $(UNION_NOTEBOOKS),--union-notebooks "$(UNION_NOTEBOOKS)") $(if $(BASE_NOTEBOOKS),--baseline-notebooks "$(BASE_NOTEBOOKS)")

# Two jobs side by side, each pinned to its own half of the cores (tools/split_cores.py): the
# notebooks are the long job; unpinned, both jobs size their thread pools for every core and slow
# each other down.
test: setup ## Every notebook once under nbval (quick profile, synthetic corpus) beside the unit tests, then the browser test
	$(BIN)/python tools/split_cores.py -- "$(MAKE) --no-print-directory test-notebooks" \
	    "$(MAKE) --no-print-directory test-unit-browser"

# Unit and browser tests in one pytest session: the session fixtures (the synthetic corpus, the exported
# bundle with its two TFLite conversions) are built once for both (two sessions built the bundle twice).
test-unit-browser: setup chromium
	$(BIN)/python -m pytest -q tests

test-unit: setup ## pytest on the helper package
	$(BIN)/python -m pytest -q -m "not browser" tests

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

TEST_RUN := outputs/test-run
NB_REFS  := tests/notebook_refs
QUICK_RUN = --dataset synthetic --profile quick --actors 6 --data-dir data/test-run --outputs-dir $(TEST_RUN) \
            --corpus emodb --corpus-dir data/test-run/emodb-layout --synthetic-corpus
test-notebooks: setup ## nbval executes every notebook once (quick profile, synthetic corpus) against tests/notebook_refs
	$(BIN)/python -m speechemo.workbook.runner $(QUICK_RUN) --prepare
	TQDM_DISABLE=1 $(BIN)/python -m pytest -q -p no:cacheprovider --nbval \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout 600 $(NB_REFS)

test-refs: setup ## Regenerate tests/notebook_refs from a quick synthetic run (review the diff, then commit)
	rm -rf $(TEST_RUN)/notebooks
	$(BIN)/python -m speechemo.workbook.runner $(QUICK_RUN)
	$(BIN)/python tools/notebook_refs.py $(TEST_RUN)/notebooks $(NB_REFS)

test-browser: setup chromium ## Real browser test of the web app (installs Debian chromium if missing)
	$(BIN)/python -m pytest -q -m browser tests

lab: setup ## Open the workbook in JupyterLab
	$(BIN)/jupyter lab --notebook-dir=.

serve: setup ## Serve the exported bundle (outputs/deploy) on http://127.0.0.1:5000
	$(BIN)/speechemo-serve --bundle outputs/deploy --port 5000

lock: ## Refresh requirements.lock (full pinned set) from a fresh install of requirements.txt
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet -r requirements.txt
	.venv-lock/bin/python -m pip freeze --exclude-editable | grep -v '^speechemo' > requirements.lock
	rm -rf .venv-lock

clean: ## Remove outputs/ and caches (keeps data/ downloads and .venv)
	rm -rf outputs/notebooks outputs/figures outputs/results outputs/deploy $(TEST_RUN) data/features data/test-run
