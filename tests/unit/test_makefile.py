"""The Makefile's choice of interpreters and when it rebuilds an environment (issue 17).

`make setup` itself takes many minutes and the network, so these tests run the Makefile's own
logic on a copy of it: `make python-info` (which interpreter each environment gets), `make -n`
(what it would run), and the real first recipe line of a build, which stops before anything is
installed when the interpreter does not fit. Interpreters are small scripts that answer the
Makefile's question (version and installation) the way a Python would; one test uses real ones.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import REPO

MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def fake_python(path: Path, version: str) -> Path:
    """An 'interpreter' answering the Makefile's identity question as Python `version` would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho "{version} /opt/python{version}"\n')
    path.chmod(stat.S_IRWXU)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The files the Makefile reads, in a directory of their own."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("Makefile", "pyproject.toml", "requirements"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            shutil.copy(source, root / name)
    return root


def make(project: Path, *args: str, path: str = "") -> subprocess.CompletedProcess[str]:
    """`make ARGS` in `project`; `path`: the PATH where it looks for interpreters (default: none,
    so that an interpreter not named on the command line is not found)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    env.pop("PYTHON", None)
    env.pop("MXNET_PYTHON", None)
    env["PATH"] = path
    assert MAKE is not None
    return subprocess.run(
        [MAKE, "--no-print-directory", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def built(project: Path, venv: str, version: str) -> None:
    """A finished environment made by Python `version` (its stamp newer than its inputs)."""
    fake_python(project / venv / "bin" / "python", version)
    stamp = project / venv / ".installed"
    stamp.write_text(f"{version} /opt/python{version}\n")
    later = time.time() + 60
    os.utime(stamp, (later, later))


@pytest.mark.parametrize(
    "python3, others, expected_venv, expected_mxnet",
    [
        ("3.10", ["3.12"], "python3.12", "python3.12"),  # python3 too old for .venv
        ("3.11", [], "python3", "python3"),
        ("3.12", ["3.11"], "python3", "python3"),  # Ubuntu 24.04
        ("3.13", ["3.12"], "python3", "python3.12"),  # Debian 13: MXNet needs numpy<2, no 3.13
        ("3.13", ["3.10"], "python3", "python3.10"),
    ],
)
def test_each_environment_gets_an_interpreter_it_can_be_built_with(
    project: Path,
    tmp_path: Path,
    python3: str,
    others: list[str],
    expected_venv: str,
    expected_mxnet: str,
) -> None:
    bin_dir = tmp_path / "bin"
    fake_python(bin_dir / "python3", python3)
    for version in others:
        fake_python(bin_dir / f"python{version}", version)
    done = make(project, "python-info", path=str(bin_dir))
    assert done.returncode == 0, done.stderr
    venv, mxnet = done.stdout.splitlines()
    assert venv.startswith(f".venv: PYTHON={expected_venv} (")
    assert mxnet.startswith(f".venv-mxnet: MXNET_PYTHON={expected_mxnet} (")


def test_without_a_fitting_interpreter_the_build_says_which_it_needs(
    project: Path, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    fake_python(bin_dir / "python3", "3.13")  # and nothing else
    done = make(project, ".venv-mxnet/.installed", path=str(bin_dir))
    assert done.returncode != 0
    assert (
        "make: .venv-mxnet needs Python 3.10/3.11/3.12; none of python3 python3.12 python3.11 "
        "python3.13 python3.10 is one. Install one, or name it: make .venv-mxnet/.installed "
        "MXNET_PYTHON=/path/to/python3.11"
    ) in done.stderr
    assert not (project / ".venv-mxnet").exists()  # stopped before building anything
    too_old = make(project, "bench", f"PYTHON={fake_python(bin_dir / 'py310', '3.10')}")
    assert f"make: .venv needs Python 3.11/3.12/3.13; PYTHON={bin_dir / 'py310'} is 3.10." in (
        too_old.stderr
    )
    assert not (project / ".venv").exists()


def test_an_environment_made_by_another_interpreter_is_rebuilt(
    project: Path, tmp_path: Path
) -> None:
    built(project, ".venv", "3.12")
    python311 = fake_python(tmp_path / "python3.11", "3.11")
    done = make(project, "-n", ".venv/.installed", f"PYTHON={python311}")
    assert f"rm -rf .venv && {python311} -m venv .venv\n" in done.stdout, done.stdout
    same = make(project, "-n", ".venv/.installed", f"PYTHON={fake_python(tmp_path / 'p', '3.12')}")
    assert same.stdout == "make: '.venv/.installed' is up to date.\n", same.stdout


def test_a_half_built_environment_is_rebuilt_not_reused(project: Path, tmp_path: Path) -> None:
    built(project, ".venv-mxnet", "3.12")
    (project / ".venv-mxnet" / ".installed").unlink()  # the build stopped before its end
    python = fake_python(tmp_path / "python3.12", "3.12")
    done = make(project, "-n", ".venv-mxnet/.installed", f"MXNET_PYTHON={python}")
    assert f"rm -rf .venv-mxnet && {python} -m venv .venv-mxnet\n" in done.stdout, done.stdout
    # Finished by the same interpreter, with requirements changed since: updated in place.
    built(project, ".venv-mxnet", "3.12")
    (project / "requirements" / "mxnet.txt").touch()
    os.utime(project / "requirements" / "mxnet.txt", (time.time() + 120,) * 2)
    again = make(project, "-n", ".venv-mxnet/.installed", f"MXNET_PYTHON={python}")
    assert "-m pip install -q -r requirements/mxnet.txt" in again.stdout
    assert "rm -rf" not in again.stdout


def test_a_real_venv_is_recognised_as_made_by_its_interpreter(
    project: Path, tmp_path: Path
) -> None:
    """The identity the Makefile compares is the same for a venv's python and its maker's."""
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(project / ".venv")], check=True)
    (project / ".venv" / ".installed").touch()
    os.utime(project / ".venv" / ".installed", (time.time() + 60,) * 2)
    done = make(project, "python-info", f"PYTHON={base}")
    assert done.stdout.splitlines()[0].endswith("; built"), done.stdout
