# The two entry points of the README. Both set up everything from nothing (venv, Python packages,
# the lab's Go-built binaries, cached under ~/.cache/fleet) and are safe to run again.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLEET := $(BIN)/fleet
LAB_DIR ?= $(HOME)/.local/state/fleet/lab
export FLEET_LAB_DIR := $(LAB_DIR)

.PHONY: demo test lint unit lab-test venv lab-build lab-up lab-down clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

lab-build: venv
	$(FLEET) lab build

# The main job on the embedded default: the example fleet (clusters/, overlays/) on a local lab with one
# real control plane per cluster of kind-config/.
demo: lab-build
	$(FLEET) lab up
	$(FLEET) clusters
	$(FLEET) sync --wait
	$(FLEET) status
	$(FLEET) lab hub

lab-down: venv
	$(FLEET) lab down

lint: venv
	$(BIN)/ruff check --no-cache fleet tests bench
	$(BIN)/ruff format --no-cache --check fleet tests bench
	$(BIN)/mypy fleet
	$(BIN)/lint-imports

# Everything that needs no lab (unit and security tests): a minute, no Go needed.
unit: venv
	$(BIN)/pytest -q -m "not lab" tests

# The dashboard's browser tests drive Debian's chromium (Playwright, from pip, downloads no browser).
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { echo "== installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Everything: lint, unit tests and the tests against real control planes (the lab starts itself).
test: lint lab-build browser
	@# pytest exits 5 when it collected no test: here that means the suite is broken, so say it and fail.
	$(BIN)/pytest -q tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; fi; exit $$rc

clean: lab-down
	rm -rf $(VENV)
