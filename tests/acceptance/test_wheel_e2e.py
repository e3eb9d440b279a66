"""A user's own project, from the built package (issue 17).

What it does: builds the sdist and, from it, the wheel (`python -m build` on a copy of this working
tree), checks both with `twine check --strict`, creates a fresh virtual environment in a temporary
directory outside the repository, installs the wheel there with pip with the extra that the README
names (dependencies resolved by pip from its configured index, nothing from this checkout), then,
in an empty project holding only the benchmark test that the README shows, runs the README's
commands as printed, in a shell whose PATH starts with that environment (as if it were active):
a first `pytest --rnnbench` (passes, unjudged), `pytest --rnnbench --rnnbench-save-baseline` (a
baseline file appears in the project's `baselines/`), a judged run, and `pytest --pyargs
pytest_rnnbench.suite --rnnbench`. The README's install section (between `<!-- install:start -->`
and `<!-- install:end -->`) is parsed here, so the README and this test cannot drift apart.

What it proves: the distributions are valid; the wheel installs with pip into a fresh environment
and its declared dependencies (with the README's extra) are enough to benchmark with TensorFlow;
the wheel carries what the plugin needs at run time (the worker, the gate's configuration, the seed
suite, py.typed), asked of the installed package itself (`WORKER_SCRIPT`, `GATE_INI`); the
console script `rnnbench` works; the README's snippet runs as written.

What it does not prove: to keep the test to a few minutes every command gets the same small
workload appended (TensorFlow only, synthetic data, 1,024 samples per epoch, one timed epoch), so
the judged run's verdict is about plumbing, not about performance (it may be inconclusive, and on
a busy machine even a regression: the test checks that a verdict was given); the other extras
(jax, torch), GPUs and MXNet are not installed here; it runs this interpreter's Python version
only; and pip's index is whatever this machine is configured with (PyPI in CI), not a fresh PyPI
upload of the package.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import PYTHON, REPO

WORKLOAD = (
    "--rnnbench-backends=tensorflow",
    "--rnnbench-datasets=synthetic",
    "--rnnbench-samples=1024",
    "--rnnbench-repeats=1",
)


@dataclass(frozen=True)
class Snippet:
    """The README's install section, parsed."""

    requirement: str  # e.g. pytest-rnnbench[tensorflow]==0.2.0
    extras: str  # e.g. [tensorflow]
    version: str  # the pinned version
    test_path: str  # where the benchmark test goes, relative to the project
    test_source: str
    commands: list[list[str]]  # each run command, as words


def readme_snippet(readme: str) -> Snippet:
    """The install section of README.md: its install line, benchmark test and commands."""
    found = re.search(r"<!-- install:start -->(.*?)<!-- install:end -->", readme, re.S)
    assert found, "README.md has no <!-- install:start --> ... <!-- install:end --> section"
    section = found.group(1)
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    bash = [body for language, body in blocks if language == "bash"]
    python = [body for language, body in blocks if language == "python"]
    assert len(bash) == 2 and len(python) == 1, blocks
    install = shlex.split(bash[0], comments=True)
    assert install[:2] == ["pip", "install"] and len(install) == 3, install
    requirement = install[2]
    parsed = re.fullmatch(r"pytest-rnnbench(\[[\w,]+\])==([\w.]+)", requirement)
    assert parsed, f"the README installs {requirement!r}: expected a pinned version and extras"
    test_path = re.search(r"`(tests/\w+\.py)`", section)
    assert test_path, "the README names no file for its benchmark test"
    commands = [shlex.split(line, comments=True) for line in bash[1].splitlines()]
    return Snippet(
        requirement,
        parsed.group(1),
        parsed.group(2),
        test_path.group(1),
        python[0],
        [words for words in commands if words],
    )


def test_the_readme_snippet_is_what_this_test_runs() -> None:
    """Fast: the section parses into the four commands the issue asks for."""
    snippet = readme_snippet((REPO / "README.md").read_text())
    assert snippet.commands == [
        ["pytest", "--rnnbench"],
        ["pytest", "--rnnbench", "--rnnbench-save-baseline"],
        ["pytest", "--rnnbench"],
        ["pytest", "--pyargs", "pytest_rnnbench.suite", "--rnnbench"],
    ]
    assert "tensorflow" in snippet.extras and "def test_" in snippet.test_source


def _copy_working_tree(source: Path, target: Path) -> None:
    """Tracked files as they are now and untracked files that git does not ignore (no .venv, no
    build outputs): what a release would build, uncommitted work included."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=source,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        here = source / name
        if here.is_file() and not here.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(here, target / name)


@dataclass(frozen=True)
class Installed:
    venv: Path
    dist: Path
    snippet: Snippet
    env: dict[str, str]  # a user's shell with the venv active (PATH first), nothing of ours

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def shell(self, words: list[str], cwd: Path, may_regress: bool = False) -> str:
        """Run `words` + the small workload in bash, as typed; its output. It must succeed, or,
        with `may_regress`, fail on a regression verdict only (timings of a busy machine)."""
        line = shlex.join([*words, *WORKLOAD])
        done = subprocess.run(
            ["bash", "-c", line],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        output = f"$ {line}\n{done.stdout}{done.stderr}"
        print(output)
        regressed = may_regress and done.returncode == 1 and "1 regression" in output
        assert done.returncode == 0 or regressed, output
        return output


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    source, dist, venv, home = (base / name for name in ("source", "dist", "venv", "home"))
    for directory in (source, home):
        directory.mkdir()
    snippet = readme_snippet((REPO / "README.md").read_text())
    _copy_working_tree(REPO, source)
    _run(PYTHON, "-m", "build", "--outdir", dist, source, cwd=base)  # the wheel from the sdist
    built = sorted(path.name for path in dist.iterdir())
    assert built == [
        f"pytest_rnnbench-{snippet.version}-py3-none-any.whl",
        f"pytest_rnnbench-{snippet.version}.tar.gz",
    ], "the README's pinned version is not the package's"
    _run(PYTHON, "-m", "twine", "check", "--strict", *sorted(dist.iterdir()), cwd=base)
    # A user's shell: nothing of this checkout (PYTHONPATH would import its src/), its own home.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("RNNBENCH", "PYTEST_", "PYTHON"))
        and name not in {"VIRTUAL_ENV", "XDG_CACHE_HOME"}
    }
    # `python -m venv` from a venv's python makes the new one from the base interpreter.
    _run(sys.executable, "-m", "venv", venv, cwd=base)
    wheel = dist / built[0]
    pip = (venv / "bin" / "python", "-m", "pip", "install", "-q")
    _run(*pip, f"{wheel}{snippet.extras}", cwd=base, env=env)
    env.update(
        HOME=str(home),
        VIRTUAL_ENV=str(venv),
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
    )
    yield Installed(venv, dist, snippet, env)
    shutil.rmtree(venv, ignore_errors=True)  # about 2 GB, mostly TensorFlow


INSPECT = """
import json, sys
from importlib import metadata, resources
import pytest_rnnbench
from pytest_rnnbench.cli.gate import GATE_INI
from pytest_rnnbench.run.protocol import WORKER_SCRIPT
suite = resources.files("pytest_rnnbench.suite")
print(json.dumps({
    "version": pytest_rnnbench.__version__,
    "metadata_version": metadata.version("pytest-rnnbench"),
    "package": pytest_rnnbench.__file__,
    "worker": str(WORKER_SCRIPT),
    # worker.py, or a directory run as a script (its __main__.py beside its modules)
    "worker_files": sorted(str(p.relative_to(folder)) for p in folder.rglob("*.py"))
        if (folder := WORKER_SCRIPT if WORKER_SCRIPT.is_dir() else WORKER_SCRIPT.parent).name
        == "worker" else [WORKER_SCRIPT.name],
    "worker_runs": WORKER_SCRIPT.is_file() or (WORKER_SCRIPT / "__main__.py").is_file(),
    "gate_ini": GATE_INI.is_file(),
    "seed_suite": suite.joinpath("test_seed_lstm.py").is_file(),
    "py_typed": resources.files("pytest_rnnbench").joinpath("py.typed").is_file(),
    "site": sys.prefix,
}))
"""


@pytest.mark.slow
def test_the_wheel_carries_what_the_plugin_runs(installed: Installed, tmp_path: Path) -> None:
    facts = json.loads(_run(installed.python, "-c", INSPECT, cwd=tmp_path, env=installed.env))
    assert facts["version"] == facts["metadata_version"] == installed.snippet.version
    site = installed.venv / "lib"
    assert Path(facts["package"]).is_relative_to(site), facts  # not this checkout's src/
    assert Path(facts["worker"]).is_relative_to(site) and facts["worker_runs"], facts
    assert facts["gate_ini"] and facts["seed_suite"] and facts["py_typed"], facts
    print("worker files in the wheel:", facts["worker_files"])
    usage = _run(installed.venv / "bin" / "rnnbench", "--help", cwd=tmp_path, env=installed.env)
    assert usage.startswith("usage: rnnbench") and "{compare,report,gate,history,bisect}" in usage


@pytest.mark.slow
def test_a_new_project_measures_records_and_is_judged_as_the_readme_says(
    installed: Installed, tmp_path: Path
) -> None:
    project = tmp_path / "my-project"
    (project / installed.snippet.test_path).parent.mkdir(parents=True)
    (project / installed.snippet.test_path).write_text(installed.snippet.test_source)
    first, save, judged, seed = installed.snippet.commands

    output = installed.shell(first, project)
    assert re.search(r"^rnnbench: .*nothing is judged", output, re.M), output
    assert re.search(r"=+ 1 passed", output), output
    assert not (project / "baselines").exists()

    output = installed.shell(save, project)
    saved = sorted((project / "baselines").glob("*.json"))
    assert len(saved) == 1, output
    assert "tensorflow-gpu0-b128-unroll-synthetic" in saved[0].read_text()

    output = installed.shell(judged, project, may_regress=True)
    assert re.search(r"\b1 judged \(1 \w+\)", output), output

    output = installed.shell(seed, project, may_regress=True)
    assert re.search(r"^test_seed_lstm\.py \.", output, re.M), output  # the shipped suite ran
    assert re.search(r"=+ 1 passed", output), output


@pytest.mark.slow
def test_pip_install_from_a_clone_leaves_nothing_untracked(tmp_path: Path) -> None:
    """`pip install .` builds in the tree (setuptools' build/ and *.egg-info): git ignores them."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=120)
    _copy_working_tree(REPO, clone)  # this working tree's .gitignore and pyproject.toml
    target = tmp_path / "target"
    _run(PYTHON, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--target", target, ".", cwd=clone)  # fmt: skip
    assert (target / "pytest_rnnbench" / "plugin.py").is_file()
    untracked = _run("git", "status", "--porcelain", "--untracked-files=all", cwd=clone)
    assert [line for line in untracked.splitlines() if line.startswith("??")] == []
    ignored = _run("git", "status", "--porcelain", "--ignored", cwd=clone)
    assert "!! build/" in ignored.splitlines()  # it was there to ignore: the check saw it
