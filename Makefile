# clock-gateway: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Two stamps in one venv: the demo needs the project alone, the tests its dev extra too
# (ruff, mypy, pytest, selenium...), which takes most of the first run's time.
STAMP      := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: all demo test lint typecheck pytest bench tools firmware clean install uninstall check-venv

all: test

# Debian ships venv support apart from python3: say so in one line instead of failing late.
check-venv:
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || \
	  { echo "python3-venv is missing: sudo apt-get install python3-venv" >&2; exit 1; }

# The venv is refreshed only when the dependency list changes.
$(DEMO_STAMP): pyproject.toml | check-venv
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(STAMP): pyproject.toml | check-venv
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@ $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/clock-gateway demo

# The system tools first: python3-venv, for one, is needed to make the venv.
test: tools $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench

# The system packages the tests need: installed when missing (apt-get, through sudo
# when not root), listed in .ci/install-tools.
tools:
	@bash .ci/install-tools

firmware:
	$(MAKE) -C firmware

# The service, the PEP 668 way: its own venv under /opt/clock-gateway (scripts/install.sh
# says what goes where). Run again to upgrade in place; uninstall keeps config and data.
# DESTDIR= installs into a scratch root; PREFIX= moves the venv.
# The scripts read these from the environment; unset or empty means the default.
export DESTDIR PREFIX BINDIR UNITDIR UDEVDIR SYSCONFDIR STATEDIR DOCDIR SERVICE_USER
# The service's venv is made with Debian's /usr/bin/python3 (install.sh), not with the
# python3 first on PATH that the developer's .venv uses; PYTHON= only when given.
INSTALL_PYTHON := $(if $(filter command line environment,$(origin PYTHON)),$(PYTHON))

install:
	@PYTHON='$(INSTALL_PYTHON)' bash scripts/install.sh

uninstall:
	@bash scripts/uninstall.sh

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
	-$(MAKE) -C firmware clean
