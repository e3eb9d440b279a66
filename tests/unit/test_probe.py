"""The backend probe (run/probe.py): is an interpreter there, is it Python, does it have the
backend, and how to install what is missing."""

from __future__ import annotations

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
