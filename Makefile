# Two commands matter: `make serve` (the dashboard on 127.0.0.1:8000) and `make test` (everything CI runs).
# Both install what they need from nothing; the virtualenv is rebuilt when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test lint check bench bench-load install install-test system-deps clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	@# compile the engine's kernels into numba's cache, under both names the code is imported by
	$(BIN)/python -c "import app.engine.warm" & pid=$$!; $(BIN)/python -c "import initscope.engine.warm" && wait $$pid
	touch $@

# PyTorch (CPU build) for the tests' comparisons with autograd, only where pip finds a wheel of it
# without downloading one (its find-links): elsewhere those tests skip, since PyPI's torch would
# be a CUDA build of several GB.
TORCH ?= 2.13.0

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	@if $(BIN)/pip install --quiet --no-index --no-deps torch==$(TORCH) 2>/dev/null; then \
		$(BIN)/pip install --quiet torch==$(TORCH); \
	else echo "PyTorch $(TORCH) is not at hand without a download: the comparisons with autograd will skip"; fi
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test system-deps

# Debian's Chromium drives the browser tests (never `playwright install`).
system-deps:
	@bash scripts/install-system-deps.sh

WORKERS ?= 1
serve: install
	$(BIN)/initscope serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: install-test lint
	$(BIN)/pytest

bench: install
	$(BIN)/python -m bench.engine_bench

# The server under load (wrk on loopback): /healthz, a cached and an uncached experiment.
bench-load: install-test
	@bash scripts/install-system-deps.sh wrk
	$(BIN)/python -m bench.load_bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-results
	find app -name '*.nb[ic]' -delete  # numba's cached kernels (stale ones stay until then)

# The Docker image, built from the Dockerfile with Debian's buildah: no Docker engine needed
# (scripts/build-image.sh; `docker build -t initscope .` builds the same image where Docker runs).
IMAGE ?= localhost/initscope:latest
.PHONY: image
image:
	@bash scripts/install-system-deps.sh buildah debootstrap debian-archive-keyring fuse-overlayfs iproute2
	bash scripts/build-image.sh $(IMAGE)
