# Two environments: .venv (pytest, the plugin, Keras 3 with TensorFlow, JAX and PyTorch) and
# .venv-mxnet (Keras-MXNet 2.2.4 + MXNet 1.9.1, run as a worker interpreter only).
PYTHON ?= python3
VENV := .venv
MXVENV := .venv-mxnet
# PyTorch's CPU build, from PyTorch's own index as PyTorch documents it: on Linux, PyPI's torch is
# a CUDA build of several GB. `make setup TORCH_INDEX=` takes PyPI's build instead (CUDA, for a GPU
# machine); machines that reach only PyPI, such as this project's CI (.ci/run), need it too.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

# An offline copy of the datasets, when this checkout has one beside it (this project's CI and
# development machines do); elsewhere the datasets are downloaded and verified into the cache.
SHARED_DATA := $(wildcard ../shared/datasets/nietzsche.txt)
ifneq ($(SHARED_DATA),)
export RNNBENCH_DATA_DIR ?= $(abspath ../shared/datasets)
endif

.PHONY: bench test lint setup clean-venvs

bench: setup  ## the benchmark suite on its default matrix
	$(VENV)/bin/python -m pytest --rnnbench $(ARGS)

test: setup lint  ## the project's own tests, after the linters
	$(VENV)/bin/python -m pytest $(ARGS)

lint: $(VENV)/.installed  ## ruff (lint and format) and mypy; the import layers are a test
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

setup: $(VENV)/.installed $(MXVENV)/.installed

$(VENV)/.installed: requirements/dev.txt requirements/history.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q torch==2.13.0$(if $(TORCH_INDEX), --index-url $(TORCH_INDEX))
	$(VENV)/bin/python -m pip install -q -r requirements/dev.txt
	$(VENV)/bin/python -m pip install -q --no-deps -r requirements/history.txt
	$(VENV)/bin/python -m pip install -q --no-deps -e .
	touch $@

$(MXVENV)/.installed: requirements/mxnet.txt
	$(PYTHON) -m venv $(MXVENV)
	$(MXVENV)/bin/python -m pip install -q --upgrade pip
	$(MXVENV)/bin/python -m pip install -q -r requirements/mxnet.txt
	touch $@

clean-venvs:
	rm -rf $(VENV) $(MXVENV)
