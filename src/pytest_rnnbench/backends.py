"""One home for what the controller knows about each backend: names, labels, the version key its
worker reports, its chart colour and how to install it.

Pure data, no imports: every layer may read it. The worker (run/worker/, a script that also runs
under Keras-MXNet's interpreter) cannot import the package and keeps its own per-backend classes;
what the two must agree on is the backend names and the version keys, checked by a unit test.
"""

from __future__ import annotations

from collections.abc import Mapping

# In the seed's column order; report tables and charts follow it.
BACKENDS = ("tensorflow", "jax", "torch", "mxnet")

# How reports name each backend.
LABELS: Mapping[str, str] = {
    "tensorflow": "TensorFlow",
    "jax": "JAX",
    "torch": "PyTorch",
    "mxnet": "MXNet",
}

# The key of the framework's own version in a worker result's "versions" (besides "keras").
VERSION_KEYS: Mapping[str, str] = {
    "tensorflow": "tensorflow",
    "jax": "jax",
    "torch": "torch",
    "mxnet": "mxnet",
}

# Line and bar colours of the charts (the seed used orange for TensorFlow, blue for MXNet).
COLOURS: Mapping[str, str] = {
    "tensorflow": "#FF9900",
    "jax": "#2CA02C",
    "torch": "#D62728",
    "mxnet": "#3366CC",
}

# Which backends each kind of Keras source tree serves: Keras 3 runs TensorFlow, JAX and PyTorch;
# the Keras-MXNet fork (Keras 2.2.4) runs MXNet.
KERAS3_BACKENDS = ("tensorflow", "jax", "torch")
KERAS_MXNET_BACKENDS = ("mxnet",)

MXNET_ENV_COMMAND = (
    "python -m venv .venv-mxnet && .venv-mxnet/bin/pip install keras-mxnet==2.2.4.3 mxnet==1.9.1 "
    "'numpy<2' setuptools"
)

# The second half of a "not installed" message: how to get the backend into an interpreter.
INSTALL_HINTS: Mapping[str, str] = {
    "tensorflow": "install it with `pip install 'pytest-rnnbench[tensorflow]'` (or tensorflow-cpu)",
    "jax": "install it with `pip install 'pytest-rnnbench[jax]'`",
    "torch": "install it with `pip install 'pytest-rnnbench[torch]'` (on CPU machines first "
    "`pip install torch --index-url https://download.pytorch.org/whl/cpu`)",
    "mxnet": "Keras-MXNet needs its own environment (it is also a package named `keras`): "
    f"`{MXNET_ENV_COMMAND}` (in a clone of pytest-rnnbench: `make setup`), then "
    "`--rnnbench-python mxnet=.venv-mxnet/bin/python`",
}


def label(backend: str) -> str:
    """The report name of a backend ("PyTorch"); an unknown name is shown as it is."""
    return LABELS.get(backend, backend)


def rank(backend: str) -> int:
    """Sort key in the seed's column order; unknown backends go last."""
    return BACKENDS.index(backend) if backend in BACKENDS else len(BACKENDS)
