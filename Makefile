# lrlab — one command each on a fresh clone: `make demo`, `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lrlab-installed
FMNIST := /usr/share/datasets/fashion-mnist
# torch first, pinned: this CPU build is on the machine's disk; a looser spec pulls a CUDA build.
TORCH_PIN ?= torch==2.13.0
EXTRAS ?= dev,torch,keras,jax,ray,pandas,tensorboard,schedulefree
export KERAS_BACKEND ?= torch
# Keep the numerical libraries at the machine's two cores.
export OMP_NUM_THREADS ?= 2

.PHONY: setup data demo test test-fast lint bench clean help

help:
	@echo "make setup   create $(VENV) and install lrlab with its test extras"
	@echo "make demo    the chapter's demo (see README)"
	@echo "make test    lint and the whole test suite"
	@echo "make lint    ruff and mypy on src/"
	@echo "make bench   benchmarks"

setup: $(STAMP) data

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_PIN)"
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

# Debian ships Fashion-MNIST; install it when we can (root on Debian) and it is missing.
data:
	@if [ ! -d "$(FMNIST)" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing dataset-fashion-mnist with apt-get"; \
		(apt-get install -y -q dataset-fashion-mnist || \
		 (apt-get update -q && apt-get install -y -q dataset-fashion-mnist)) >/dev/null \
		 || echo "warning: could not install dataset-fashion-mnist; lrlab will download the data instead"; \
	fi

# The chapter's five schedules trained on Fashion-MNIST: about 17 min on 2 idle cores (docs/experiments.md).
# --resume continues an interrupted demo, and only redraws the report of a finished one.
demo: setup
	$(BIN)/lrlab plot --preset chapter-schedules --grid --out out/demo/chapter-schedules.png
	@echo "the chapter's schedules: out/demo/chapter-schedules.png"
	$(BIN)/lrlab compare --preset chapter --out out/chapter --resume
	@echo "the chapter's experiments: out/chapter/report.html (and report.md)"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

test: setup lint
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -x -m "not slow"

bench: setup
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) out .mypy_cache .ruff_cache

# MXNet 1.9.1 imports only beside numpy<1.24 (Python 3.11), so its tests live in tests_mxnet/
# and run in their own venv; lrlab goes in without its other dependencies.
MXNET_VENV ?= .venv-mxnet
MXNET_STAMP := $(MXNET_VENV)/.lrlab-installed

$(MXNET_STAMP): pyproject.toml
	test -x $(MXNET_VENV)/bin/python || $(PYTHON) -m venv $(MXNET_VENV)
	$(MXNET_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MXNET_VENV)/bin/python -m pip install --quiet "numpy<1.24" mxnet==1.9.1 pytest
	$(MXNET_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $(MXNET_STAMP)

.PHONY: test-mxnet
test-mxnet: $(MXNET_STAMP)
	$(MXNET_VENV)/bin/python -m pytest -q tests_mxnet
