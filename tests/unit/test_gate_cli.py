"""`python -m pytest_rnnbench gate`: the pytest command line it stands for."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest

from pytest_rnnbench.cli import gate, main


def args(**given: object) -> argparse.Namespace:
    defaults = {"base": "origin/master", "head": None, "comment": None, "json": None}
    return argparse.Namespace(**{**defaults, "matrix": "pr", **given})


def keras_checkout(path: Path, fork: bool) -> Path:
    (path / "keras" / ("backend" if fork else "src/backend")).mkdir(parents=True)
    (path / "keras" / "__init__.py").write_text("")
    if fork:
        (path / "keras" / "backend" / "mxnet_backend.py").write_text("")
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@example.invalid",
         "commit", "-q", "-m", "keras"],
        check=True,
    )  # fmt: skip
    return path


def test_the_gate_runs_the_shipped_suite_with_its_own_configuration(tmp_path: Path) -> None:
    repo = keras_checkout(tmp_path / "fork", fork=True)
    command = gate.pytest_args(
        args(comment=Path("c.md"), json=Path("r.json")), ["-k", "nietzsche"], repo
    )
    assert command[:2] == ["-c", str(gate.GATE_INI)] and gate.GATE_INI.is_file()
    assert "--noconftest" in command and f"--rootdir={repo}" in command
    assert command[command.index("--pyargs") + 1] == "pytest_rnnbench.suite"
    for expected in (
        "--rnnbench",
        "--rnnbench-base=origin/master",
        "--rnnbench-matrix=pr",
        "--rnnbench-comment=c.md",
        "--rnnbench-json=r.json",
        "--rnnbench-backends=mxnet",  # the fork's Keras serves MXNet only
    ):
        assert expected in command
    assert command[-2:] == ["-k", "nietzsche"]  # what the gate does not know goes to pytest


def test_a_keras3_tree_gets_the_keras3_backends_unless_backends_are_given(tmp_path: Path) -> None:
    repo = keras_checkout(tmp_path / "keras", fork=False)
    assert "--rnnbench-backends=tensorflow,jax,torch" in gate.pytest_args(args(), [], repo)
    given = gate.pytest_args(args(), ["--rnnbench-backends=jax"], repo)
    assert [a for a in given if a.startswith("--rnnbench-backends")] == ["--rnnbench-backends=jax"]


def test_backends_from_the_environment_are_not_overridden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CI job that limits its backends by RNNBENCH_BACKENDS ran every backend: the option the
    gate added beat the environment."""
    repo = keras_checkout(tmp_path / "keras", fork=False)
    monkeypatch.setenv("RNNBENCH_BACKENDS", "jax")
    command = gate.pytest_args(args(), [], repo)
    assert not [a for a in command if a.startswith("--rnnbench-backends")]


def test_base_dir_expands_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "k").mkdir()
    named = args(base=None, base_dir="~/k")
    gate.check_base(named, Path("/"))  # no error: the directory exists
    assert gate.base_option(named, Path("/")) == f"--rnnbench-base-dir={tmp_path / 'k'}"


def test_the_help_lists_the_exit_statuses_of_the_docs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["gate", "--help"])
    listed = " ".join(capsys.readouterr().out.split()).split("Exit status:", 1)[1]
    for status, meaning in [
        ("0", "no regression"),
        ("1", "a regression"),
        ("2", "interrupted"),
        ("3", "an output"),
        ("4", "a usage error"),
        ("5", "no case selected"),
        ("10", "no case judged"),
    ]:
        assert f" {status} {meaning}" in f" {listed}", (status, listed)


def test_the_other_commands_refuse_unknown_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["report", "results.json", "--no-such-option"])
    assert stopped.value.code == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err


def test_the_nothing_judged_exit_status_is_none_of_pytests_own() -> None:
    from pytest_rnnbench.session.lifecycle import EXIT_NOTHING_JUDGED

    assert EXIT_NOTHING_JUDGED not in {int(code) for code in pytest.ExitCode}
    assert EXIT_NOTHING_JUDGED != 0  # a gate that judged nothing must not pass


def test_the_commands_say_their_version(capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_rnnbench import __version__
    from pytest_rnnbench.cli import main

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"rnnbench {__version__}\n"
