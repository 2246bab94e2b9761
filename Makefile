# `make test` and `make demo` work on a fresh clone: both build .venv first when needed.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The local package mirrors print one warning per missing index page; keep real errors visible.
PIP_QUIET := { grep -v -e "is ignored: it is neither a file nor a directory" || true; }

.PHONY: setup test lint demo bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[train,evaluate,dev]' 2>&1 | $(PIP_QUIET)
	$(PY) -c "import luab_hf, torch, torchvision, transformers, datasets, accelerate, timm"
	touch $(STAMP)

test: setup
	$(PY) -m pytest -n 2 --dist worksteal -q --durations=15

lint: setup
	$(VENV)/bin/ruff check luab_hf dataset_scripts training tests bench

demo: setup
	$(PY) training/demo.py --output demo_output

bench: setup
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) demo_output .pytest_cache
