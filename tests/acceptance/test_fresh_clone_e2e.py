"""A fresh clone just works (issue 12): the essentials of the README's two commands, run on a copy
of this repository in a temporary directory with no folder beside it, no offline data dir, a home
and cache of its own, and no internet.

The copy is a `git clone` of this repository (what a user gets, .git included, so that `git
status` can tell what a run leaves behind), with the working tree's files copied over it: tracked
files as they are now and untracked files that git does not ignore, and tracked files deleted here
deleted there. So uncommitted work is tested too, and ignored files (.venv, caches, .data/) are
not copied: a user has none of them.

The environments are not rebuilt (`make setup` takes many minutes and the network): the clone's
commands run with this checkout's .venv interpreter, and PYTHONPATH=CLONE/src puts the clone's
package ahead of .venv's editable install, which points at this checkout (checked below).

No test here needs the internet: the proxy variables name a local port that refuses connections,
so any download fails at once, with or without network. The Nietzsche text is then in the home's
cache when this checkout has the published one (a user's second run, after the first downloaded
it); otherwise its case must be skipped with the file, the URL and where to put it, and the tests
that would check it measured are skipped too (failed when RNNBENCH_DATA_DIR handed in a copy).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
import tomllib  # the standard library from Python 3.11 (ruff, at py39, takes it for a package)

from helpers import DATA_DIR_GIVEN, NIETZSCHE_MISSING, NIETZSCHE_REAL, PYTHON, REPO

pytestmark = pytest.mark.slow

NIETZSCHE_URL = "https://s3.amazonaws.com/text-datasets/nietzsche.txt"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
# What a run may add to the clone: pytest's own cache and bytecode caches, all git-ignored.
EXPECTED_NEW = re.compile(r"(^|/)(\.pytest_cache|__pycache__)(/|$)")


@dataclass(frozen=True)
class Clone:
    root: Path  # the clone, alone in its parent directory
    home: Path  # HOME of every command run in it
    env: dict[str, str]

    @property
    def cache(self) -> Path:
        """The product's default cache under that home."""
        return self.home / ".cache" / "pytest-rnnbench"

    def run(self, *command: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command,
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def git(self, *args: str) -> str:
        done = self.run("git", *args, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def ignored_and_untracked(self) -> set[str]:
        return set(self.git("status", "--porcelain", "--ignored").splitlines())

    def paths(self) -> set[str]:
        """Every file and directory of the working tree, .git aside (git status hides empty
        directories, so a stray empty one is found only here)."""
        return {
            str(path.relative_to(self.root))
            for path in self.root.rglob("*")
            if path.relative_to(self.root).parts[0] != ".git"
        }


def _copy_working_tree(source: Path, clone: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=source,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        here, there = source / name, clone / name
        if here.is_file() or here.is_symlink():
            there.parent.mkdir(parents=True, exist_ok=True)
            if there.is_symlink():
                there.unlink()
            shutil.copy2(here, there, follow_symlinks=False)
        elif not here.exists() and (there.is_file() or there.is_symlink()):
            there.unlink()  # deleted in the working tree, not yet committed


@pytest.fixture(scope="module")
def refused_url() -> Iterator[str]:
    """A local URL whose port is bound but never listening: connections to it are refused."""
    refuser = socket.socket()
    refuser.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{refuser.getsockname()[1]}"
    refuser.close()


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory, refused_url: str) -> Clone:
    base = tmp_path_factory.mktemp("fresh")
    root = base / "pytest-rnnbench"
    subprocess.run(["git", "clone", "-q", str(REPO), str(root)], check=True, timeout=120)
    _copy_working_tree(REPO, root)
    home = base / "home"
    home.mkdir()
    if NIETZSCHE_REAL is not None:  # a cache where an earlier run downloaded and verified it
        (home / ".cache" / "pytest-rnnbench" / "downloads").mkdir(parents=True)
        shutil.copy(NIETZSCHE_REAL, home / ".cache" / "pytest-rnnbench" / "downloads")
    # A user's shell: none of this checkout's or this session's settings. MAKEFLAGS and friends
    # would hand an outer make's variables (TORCH_INDEX=, RNNBENCH_DATA_DIR) to the clone's make.
    dropped = {"XDG_CACHE_HOME", "PYTHONPATH", "VIRTUAL_ENV", "TORCH_INDEX"}
    dropped |= {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("RNNBENCH", "PYTEST_"))
        and name not in dropped
        and name.upper() not in PROXY_VARIABLES
    }
    env.update(HOME=str(home), PYTHONPATH=str(root / "src"))
    for name in PROXY_VARIABLES[:3]:
        env[name] = env[name.lower()] = refused_url
    return Clone(root, home, env)


def test_the_clone_imports_its_own_package(clone: Clone) -> None:
    done = clone.run(PYTHON, "-c", "import pytest_rnnbench; print(pytest_rnnbench.__file__)")
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(clone.root / "src"), done.stdout


def test_no_setting_points_outside_the_clone(clone: Clone, tmp_path: Path) -> None:
    """pyproject.toml names no path outside the repository, and the Makefile hands no data dir
    to the commands when there is no offline copy beside the checkout (and does when there is:
    the check can see it)."""

    def strings(value: object) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    settings = tomllib.loads((clone.root / "pyproject.toml").read_text())
    outside = [s for s in strings(settings) if re.search(r"(^|[\s=])(/|~)|\.\./", s)]
    assert outside == []

    for target in ("bench", "test"):
        done = clone.run("make", "-n", target)
        assert done.returncode == 0, done.stderr
        assert "../shared" not in done.stdout and "RNNBENCH_DATA_DIR" not in done.stdout

    # The environment the Makefile's commands get: its own variables exported, then `env`.
    print_env = tmp_path / "print-env.mk"
    print_env.write_text("rnnbench-print-env:\n\t@env\n")

    def recipe_env() -> str:
        done = clone.run("make", "-s", "-f", "Makefile", "-f", str(print_env), "rnnbench-print-env")
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "RNNBENCH_DATA_DIR" not in recipe_env()
    beside = clone.root.parent / "shared" / "datasets"
    beside.mkdir(parents=True)
    try:
        (beside / "nietzsche.txt").write_text("an offline copy beside the checkout")
        assert f"RNNBENCH_DATA_DIR={beside.resolve()}\n" in recipe_env()
    finally:
        shutil.rmtree(clone.root.parent / "shared")


def test_make_setup_installs_the_cpu_build_of_torch(clone: Clone) -> None:
    """PyPI's torch is a CUDA build of several GB on Linux: by default the CPU build comes from
    PyTorch's own index; TORCH_INDEX= takes PyPI's (what CI, which reaches only PyPI, does)."""
    # The one torch pin, requirements/dev.txt's, installed first.
    (pin,) = [
        line
        for line in (clone.root / "requirements" / "dev.txt").read_text().splitlines()
        if line.startswith("torch==")
    ]
    assert pin == "torch==2.13.0"
    done = clone.run("make", "-n", "setup")
    assert done.returncode == 0, done.stderr
    assert f'pip install -q "{pin}" --index-url https://download.pytorch.org/whl/cpu\n' in (
        done.stdout
    )
    pypi = clone.run("make", "-n", "setup", "TORCH_INDEX=")
    assert f'pip install -q "{pin}"\n' in pypi.stdout
    assert "--index-url" not in pypi.stdout
    assert "TORCH_INDEX=" in (clone.root / ".ci" / "run").read_text()


@dataclass(frozen=True)
class Ran:
    """A command run in the clone: its exit status and output, and what it left there."""

    returncode: int
    output: str
    new_status: list[str]  # `git status --ignored` lines the run added
    stray: list[str]  # new paths other than pytest's and Python's caches


def run_in(clone: Clone, *command: str) -> Ran:
    status, paths = clone.ignored_and_untracked(), clone.paths()
    done = clone.run(*command)
    return Ran(
        done.returncode,
        done.stdout + done.stderr,
        sorted(clone.ignored_and_untracked() - status),
        sorted(p for p in clone.paths() - paths if not EXPECTED_NEW.search(p)),
    )


def nietzsche_not_checked() -> NoReturn:
    """The published text was not here, so the clone's run could not use it: the check is
    skipped saying why, or fails when RNNBENCH_DATA_DIR handed in a copy (a broken setup)."""
    if DATA_DIR_GIVEN:
        pytest.fail(NIETZSCHE_MISSING)
    pytest.skip(
        f"the clone had no published Nietzsche text, and skipped what needs it: {NIETZSCHE_MISSING}"
    )


@pytest.fixture(scope="module")
def bench_run(clone: Clone) -> Ran:
    """`make bench` on a small matrix (a synthetic and a Nietzsche case), run once for the tests
    of both."""
    return run_in(
        clone,
        PYTHON,
        "-m",
        "pytest",
        "--rnnbench",
        "--rnnbench-backends=tensorflow",
        "--rnnbench-datasets=synthetic,nietzsche",
        "--rnnbench-samples=512",
        "--rnnbench-repeats=1",
        "-v",
        "-rs",
    )


NIETZSCHE_CASE = r"test_lstm_training\[tensorflow-gpu0-b128-unroll-nietzsche\]"


def test_make_bench_essentials_measure_and_pass_writing_nothing_stray(
    clone: Clone, bench_run: Ran
) -> None:
    """`make bench` on a small matrix: the synthetic case is measured and passes (no baseline:
    nothing is judged), the results are shown, nothing fails, and the run adds nothing to the
    clone but pytest's cache. The Nietzsche case: the next test."""
    output = bench_run.output
    assert bench_run.returncode == 0, output
    assert re.search(r"^rnnbench: .*nothing is judged", output, re.M), output
    assert re.search(r"test_lstm_training\[tensorflow-gpu0-b128-unroll-synthetic\] PASSED", output)
    assert "synthetic, 512 samples/epoch (capped)" in output, output
    assert re.search(NIETZSCHE_CASE + " (PASSED|SKIPPED)", output), output
    assert all(EXPECTED_NEW.search(line[3:]) for line in bench_run.new_status), bench_run.new_status
    assert bench_run.stray == [], "the run left these in the clone"
    # The run needed no internet: the cache holds only what the fixture put there.
    downloads = clone.cache / "downloads"
    names = sorted(p.name for p in downloads.iterdir()) if downloads.is_dir() else []
    assert names == (["nietzsche.txt"] if NIETZSCHE_REAL is not None else [])


def test_make_bench_measures_the_nietzsche_case_from_the_cached_text(
    clone: Clone, bench_run: Ran
) -> None:
    """With the published text in the home's cache (a user's second run) the Nietzsche case is
    measured and passes. Without it here, the clone's case must be skipped saying where to put
    the file (checked), and this test is skipped: the case was not measured."""
    output = bench_run.output
    if NIETZSCHE_REAL is None:
        assert re.search(NIETZSCHE_CASE + " SKIPPED", output), output
        where = clone.cache / "downloads" / "nietzsche.txt"
        assert f"put nietzsche.txt from {NIETZSCHE_URL} at {where}" in output, output
        assert re.search(r"=+ 1 passed, 1 skipped", output), output
        nietzsche_not_checked()
    assert re.search(NIETZSCHE_CASE + " PASSED", output), output
    assert "nietzsche, 512 samples/epoch (capped)" in output, output
    assert re.search(r"=+ 2 passed", output), output


@pytest.fixture(scope="module")
def fast_run(clone: Clone) -> Ran:
    """`make test`'s essentials: the fast tests of datasets and options, with no data dir."""
    return run_in(
        clone,
        PYTHON,
        "-m",
        "pytest",
        "-m",
        "not slow",
        "-rs",
        "-p",
        "no:cacheprovider",
        "tests/unit/test_datasets.py",
        "tests/unit/test_options.py",
    )


def skipped_lines(output: str) -> list[str]:
    return re.findall(r"^SKIPPED \[\d+\] (.*)$", output, re.M)


def test_the_fast_tests_pass_without_an_offline_copy(fast_run: Ran) -> None:
    """`make test`'s essentials pass with no data dir; at most the seed's real counts, which need
    the published text, are skipped (whether they ran: the next test)."""
    output = fast_run.output
    assert fast_run.returncode == 0, output
    summary = output.strip().splitlines()[-1]
    assert re.fullmatch(r"=+ \d+ passed(, 1 skipped)?(, \d+ deselected)? in .*", summary), output
    assert all("needs the published Nietzsche text" in s for s in skipped_lines(output)), output


def test_the_fast_tests_check_the_seeds_real_counts_from_the_cached_text(
    clone: Clone, fast_run: Ran
) -> None:
    """With the published text in the home's cache the fast tests skip nothing. Without it here,
    the clone's test of the seed's real counts must be skipped saying where the text is looked
    for (checked), and this test is skipped: the real counts were not tested."""
    output = fast_run.output
    skipped = skipped_lines(output)
    if NIETZSCHE_REAL is None:
        assert len(skipped) == 1 and "needs the published Nietzsche text" in skipped[0], output
        assert str(clone.cache / "downloads") in skipped[0], output
        nietzsche_not_checked()
    assert fast_run.returncode == 0 and skipped == [], output
