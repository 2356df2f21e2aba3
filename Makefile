# The commands a newcomer needs: `make demo`, `make test` and `make lint`. Each builds .venv
# itself from nothing but python3 (3.11+).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-crash image-test deb-test powercut-test clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "textback needs Python 3.11 or newer")'
	@# Debian's python3 lacks ensurepip unless python3-venv is installed: then pip comes from PyPI.
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || $(PYTHON) .ci/bootstrap_venv.py $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/textback demo

test: $(STAMP)
	$(BIN)/python -m pytest

# The layers as import-linter contracts, ruff, and mypy on the pure modules, the links and the
# wiring (settings in pyproject.toml; the layers in docs/design.md).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# Each benchmark writes its own section of bench/RESULTS.md. The long crash run (~6 min) is apart.
bench: $(STAMP)
	$(BIN)/python bench/ring_to_text.py
	$(BIN)/python bench/phone_to_text.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/memory_daemon.py
	$(BIN)/python bench/year.py
	$(BIN)/python bench/leads_cold.py
	$(BIN)/python bench/fuzz_tracker.py

bench-crash: $(STAMP)
	$(BIN)/python bench/crash.py --kills 200
	$(BIN)/python bench/crash_phone.py --kills 200

# Opt-in, needs root: boots our .deb in a Debian trixie image under qemu with the installers'
# cards: good, broken, Notepad, empty template, read-only, a second card (deploy/image-test/README.md).
image-test:
	deploy/image-test/run

# Opt-in, needs root: our .deb in Debian trixie chroots: the owner's access, an upgrade from
# 0.1.0, a failed upgrade, the units' sandbox scores (deploy/image-test/README.md).
deb-test:
	deploy/image-test/chroot

# Opt-in, needs root and image-test's cached rootfs (about 12 min): 10 hard power cuts of a qemu
# guest running our .deb, the modem simulator on the host (deploy/image-test/README.md "powercut").
powercut-test: $(STAMP)
	PYTHON=$(abspath $(BIN))/python deploy/image-test/powercut

clean:
	rm -rf $(VENV) build *.egg-info
