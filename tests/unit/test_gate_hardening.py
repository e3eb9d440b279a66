"""The gate cannot be fooled by the checkout it measures, and cleans up after itself (issue 17).

- its child processes do not import from the current directory (`-P`, or its 3.10 stand-in);
- `--base` is a ref only, a directory only through `--base-dir`;
- an extracted base tree is removed when the session cannot start and on SIGTERM (a cancelled
  CI job), also when the SIGTERM reaches the `gate` command rather than its pytest;
- `git archive` failing, hanging or writing garbage is a clear TreeError, not an internal error;
- the program a printed hint starts with runs as printed.

Real processes, real git repositories, real signals.
"""

from __future__ import annotations

import argparse
import io
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sysconfig
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import pytest

from helpers import PACKAGE, PYTHON, git, make_fork_repo
from pytest_rnnbench.cli import gate, main
from pytest_rnnbench.cli.gate import pytest_args
from pytest_rnnbench.invocation import pytest_program, python_module
from pytest_rnnbench.run.trees import TreeError, base_tree, extract, remove

# A Python 3.10 (no -P there), if this machine has one: on PATH, or where pyenv keeps it.
PYTHON_310_CANDIDATES = [
    shutil.which("python3.10") or "python3.10",
    *map(str, sorted(Path.home().glob(".pyenv/versions/3.10*/bin/python3"))),
]
SRC = str(PACKAGE.parent)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A Keras-MXNet-like repository: master (the base) and feature (checked out, the head)."""
    return make_fork_repo(tmp_path / "keras-fork")


def env_with_src(**more: str) -> dict[str, str]:
    """This process's environment with this checkout's package importable (not via the cwd)."""
    paths = [SRC, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths), **more)


def _parsed(argv: list[str]) -> argparse.Namespace:
    """The gate's options as its parser reads them."""
    parser = argparse.ArgumentParser()
    gate.add_parser(parser.add_subparsers(dest="command"))
    args, _ = parser.parse_known_args(argv)
    return args


def base_trees(directory: Path) -> list[Path]:
    return sorted(directory.glob("rnnbench-base-*"))


# -- child processes do not import from the current directory -----------------------------------


def _version(python: str) -> tuple[int, int]:
    """The version of the interpreter `python`; (0, 0) when it does not run (a pyenv shim of a
    version that is not selected exits with "command not found")."""
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
    except OSError:
        return 0, 0
    found = done.stdout.split() if done.returncode == 0 else ["0", "0"]
    return int(found[0]), int(found[1])


@pytest.mark.parametrize("wanted", ["this-python", "python3.10"])
def test_a_child_module_is_not_taken_from_the_current_directory(
    tmp_path: Path, wanted: str
) -> None:
    candidates = [PYTHON] if wanted == "this-python" else PYTHON_310_CANDIDATES
    python = next((c for c in candidates if _version(c) > (0, 0)), None)
    if python is None or (wanted == "python3.10" and _version(python) != (3, 10)):
        pytest.skip("no Python 3.10 here: its -c stand-in for -P is not tried")
    (tmp_path / "calendar.py").write_text("print('HIJACKED')\n")
    plain = subprocess.run(
        [python, "-m", "calendar", "2026", "1"], cwd=tmp_path, capture_output=True, text=True
    )
    assert plain.stdout.strip() == "HIJACKED"  # what `python -m` does, and what the test sees
    safe = subprocess.run(
        [*python_module("calendar", python, _version(python)), "2026", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert safe.returncode == 0, safe.stderr
    assert "January 2026" in safe.stdout and "HIJACKED" not in safe.stdout


@pytest.mark.slow  # pytest in a subprocess
def test_the_gate_runs_the_real_pytest_beside_a_hostile_pytest_py(repo: Path) -> None:
    """A checkout holding `pytest.py` (run from it, as CI does): the gate's pytest is still the
    installed one; it collects the shipped suite against the base ref, and nothing leaks."""
    (repo / "pytest.py").write_text("import sys\nprint('HIJACKED')\nsys.exit(99)\n")
    temp = repo.parent / "tmp"
    temp.mkdir()
    done = subprocess.run(
        [*python_module("pytest_rnnbench"), "gate", "--base", "master", "--co", "-q"],
        cwd=repo,
        env=env_with_src(TMPDIR=str(temp)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert "HIJACKED" not in output and done.returncode == 0, output
    assert "test_seed_lstm.py::test_lstm_training[mxnet-" in output, output
    assert base_trees(temp) == []


# -- --base is a ref, --base-dir a directory ------------------------------------------------------


def test_a_directory_in_the_checkout_never_stands_in_for_a_missing_base_ref(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    planted = repo / "origin" / "master"  # the pull request adds it; origin/master is not fetched
    (planted / "keras").mkdir(parents=True)
    (planted / "keras" / "__init__.py").write_text("# the attacker's base\n")
    with pytest.raises(TreeError, match="no such commit, branch or tag"):
        base_tree("origin/master", repo, tmp_path, repo, kind="ref")
    # The plugin's compatible reading still falls back to it: the gate command must not.
    assert base_tree("origin/master", repo, tmp_path, repo, kind="any").path == planted
    monkeypatch.chdir(repo)
    assert main(["gate", "--base", "origin/master"]) == 4
    error = capsys.readouterr().err
    assert "--base origin/master: no such commit, branch or tag" in error
    assert "a directory is given with --base-dir" in error


def test_git_failing_on_the_base_is_said_without_the_directory_hint(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--base-dir is the answer to a ref git does not know, not to a repository it cannot read
    (here the base's commit is corrupt: git rev-parse fails, exit 128)."""
    base = git(repo, "rev-parse", "master")
    broken = repo / ".git" / "objects" / base[:2] / base[2:]
    broken.chmod(0o644)
    broken.write_bytes(broken.read_bytes()[:10])
    monkeypatch.chdir(repo)
    assert main(["gate", "--base", "master"]) == 4
    error = capsys.readouterr().err
    assert "gate: error: --base git rev-parse" in error and "is corrupt" in error, error
    assert "--base-dir" not in error and "no such commit" not in error, error


def test_a_ref_wins_over_a_directory_of_the_same_name(repo: Path, tmp_path: Path) -> None:
    (repo / "master" / "keras").mkdir(parents=True)
    (repo / "master" / "keras" / "__init__.py").write_text("")
    side = base_tree("master", repo, tmp_path, repo)
    assert side.temporary and side.commit == git(repo, "rev-parse", "master")
    assert (side.path / "keras" / "__init__.py").read_text() == "__version__ = 'base'\n"
    remove(side)
    assert not side.path.exists()


def test_base_dir_is_a_directory_and_only_that(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "keras-master"
    (other / "keras").mkdir(parents=True)
    (other / "keras" / "__init__.py").write_text("")
    side = base_tree(str(other), repo, tmp_path, kind="dir")
    assert side.path == other and not side.temporary
    with pytest.raises(TreeError, match="--rnnbench-base-dir=master: no such directory"):
        base_tree("master", repo, tmp_path, repo, kind="dir")
    monkeypatch.chdir(repo)
    command = pytest_args(_parsed(["gate", "--base-dir", "../keras-master"]), [], repo)
    assert f"--rnnbench-base-dir={other}" in command  # to the plugin as an absolute directory
    assert main(["gate", "--base-dir", "no-such-dir"]) == 4
    assert "--base-dir no-such-dir: no such directory" in capsys.readouterr().err
    for both_or_none in (["--base", "master", "--base-dir", str(other)], []):
        with pytest.raises(SystemExit) as stopped:  # one base, named one way
            main(["gate", *both_or_none])
        assert stopped.value.code == 4  # a usage error, as pytest's; argparse's 2 is "interrupted"


def test_a_head_problem_names_the_gate_s_own_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The plugin's words told gate users to pass --rnnbench-head, which the gate refuses."""
    monkeypatch.chdir(tmp_path)  # no git working tree around it
    assert main(["gate", "--base", "master"]) == 4
    said = capsys.readouterr().err
    assert (
        "is not inside a git working tree: run from a Keras checkout or give --head-dir DIR" in said
    )
    assert main(["gate", "--base", "master", "--head-dir", "nosuch"]) == 4
    assert "gate: error: --head-dir nosuch: no such directory" in capsys.readouterr().err


def test_the_old_head_option_says_its_new_name(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo)
    assert main(["gate", "--base", "master", "--head", "."]) == 4
    assert "--head is now --head-dir DIR" in capsys.readouterr().err
    assert "--rnnbench-head=." in pytest_args(
        _parsed(["gate", "--base=m", "--head-dir=."]), [], repo
    )


def test_a_ref_that_looks_like_an_option_is_refused(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(TreeError, match="does not start with '-'"):
        base_tree("--output=somewhere", repo, tmp_path, kind="ref")


# -- extracted trees are removed, whatever ends the process -------------------------------------

EXTRACT_THEN = """
import sys, time
from pathlib import Path
from pytest_rnnbench.run.trees import base_tree
tree = base_tree("master", Path(sys.argv[1]), Path(sys.argv[2]), kind="ref")
print(tree.path, flush=True)
{then}
"""


@pytest.mark.parametrize(
    "then, how",
    [
        ("raise RuntimeError('the session failed to start')", "start-up error"),
        ("sys.exit(4)", "usage error"),
        ("time.sleep(60)", "SIGTERM"),
    ],
)
def test_an_extracted_tree_is_removed_however_the_process_ends(
    repo: Path, tmp_path: Path, then: str, how: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    with subprocess.Popen(
        [PYTHON, "-c", EXTRACT_THEN.format(then=then), str(repo), str(work)],
        env=env_with_src(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        extracted = Path(child.stdout.readline().strip())
        assert extracted.parent == work
        if how == "SIGTERM":
            assert (extracted / "keras" / "__init__.py").is_file()  # there while it runs
            child.send_signal(signal.SIGTERM)
        child.communicate(timeout=60)
    assert child.returncode != 0
    assert base_trees(work) == [], f"{how} left {extracted}"


SLEEPY_PLUGIN = """
import os, time
from pathlib import Path

def pytest_collection_finish(session):
    Path(os.environ["SLEEPY_READY"]).write_text("collected")
    time.sleep(60)
"""


@pytest.mark.slow  # pytest in a subprocess
def test_a_cancelled_gate_passes_sigterm_on_and_its_pytest_removes_the_base_tree(
    repo: Path, tmp_path: Path
) -> None:
    """SIGTERM to the `gate` command (what a cancelled job's runner sends): its pytest gets it,
    stops as after Ctrl-C (exit 2) and removes the base tree it extracted."""
    plugins, temp = tmp_path / "plugins", tmp_path / "tmp"
    plugins.mkdir()
    temp.mkdir()
    (plugins / "sleepy.py").write_text(SLEEPY_PLUGIN)
    ready = tmp_path / "ready"
    env = env_with_src(TMPDIR=str(temp), SLEEPY_READY=str(ready))
    env["PYTHONPATH"] += os.pathsep + str(plugins)
    with subprocess.Popen(
        [*python_module("pytest_rnnbench"), "gate", "--base", "master", "-p", "sleepy"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as gate:
        deadline = time.monotonic() + 90
        while not ready.exists() and gate.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ready.exists(), gate.communicate(timeout=30)[0]
        assert len(base_trees(temp)) == 1  # the session has started, with its base tree
        gate.send_signal(signal.SIGTERM)
        output = gate.communicate(timeout=60)[0]
    assert gate.returncode == 2, output  # pytest's "interrupted"
    assert "KeyboardInterrupt" in output and "SIGTERM" in output, output
    assert "exit status 10" not in output  # judged nothing, but only because it was stopped
    assert base_trees(temp) == [], output


@pytest.mark.parametrize("signalled", ["the gate", "the child alone"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_while_the_child_starts_up_reads_as_interrupted(
    signalled: str, signum: int
) -> None:
    """SIGTERM before the child's pytest has a handler: the child dies of the signal (-15), and
    the gate (and a bisect step) must still say interrupted (2), not a status of its own, whether
    the gate got the signal and passed it on or a cancelled job's runner signalled the child.
    SIGHUP (a lost terminal or ssh session) likewise: it ended the gate and orphaned its pytest."""
    ours = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    child = subprocess.Popen([PYTHON, "-c", "import time; time.sleep(60)"])
    if signalled == "the gate":
        timer = threading.Timer(0.5, os.kill, (os.getpid(), signum))
    else:
        timer = threading.Timer(0.5, child.send_signal, (signum,))
    timer.start()
    try:
        assert gate.wait_forwarding(child) == gate.PYTEST_INTERRUPTED
    finally:
        timer.cancel()
        child.kill()
    # passed on as SIGTERM, which pytest handles (SIGHUP would end it without its outputs)
    assert child.returncode == (-signal.SIGTERM if signalled == "the gate" else -signum)
    # this process's own handlers, put back
    assert {sig: signal.getsignal(sig) for sig in ours} == ours


def test_a_second_ctrl_c_while_the_child_cleans_up_does_not_end_the_wait() -> None:
    """Impatient users press it twice: the wrapper raised KeyboardInterrupt (exit 130) and left
    pytest writing its outputs unwaited for. (Python's own Ctrl-C handler, whatever this
    process inherited: a job started in the background has SIGINT ignored.)"""
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    cleanup = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(2)"
    child = subprocess.Popen([PYTHON, "-c", cleanup])
    timers = [threading.Timer(t, os.kill, (os.getpid(), signal.SIGINT)) for t in (0.5, 1.0)]
    for timer in timers:
        timer.start()
    try:
        assert gate.wait_forwarding(child) == gate.PYTEST_INTERRUPTED
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    except KeyboardInterrupt:
        pytest.fail("a Ctrl-C ended the wait for the child")
    finally:
        for timer in timers:
            timer.cancel()
        child.kill()
        signal.signal(signal.SIGINT, inherited)
    assert child.returncode == 0  # waited for to its end


def test_a_child_that_ends_by_itself_keeps_its_status() -> None:
    child = subprocess.Popen([PYTHON, "-c", "raise SystemExit(1)"])
    assert gate.wait_forwarding(child) == 1


def test_a_child_killed_by_another_signal_exits_as_a_shell_reports_it(capsys) -> None:
    """SIGKILL (out of memory) is 137, as CI tools know it, not 247 (sys.exit(-9))."""
    child = subprocess.Popen([PYTHON, "-c", "import os, signal; os.kill(os.getpid(), 9)"])
    assert gate.wait_forwarding(child) == 128 + signal.SIGKILL
    assert "pytest was killed by signal 9" in capsys.readouterr().err


@pytest.mark.parametrize(
    "passed", ["--rnnbench-head=../other", "--rnnbench-base-dir", "--rnnbench-base=x"]
)
def test_options_that_name_the_trees_are_refused_among_the_passed_ones(capsys, passed) -> None:
    args = argparse.Namespace(old_head=None, base="master", base_dir=None, head=None)
    assert gate.run(args, [passed, "y"]) == gate.USAGE_ERROR
    assert (
        f"gate: error: {passed}: the gate's own options name the trees" in capsys.readouterr().err
    )


# -- git archive failures are clear errors -------------------------------------------------------


def fake_git(directory: Path, script: str) -> str:
    """A PATH whose `git` is `script` (a shell script), then the usual PATH."""
    directory.mkdir()
    (directory / "git").write_text("#!/bin/sh\n" + script)
    (directory / "git").chmod(stat.S_IRWXU)
    return str(directory) + os.pathsep + os.environ["PATH"]


def test_git_archive_failing_names_the_command_and_gits_message(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(TreeError) as failed:
        extract(repo, "0" * 40, tmp_path)
    message = str(failed.value)
    assert f"`git -C {repo} archive --format=tar {'0' * 40}` failed (exit status 128)" in message
    assert "fatal:" in message


def test_git_archive_hanging_is_a_timeout_error(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", fake_git(tmp_path / "bin", "echo stuck >&2\nexec sleep 30\n"))
    started = time.monotonic()
    with pytest.raises(TreeError, match=r"archive --format=tar abc` did not finish within 0.5 s"):
        extract(repo, "abc", tmp_path, timeout=0.5)
    assert time.monotonic() - started < 10


def test_git_archive_writing_garbage_is_a_clear_error(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", fake_git(tmp_path / "bin", "echo 'not a tar archive'\n"))
    with pytest.raises(TreeError, match="cannot unpack the archive of `git -C"):
        extract(repo, "abc", tmp_path / "target")


def _tar(path: Path, *members: tuple[str, str, str]) -> Path:
    """A tar archive of (name, kind, content or link target) members: kind "file" or "symlink"."""
    with tarfile.open(path, "w") as tar:
        for name, kind, value in members:
            info = tarfile.TarInfo(name)
            if kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, value
                tar.addfile(info)
            else:
                data = value.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(params=["extraction filters", "this Python has none"])
def unpacking(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of unpacking: tarfile's "data" filter, and the checks that stand in for it on
    Pythons before 3.10.12 and 3.11.4."""
    if request.param != "extraction filters":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return request.param


@pytest.mark.parametrize(
    "members",
    [
        [("keras/../../escaped.py", "file", "x")],
        [("keras/link", "symlink", "/etc/passwd")],
        [("keras/link", "symlink", "../../outside")],
        # A chain: no link alone leaves the target, but b is x/.. with x the target itself.
        [("x", "symlink", "."), ("b", "symlink", "x/.."), ("b/escaped.py", "file", "x")],
    ],
)
def test_an_archive_that_reaches_outside_its_target_is_refused(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unpacking: str, members
) -> None:
    archive = _tar(tmp_path / "evil.tar", ("keras/__init__.py", "file", ""), *members)
    monkeypatch.setenv("PATH", fake_git(tmp_path / "bin", f"cat '{archive}'\n"))
    with pytest.raises(TreeError, match="cannot unpack the archive"):
        extract(repo, "abc", tmp_path / "target" / "tree")
    assert not (tmp_path / "target" / "escaped.py").exists()


def test_an_absolute_member_never_lands_at_its_absolute_path(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unpacking: str
) -> None:
    """The data filter puts it inside the target; the stand-in refuses it."""
    absolute = tmp_path / "absolute.py"
    archive = _tar(tmp_path / "abs.tar", (str(absolute), "file", "x"))
    monkeypatch.setenv("PATH", fake_git(tmp_path / "bin", f"cat '{archive}'\n"))
    target = tmp_path / "tree"
    try:
        extract(repo, "abc", target)
    except TreeError as exc:
        assert unpacking == "this Python has none" and "outside the target" in str(exc)
    else:
        assert unpacking == "extraction filters"
        assert (target / str(absolute).lstrip("/")).read_text() == "x"
    assert not absolute.exists()


def test_an_archive_with_links_inside_its_target_unpacks(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unpacking: str
) -> None:
    archive = _tar(
        tmp_path / "ok.tar",
        ("keras/__init__.py", "file", "VERSION = 1\n"),
        ("keras/alias.py", "symlink", "__init__.py"),
    )
    monkeypatch.setenv("PATH", fake_git(tmp_path / "bin", f"cat '{archive}'\n"))
    target = tmp_path / "tree"
    extract(repo, "abc", target)
    assert (target / "keras" / "alias.py").read_text() == "VERSION = 1\n"


# -- printed hints run as printed ----------------------------------------------------------------


def _script(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(stat.S_IRWXU)
    return path


def test_a_hint_says_pytest_when_pytest_on_path_is_this_interpreters_own(tmp_path: Path) -> None:
    own = _script(tmp_path / "venv" / "bin" / "pytest")
    scripts, python = str(own.parent), str(own.parent / "python")
    assert pytest_program(python, scripts, search_path=scripts) == ["pytest"]
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "pytest").symlink_to(own)
    assert pytest_program(python, scripts, search_path=str(linked)) == ["pytest"]


def test_a_hint_names_the_interpreter_when_pytest_on_path_is_another(tmp_path: Path) -> None:
    own = _script(tmp_path / "project" / ".venv" / "bin" / "pytest")
    other = _script(tmp_path / "usr" / "bin" / "pytest")
    python, scripts = str(own.parent / "python"), str(own.parent)
    project = str(tmp_path / "project")
    for search_path in (str(other.parent), str(tmp_path / "empty")):  # another one; none at all
        assert pytest_program(python, scripts, search_path, cwd=project) == [
            ".venv/bin/python",
            "-m",
            "pytest",
        ]
    elsewhere = pytest_program(python, scripts, str(other.parent), cwd=str(tmp_path / "usr"))
    assert elsewhere == [python, "-m", "pytest"]  # outside the cwd: the absolute path
    beside = pytest_program(str(tmp_path / "python"), scripts, "", cwd=str(tmp_path))
    assert beside[0] == "./python"  # never a bare word, which the shell would look up on PATH


def test_this_runs_hint_program_runs_in_a_shell_as_printed() -> None:
    printed = shlex.join([*pytest_program(), "--version"])
    done = subprocess.run(
        ["bash", "-c", printed], capture_output=True, text=True, timeout=60, env=env_with_src()
    )
    assert done.returncode == 0 and "pytest" in done.stdout + done.stderr, printed
    found, own = shutil.which("pytest"), Path(sysconfig.get_path("scripts"), "pytest")
    if found is not None and own.exists() and os.path.samefile(found, own):
        assert printed.startswith("pytest ")
    else:  # e.g. `.venv/bin/python -m pytest` from a shell without the venv on PATH
        assert printed.endswith(" -m pytest --version") and "python" in printed


def test_a_base_that_is_the_head_itself_is_refused_and_nothing_is_left(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--base HEAD`, `--base-dir .`, a local master with unpushed commits: an A/A run would
    pass every case and say nothing of the change."""
    from pytest_rnnbench.session.runner import source_trees
    from pytest_rnnbench.settings import Settings

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # where the base goes
    for settings in (Settings(base="HEAD"), Settings(base_dir=str(repo))):
        with pytest.raises(pytest.UsageError, match="the base and the head are the same tree"):
            source_trees(settings, repo)
    assert list((tmp_path / "tmp").iterdir()) == []  # the extracted base was removed


def test_a_head_that_is_a_folder_of_its_repository_gets_that_folder_of_the_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A monorepo keeps Keras in python/: the base is python/ at the base's commit, not the
    repository's top (which holds no keras/ and was refused)."""
    from pytest_rnnbench.run.trees import remove
    from pytest_rnnbench.session.runner import source_trees
    from pytest_rnnbench.settings import Settings

    mono = tmp_path / "mono"
    (mono / "python" / "keras").mkdir(parents=True)
    (mono / "python" / "keras" / "__init__.py").write_text("__version__ = 'base'\n")
    (mono / "README").write_text("a monorepo\n")
    git(mono, "init", "-q", "-b", "master")
    git(mono, "add", "-A")
    git(mono, "commit", "-q", "-m", "base")
    git(mono, "checkout", "-q", "-b", "feature")
    (mono / "python" / "keras" / "__init__.py").write_text("__version__ = 'head'\n")
    git(mono, "commit", "-q", "-am", "head")
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    trees = source_trees(Settings(base="master", head="python"), mono)
    base = trees["base"].path
    assert (base / "keras" / "__init__.py").read_text() == "__version__ = 'base'\n"
    assert not (base / "README").exists()
    remove(trees["base"])
    assert list((tmp_path / "tmp").iterdir()) == []


def test_the_plugin_s_base_is_a_ref_and_never_a_directory_of_that_name(
    repo: Path, tmp_path: Path
) -> None:
    """A pull request can plant `origin/master/keras/` in its checkout: --rnnbench-base=origin/
    master must then fail (no such ref here), not measure the planted tree as the base."""
    from pytest_rnnbench.session.runner import source_trees
    from pytest_rnnbench.settings import Settings

    planted = repo / "origin" / "master" / "keras"
    planted.mkdir(parents=True)
    (planted / "__init__.py").write_text("")
    with pytest.raises(pytest.UsageError, match="no such commit, branch or tag"):
        source_trees(Settings(base="origin/master"), repo)
    trees = source_trees(Settings(base_dir=str(repo / "origin" / "master")), repo)
    assert trees["base"].path == repo / "origin" / "master"
