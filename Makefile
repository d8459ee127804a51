# Basalt host build and tests. On a fresh machine (python3 >= 3.11, node >= 18, make),
# `make test` and `make sim` set everything up themselves (the full pinned set);
# `make deploy` and `make vboard` install only the deploy set (requirements/deploy.txt).
#
#   make test      lint, compile (mpy-cross), pytest (includes the MicroPython lane)
#   make sim       run the simulator (SIM_ARGS="..." to pass arguments)
#   make bench     delivery benchmark, JSON output
#   make deploy    install on a board: BOARD=pico_w PORT=/dev/ttyACM0 [SETTINGS=f.json] [MIP=0]
#                  [STOP_THERAPY=1: a delivering pump is suspended and resumed, not refused]
#                  [ROMFS=1: basalt/ into the board's ROMFS partition, where it has one]
#                  [LINES=1: keep line numbers in tracebacks, about 8 KB more heap]
#   make vboard    start the virtual board (MicroPython in WebAssembly behind a pty)
#   make web       Basalt in a browser: build web/ into build/web and serve it on localhost
#   make setup     only create .venv (full set) and node_modules
#   make clean     remove build outputs and caches (make distclean also drops .venv, node_modules)

SHELL := /bin/bash
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV := .venv
# pip itself is pinned like everything in requirements.txt and requirements/
PIP_VERSION := 26.3
PY := $(VENV)/bin/python
LINT_DIRS := firmware boards host_tests tools
SIM_ARGS ?=
# firmware/ on the path for the host tools (`import basalt`), as conftest.py does for tests.
RUN_TOOL := PYTHONPATH=firmware$${PYTHONPATH:+:$$PYTHONPATH} $(PY) -m

.PHONY: all setup test lint compile pytest sim bench deploy vboard web clean distclean

all: test

# --- environment --------------------------------------------------------------

# Two pinned sets in one venv, each with its stamp: the full set (requirements.txt, for
# test/sim/bench) includes the deploy set (requirements/deploy.txt, for deploy/vboard),
# so building it stamps both. The deploy stamp keeps a venv that already has the deploy
# pins at their versions (tools/reqsets.py checks); otherwise it builds a deploy-only
# venv, which a later `make test` replaces with the full one.
REQ_DEPLOY := requirements/deploy.txt
REQ_FULL := requirements.txt $(REQ_DEPLOY) requirements/pi.txt
# Shell: a new $(VENV) with exactly the set $(1) installed, then touch $(2).
new_venv = $(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "need python3 >= 3.11, found " + sys.version.split()[0])' && \
	rm -rf $(VENV) && \
	{ $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "python3 -m venv failed; on Debian/Ubuntu: sudo apt-get install python3-venv" >&2; exit 1; }; } && \
	$(PY) -m pip install --quiet --disable-pip-version-check "pip==$(PIP_VERSION)" && \
	$(PY) -m pip install --quiet --disable-pip-version-check -r $(1) && \
	touch $(2)

$(VENV)/.stamp: $(REQ_FULL)
	@echo "== setup: python venv ($(VENV)), full set (requirements.txt) =="
	$(call new_venv,requirements.txt,$(VENV)/.stamp-deploy $@)

$(VENV)/.stamp-deploy: $(REQ_DEPLOY)
	@if [ -x $(PY) ] && $(PY) tools/reqsets.py --installed $(REQ_DEPLOY) >/dev/null 2>&1; then \
	  touch $@; \
	else \
	  echo "== setup: python venv ($(VENV)), deploy set ($(REQ_DEPLOY)) =="; \
	  $(call new_venv,$(REQ_DEPLOY),$@); \
	fi

node_modules/.stamp: package.json package-lock.json
	@echo "== setup: node modules (npm ci) =="
	@node -e 'const m = +process.versions.node.split(".")[0]; if (m < 18) { console.error("need node >= 18, found " + process.versions.node); process.exit(1); }'
	@command -v npm >/dev/null || { echo "npm not found; on Debian/Ubuntu: sudo apt-get install npm" >&2; exit 1; }
	npm ci --no-audit --no-fund
	touch $@

setup: $(VENV)/.stamp node_modules/.stamp

# --- test lanes ---------------------------------------------------------------
# `make test` runs every lane even if an earlier one fails, then fails if any failed.

test: setup
	@failed=""; \
	for lane in lint compile pytest; do \
	  $(MAKE) --no-print-directory $$lane || failed="$$failed $$lane"; \
	done; \
	if [ -n "$$failed" ]; then echo; echo "== FAILED lanes:$$failed =="; exit 1; fi; \
	echo; echo "== all lanes passed: lint compile pytest =="

lint: $(VENV)/.stamp
	@echo; echo "== lane: lint (ruff check $(LINT_DIRS)) =="
	$(PY) -m ruff check $(LINT_DIRS)

compile: $(VENV)/.stamp
	@echo; echo "== lane: compile (mpy-cross firmware boards tools/cgm_peripheral tools/vpatient -> build/mpy) =="
	$(PY) tools/mpy_compile.py --out build/mpy firmware boards tools/cgm_peripheral tools/vpatient

pytest: setup
	@echo; echo "== lane: pytest (host_tests, includes the MicroPython lane) =="
	$(PY) -m pytest -q host_tests

# --- tools --------------------------------------------------------------------

sim: setup
	$(RUN_TOOL) tools.sim $(SIM_ARGS)

bench: setup
	$(RUN_TOOL) tools.bench delivery --json

# --- boards -------------------------------------------------------------------
# The venv's bin first, so the pinned mpremote is the one used.

BOARD ?=
PORT ?=
SETTINGS ?=
MIP ?= 1
MIP_INDEX ?=
ROMFS ?= 0
LINES ?= 0
VBOARD_ARGS ?=

deploy: $(VENV)/.stamp-deploy
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(RUN_TOOL) tools.deploy --board "$(BOARD)" \
	  --port "$(PORT)" --settings "$(SETTINGS)" $(if $(filter 0,$(MIP)),--no-deps) \
	  $(if $(MIP_INDEX),--index "$(MIP_INDEX)") $(if $(filter 1,$(STOP_THERAPY)),--stop-therapy) \
	  $(if $(filter 1,$(ROMFS)),--romfs) $(if $(filter 1,$(LINES)),--lines)

vboard: $(VENV)/.stamp-deploy node_modules/.stamp
	$(RUN_TOOL) tools.vboard $(VBOARD_ARGS)

WEB_ARGS ?=
web: $(VENV)/.stamp node_modules/.stamp
	$(RUN_TOOL) tools.web $(WEB_ARGS)

# --- housekeeping -------------------------------------------------------------

clean:
	rm -rf build out .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -not -path './.venv/*' -not -path './node_modules/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) node_modules .hypothesis
