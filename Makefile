# latentatlas developer entry points. `make explore` and `make test` are the README quick start.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.latentatlas-installed

.PHONY: setup explore test test-fast lint bench browser browser-deps studio clean

# torch is pinned to the CPU wheel first so that pip never resolves the range in pyproject.toml
# to a multi-GB CUDA build; users elsewhere get any torch in the declared range.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

# The main job on the shipped default (celeba64 + predictor_celeba64): runs/explore/report.html.
explore: $(STAMP)
	$(VENV)/bin/latentatlas explore --out runs/explore

# The studio's real-browser test runs where the Makefile can install Debian's chromium and the
# Playwright driver (root and Debian's registry, as in CI); elsewhere it skips with a message.
test: $(STAMP) browser-deps
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" -x

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

# The real-browser test of the studio (tests/test_studio_browser.py; skipped without these):
# Debian's chromium (no browser download by Playwright) and the Playwright driver.
browser: browser-deps
	$(PY) -m pytest -q tests/test_studio_browser.py

# Best effort (a leading '-': a machine without root or apt keeps going; the test then skips).
browser-deps: $(STAMP)
	-command -v chromium >/dev/null 2>&1 || (timeout 600 apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq chromium >/dev/null)
	-$(PY) -c "import playwright" 2>/dev/null || \
	    timeout 900 $(PY) -m pip install -q -e ".[studio,browser]"

# The browser editor on http://127.0.0.1:7860/ (directions from `make explore`).
studio: $(STAMP)
	$(PY) -m pip install -q -e ".[studio]"
	$(VENV)/bin/latentatlas studio --model celeba64 \
	    --directions runs/explore/directions/boundaries.safetensors

clean:
	rm -rf runs .pytest_cache
