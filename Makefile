# Two environments: .venv (pytest, the plugin, Keras 3 with TensorFlow, JAX and PyTorch) and
# .venv-mxnet (Keras-MXNet 2.2.4 + MXNet 1.9.1, run as a worker interpreter only).
VENV := .venv
MXVENV := .venv-mxnet
# PyTorch's CPU build, from PyTorch's own index as PyTorch documents it: on Linux, PyPI's torch is
# a CUDA build of several GB. `make setup TORCH_INDEX=` takes PyPI's build instead (CUDA, for a GPU
# machine); machines that reach only PyPI, such as this project's CI (.ci/run), need it too.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
# The torch requirement of requirements/dev.txt, the one place its version is written: installed
# first from TORCH_INDEX, it is then already satisfied when the rest is installed from PyPI.
TORCH_PIN := $(shell grep -E '^torch[=<>~]' requirements/dev.txt)

# The interpreters each environment can be built with. .venv: the pinned scipy, jaxlib and
# matplotlib (requirements/dev.txt) have no wheels for 3.10. .venv-mxnet: MXNet 1.9.1 needs
# numpy<2, which has no wheels for 3.13.
VENV_VERSIONS := 3.11 3.12 3.13
MXVENV_VERSIONS := 3.10 3.11 3.12
# Where to look when PYTHON (for .venv) or MXNET_PYTHON (for .venv-mxnet) is not given: python3
# first, then the versioned names that python.org, Debian/Ubuntu and pyenv install.
CANDIDATES := python3 python3.12 python3.11 python3.13 python3.10

# "3.12 /usr": an interpreter's version and installation (sys.base_prefix, the same for a venv's
# python and the Python that made it); empty when it does not run.
IDENTITY := -c 'import sys; print("%d.%d" % sys.version_info[:2], sys.base_prefix)'
identity = $(shell $(1) $(IDENTITY) 2>/dev/null)
# The first of the commands $(2) whose version is one of $(1).
find_python = $(firstword $(foreach c,$(2),$(if $(filter $(1),$(firstword $(call identity,$(c)))),$(c))))
# Non-empty when two strings differ.
differ = $(or $(subst $(1),,$(2)),$(subst $(2),,$(1)))

ifeq ($(origin PYTHON),undefined)
PYTHON := $(call find_python,$(VENV_VERSIONS),$(CANDIDATES))
endif
ifeq ($(origin MXNET_PYTHON),undefined)
MXNET_PYTHON := $(call find_python,$(MXVENV_VERSIONS),$(PYTHON) $(CANDIDATES))
endif

# An environment is rebuilt from scratch when it never finished (no stamp: half-built) or when it
# was made by another interpreter than the one chosen now (or its interpreter is gone). Otherwise
# a changed requirements file updates it in place. The stamp is written last, naming its Python.
VENV_STALE := $(if $(wildcard $(VENV)/.installed),$(call differ,$(call identity,$(VENV)/bin/python),$(call identity,$(PYTHON))),yes)
MXVENV_STALE := $(if $(wildcard $(MXVENV)/.installed),$(call differ,$(call identity,$(MXVENV)/bin/python),$(call identity,$(MXNET_PYTHON))),yes)

# A recipe line that stops, saying what to do, when interpreter $(1) (variable $(2)) is not one of
# the versions $(3) that environment $(4) needs.
comma := ,
space := $() $()
check_python = @$(if $(filter $(3),$(firstword $(call identity,$(1)))),:,echo "make: $(4) needs Python $(subst $(space),/,$(3)); $(if $(1),$(2)=$(1) is $(or $(firstword $(call identity,$(1))),no Python that runs),none of $(CANDIDATES) is one). Install one$(comma) or name it: make $(or $(MAKECMDGOALS),bench) $(2)=/path/to/python$(word 2,$(3))" >&2; exit 1)

# An offline copy of the datasets, when this checkout has one beside it (this project's CI and
# development machines do); elsewhere the datasets are downloaded and verified into the cache.
SHARED_DATA := $(wildcard ../shared/datasets/nietzsche.txt)
ifneq ($(SHARED_DATA),)
export RNNBENCH_DATA_DIR ?= $(abspath ../shared/datasets)
endif

.PHONY: bench test lint setup clean-venvs python-info FORCE

bench: setup  ## the benchmark suite on its default matrix
	$(VENV)/bin/python -m pytest --rnnbench $(ARGS)

test: setup lint  ## the project's own tests, after the linters
	$(VENV)/bin/python -m pytest $(ARGS)

lint: $(VENV)/.installed  ## ruff (lint and format) and mypy; the import layers are a test
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

setup: $(VENV)/.installed $(MXVENV)/.installed

$(VENV)/.installed: requirements/dev.txt requirements/history.txt pyproject.toml $(if $(VENV_STALE),FORCE)
	$(call check_python,$(PYTHON),PYTHON,$(VENV_VERSIONS),$(VENV))
	$(if $(VENV_STALE),rm -rf $(VENV) && $(PYTHON) -m venv $(VENV))
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q "$(TORCH_PIN)"$(if $(TORCH_INDEX), --index-url $(TORCH_INDEX))
	$(VENV)/bin/python -m pip install -q -r requirements/dev.txt
	$(VENV)/bin/python -m pip install -q --no-deps -r requirements/history.txt
	$(VENV)/bin/python -m pip install -q --no-deps -e .
	$(VENV)/bin/python $(IDENTITY) > $@

$(MXVENV)/.installed: requirements/mxnet.txt $(if $(MXVENV_STALE),FORCE)
	$(call check_python,$(MXNET_PYTHON),MXNET_PYTHON,$(MXVENV_VERSIONS),$(MXVENV))
	$(if $(MXVENV_STALE),rm -rf $(MXVENV) && $(MXNET_PYTHON) -m venv $(MXVENV))
	$(MXVENV)/bin/python -m pip install -q --upgrade pip
	$(MXVENV)/bin/python -m pip install -q -r requirements/mxnet.txt
	$(MXVENV)/bin/python $(IDENTITY) > $@

python-info:  ## which interpreters the environments are (or would be) built with
	@echo "$(VENV): PYTHON=$(PYTHON) ($(or $(call identity,$(PYTHON)),none)); $(if $(VENV_STALE),to build,built)"
	@echo "$(MXVENV): MXNET_PYTHON=$(MXNET_PYTHON) ($(or $(call identity,$(MXNET_PYTHON)),none)); $(if $(MXVENV_STALE),to build,built)"

clean-venvs:
	rm -rf $(VENV) $(MXVENV)

FORCE:
