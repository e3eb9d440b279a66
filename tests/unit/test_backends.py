"""backends.py and the worker describe the same backends: names and version keys agree.

The worker (run/worker/) is a standalone script (it also runs under Keras-MXNet's interpreter), so
it cannot import backends.py; this test is what keeps the two in step.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from types import ModuleType

import pytest

from helpers import MXNET_PYTHON, PYTHON, REPO
from pytest_rnnbench import backends
from pytest_rnnbench.run.protocol import WORKER_SCRIPT


def load_worker_module(name: str) -> ModuleType:
    """One of the worker's modules, imported as the worker imports it: with its directory on
    sys.path (its modules import one another as top-level names)."""
    sys.path.insert(0, str(WORKER_SCRIPT))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(WORKER_SCRIPT))


def test_the_worker_knows_exactly_the_backends_the_controller_knows() -> None:
    worker = load_worker_module("rnnbench_worker_backends")
    assert set(worker.BACKENDS) == set(backends.BACKENDS)
    assert set(backends.LABELS) == set(backends.VERSION_KEYS) == set(backends.COLOURS)
    assert set(backends.INSTALL_HINTS) == set(backends.BACKENDS)
    assert set(backends.KERAS3_BACKENDS) | set(backends.KERAS_MXNET_BACKENDS) == set(
        backends.BACKENDS
    )


@pytest.mark.slow
@pytest.mark.parametrize("backend", backends.BACKENDS)
def test_each_backend_reports_its_framework_under_its_version_key(backend: str) -> None:
    python = MXNET_PYTHON if backend in backends.KERAS_MXNET_BACKENDS else PYTHON
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(WORKER_SCRIPT)!r})\n"
        "import rnnbench_worker_backends as w\n"
        f"print(json.dumps(sorted(w.backend_for({backend!r}).framework_versions())))\n"
    )
    done = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    assert backends.VERSION_KEYS[backend] in json.loads(done.stdout.strip().splitlines()[-1])


def test_keras_mxnet_gets_back_the_names_newer_python_and_numpy_removed() -> None:
    """Before `import keras`, the MXNet backend aliases the `collections` ABCs (gone in Python
    3.10) and numpy's builtin aliases (gone in numpy 1.24) back, and leaves alone what the host
    still has: numpy 2's own np.bool is numpy's type, not the builtin. In a fresh interpreter
    (numpy 2 here), since the aliases change the process's numpy."""
    code = (
        "import collections, collections.abc, json, sys\n"
        f"sys.path.insert(0, {str(WORKER_SCRIPT)!r})\n"
        "import numpy\n"
        "had = [n for n in ('bool', 'int', 'float', 'object', 'str', 'complex')"
        " if hasattr(numpy, n)]\n"
        "import rnnbench_worker_backends as w\n"
        "w.backend_for('mxnet').before_import()\n"
        "print(json.dumps({'had': had, 'int': numpy.int is int, 'object': numpy.object is object,"
        " 'bool_kept': numpy.bool is numpy.bool_,"
        " 'mapping': collections.Mapping is collections.abc.Mapping}))\n"
    )
    done = subprocess.run([str(PYTHON), "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "had": ["bool"],
        "int": True,
        "object": True,
        "bool_kept": True,
        "mapping": True,
    }
