# Two environments: .venv (pytest, the plugin, Keras 3 with TensorFlow, JAX and PyTorch) and
# .venv-mxnet (Keras-MXNet 2.2.4 + MXNet 1.9.1, run as a worker interpreter only).
PYTHON ?= python3
VENV := .venv
MXVENV := .venv-mxnet

.PHONY: bench test setup clean-venvs

bench: setup  ## the benchmark suite on its default matrix
	$(VENV)/bin/python -m pytest --rnnbench $(ARGS)

test: setup  ## the project's own tests
	$(VENV)/bin/python -m pytest $(ARGS)

setup: $(VENV)/.installed $(MXVENV)/.installed

$(VENV)/.installed: requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q torch==2.13.0
	$(VENV)/bin/python -m pip install -q -r requirements/dev.txt
	$(VENV)/bin/python -m pip install -q --no-deps -e .
	touch $@

$(MXVENV)/.installed: requirements/mxnet.txt
	$(PYTHON) -m venv $(MXVENV)
	$(MXVENV)/bin/python -m pip install -q --upgrade pip
	$(MXVENV)/bin/python -m pip install -q -r requirements/mxnet.txt
	touch $@

clean-venvs:
	rm -rf $(VENV) $(MXVENV)
