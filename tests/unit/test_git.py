"""Running git (run/git.py): its output, or what went wrong in git's own words, with real git."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import git as run_git
from helpers import make_fork_repo
from pytest_rnnbench.run.git import GitFailed, TreeError, git, git_or_none, toplevel


def test_git_answers_in_a_repository_and_says_so_outside_one(tmp_path: Path) -> None:
    repo = make_fork_repo(tmp_path / "keras-fork")
    assert git(repo, "rev-parse", "HEAD") == run_git(repo, "rev-parse", "HEAD")
    assert toplevel(repo / "keras") == repo
    (tmp_path / "plain").mkdir()
    assert toplevel(tmp_path / "plain") is None
    assert git_or_none(tmp_path / "plain", "rev-parse", "HEAD") is None


def test_a_failure_keeps_gits_status_and_words(tmp_path: Path) -> None:
    repo = make_fork_repo(tmp_path / "keras-fork")
    with pytest.raises(GitFailed) as raised:
        git(repo, "rev-parse", "--verify", "no-such-ref")
    assert raised.value.status == 128 and not raised.value.no_repository
    assert "fatal: Needed a single revision" in raised.value.said
    assert f"git rev-parse --verify no-such-ref failed in {repo}: fatal:" in str(raised.value)


def test_a_missing_git_is_a_tree_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "no-git").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "no-git"))
    with pytest.raises(TreeError, match="git was not found on PATH") as raised:
        toplevel(tmp_path)
    assert not isinstance(raised.value, GitFailed)  # git never ran: no status, no words of its
    assert git_or_none(tmp_path, "rev-parse", "HEAD") is None
