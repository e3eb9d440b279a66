"""The backend probe (run/probe.py): is an interpreter there, is it Python, does it have the
backend, and how to install what is missing."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from helpers import MXNET_PYTHON
from pytest_rnnbench.run.probe import probe_backend


@pytest.mark.parametrize(
    "backend, hint",
    [
        ("tensorflow", "pip install 'pytest-rnnbench[tensorflow]'"),
        ("jax", "pip install 'pytest-rnnbench[jax]'"),
        ("torch", "pip install 'pytest-rnnbench[torch]'"),
        ("mxnet", "python -m venv .venv-mxnet && .venv-mxnet/bin/pip install keras-mxnet==2.2.4.3"),
    ],
)
def test_probe_says_how_to_install_a_missing_backend(
    bare_python: Path, backend: str, hint: str
) -> None:
    problem = probe_backend(backend, str(bare_python))
    assert problem is not None
    assert str(bare_python) in problem
    assert hint in problem


def test_probe_accepts_the_installed_backends() -> None:
    for backend in ("tensorflow", "jax", "torch"):
        assert probe_backend(backend, sys.executable) is None
    problem = probe_backend("mxnet", sys.executable)
    assert problem is not None and "Keras-MXNet is not installed" in problem


def test_probe_of_the_mxnet_environment() -> None:
    assert MXNET_PYTHON.exists(), f"{MXNET_PYTHON} is missing: run `make setup`"
    assert probe_backend("mxnet", str(MXNET_PYTHON)) is None
    problem = probe_backend("jax", str(MXNET_PYTHON))
    assert problem is not None
    # Keras-MXNet is also a package named keras: either jax is absent or Keras is the wrong one.
    assert "jax is not installed" in problem or "needs Keras 3" in problem


def test_probe_of_things_that_are_not_interpreters(tmp_path: Path) -> None:
    assert "does not exist" in probe_backend("jax", str(tmp_path / "nope"))
    not_executable = tmp_path / "python"
    not_executable.write_text("")
    assert "not executable" in probe_backend("jax", str(not_executable))
    quiet = tmp_path / "quiet"
    quiet.write_text("#!/bin/sh\necho no such thing >&2\nexit 1\n")
    quiet.chmod(0o755)
    assert "is not a working Python interpreter (no such thing)" in probe_backend("jax", str(quiet))


def _keras_mxnet_tree(root: Path) -> Path:
    """A Keras-MXNet source tree as a checkout holds it: no package metadata anywhere."""
    (root / "keras" / "backend").mkdir(parents=True)
    (root / "keras" / "__init__.py").write_text("")
    (root / "keras" / "backend" / "mxnet_backend.py").write_text("")
    return root


def _keras3_tree(root: Path) -> Path:
    (root / "keras" / "src" / "backend").mkdir(parents=True)
    (root / "keras" / "__init__.py").write_text("")
    return root


@pytest.fixture
def mxnet_without_keras(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An environment with an `mxnet` module and no keras at all: the gate recipe's, which
    installs MXNet but never the Keras under test. (A stand-in `mxnet` package: the probe only
    asks whether it is there, never imports it.)"""
    site = tmp_path / "site"
    (site / "mxnet").mkdir(parents=True)
    (site / "mxnet" / "__init__.py").write_text("")
    monkeypatch.setenv("PYTHONPATH", str(site))
    return site


def test_keras_from_a_source_tree_counts_as_installed(
    bare_python: Path, tmp_path: Path, mxnet_without_keras: Path
) -> None:
    tree = _keras_mxnet_tree(tmp_path / "checkout")
    problem = probe_backend("mxnet", str(bare_python))
    assert problem is not None and "Keras-MXNet is not installed" in problem
    # The gate's side: the tree first on the workers' PYTHONPATH.
    assert probe_backend("mxnet", str(bare_python), tree=tree) is None
    # A nightly job's checkout put on PYTHONPATH by the job itself.
    os.environ["PYTHONPATH"] += os.pathsep + str(tree)
    assert probe_backend("mxnet", str(bare_python)) is None


def test_a_keras_in_the_current_directory_is_not_the_workers(
    bare_python: Path, tmp_path: Path, mxnet_without_keras: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker runs as `python path/to/worker`, so the directory pytest runs from is not on its
    sys.path: a `keras/` there must not count as the Keras its workers import (the system Python,
    perhaps a 3.10 without `-P`, and this one)."""
    monkeypatch.chdir(_keras_mxnet_tree(tmp_path / "cwd"))
    problem = probe_backend("mxnet", str(bare_python))
    assert problem is not None and "Keras-MXNet is not installed" in problem
    assert probe_backend("tensorflow", sys.executable) is None  # its installed Keras 3


def test_the_tree_decides_which_keras_a_backend_gets(tmp_path: Path) -> None:
    fork = _keras_mxnet_tree(tmp_path / "fork")
    problem = probe_backend("tensorflow", sys.executable, tree=fork)
    # This interpreter has Keras 3 installed, but the workers would import the fork's keras.
    assert problem is not None
    assert f"needs Keras 3 but {sys.executable} has Keras-MXNet at {fork / 'keras'}" in problem
    assert probe_backend("tensorflow", sys.executable, tree=_keras3_tree(tmp_path / "k3")) is None
    problem = probe_backend("mxnet", str(MXNET_PYTHON), tree=tmp_path / "k3")
    assert problem is not None
    k3 = tmp_path / "k3" / "keras"
    assert f"mxnet needs Keras-MXNet but {MXNET_PYTHON} has Keras at {k3}" in problem
