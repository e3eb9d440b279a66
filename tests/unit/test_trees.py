"""The pull-request gate's source trees: refs resolved to commits, bases extracted and removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import git, make_fork_repo
from pytest_rnnbench.run.trees import (
    TreeError,
    backends_of,
    base_tree,
    head_tree,
    remove,
    resolve_commit,
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """master: base; feature (checked out): one commit on top; master then moves on."""
    repo = make_fork_repo(tmp_path / "keras-fork")
    git(repo, "checkout", "-q", "master")
    (repo / "keras" / "__init__.py").write_text("__version__ = 'master moved on'\n")
    git(repo, "commit", "-q", "-am", "later on master")
    git(repo, "checkout", "-q", "feature")
    return repo


def test_a_branch_resolves_to_its_merge_base_and_a_commit_to_itself(repo: Path) -> None:
    fork_point = git(repo, "rev-parse", "feature~1")
    assert resolve_commit(repo, "master") == fork_point
    # A commit or tag HEAD was built on is taken as it is.
    assert resolve_commit(repo, fork_point) == fork_point
    git(repo, "tag", "v-fork", fork_point)
    assert resolve_commit(repo, "v-fork") == fork_point
    # One HEAD lacks (the base branch's tip after the fork, as a pull_request event's base.sha
    # names it) stands for the fork point: else the upstream changes since would be measured too.
    later = git(repo, "rev-parse", "master")
    assert resolve_commit(repo, later) == fork_point
    # A branch however spelled, a remote-tracking one too; a tag HEAD lacks as a commit would be.
    git(repo, "update-ref", "refs/remotes/origin/master", later)
    git(repo, "tag", "v-later", later)
    for spelled in ("refs/heads/master", "heads/master", "origin/master",
                    "remotes/origin/master", "refs/remotes/origin/master", "v-later"):  # fmt: skip
        assert resolve_commit(repo, spelled) == fork_point, spelled


def test_a_base_that_shares_no_history_with_head_says_why(repo: Path, tmp_path: Path) -> None:
    from pytest_rnnbench.run.trees import NoForkPoint

    git(repo, "checkout", "-q", "--orphan", "unrelated")
    git(repo, "commit", "-q", "-m", "unrelated root")
    git(repo, "checkout", "-q", "feature")
    with pytest.raises(NoForkPoint, match="have no common ancestor: they share no history"):
        resolve_commit(repo, git(repo, "rev-parse", "unrelated"))
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth=1", "--branch=feature", f"file://{repo}", str(shallow))
    git(shallow, "fetch", "-q", "--depth=1", "origin", "master")
    with pytest.raises(NoForkPoint, match="this clone is shallow: fetch the whole history"):
        resolve_commit(shallow, "FETCH_HEAD")


def test_the_base_is_extracted_with_its_own_files_and_removed(repo: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    base = base_tree("master", repo, work)
    assert base.temporary and base.commit == git(repo, "rev-parse", "feature~1")
    assert (base.path / "keras" / "__init__.py").read_text() == "__version__ = 'base'\n"
    assert "base" in base.label and base.commit[:12] in base.label and "(master)" in base.label
    remove(base)
    assert not base.path.exists() and list(work.iterdir()) == []


def test_the_head_is_the_working_tree_with_its_uncommitted_changes(repo: Path) -> None:
    head = head_tree(None, repo / "keras")
    assert head.path == repo and head.commit == git(repo, "rev-parse", "HEAD") and not head.dirty
    (repo / "keras" / "__init__.py").write_text("__version__ = 'edited'\n")
    assert head_tree(None, repo).dirty
    assert "uncommitted changes" in head_tree(None, repo).label


def test_a_directory_is_a_side_as_it_is_and_is_never_removed(repo: Path, tmp_path: Path) -> None:
    copy = tmp_path / "checkout"
    (copy / "keras").mkdir(parents=True)
    (copy / "keras" / "__init__.py").write_text("")
    side = base_tree(str(copy), repo, tmp_path)
    assert side.path == copy.resolve() and not side.temporary and side.commit is None
    remove(side)
    assert copy.exists()


@pytest.mark.parametrize(
    "spec, message",
    [
        ("no-such-branch", "no such commit, branch or tag"),
        ("0123456789abcdef0123456789abcdef01234567", "no such commit, branch or tag"),
    ],
)
def test_an_unknown_ref_says_what_to_do(
    repo: Path, tmp_path: Path, spec: str, message: str
) -> None:
    with pytest.raises(TreeError, match=message):
        base_tree(spec, repo, tmp_path)


def test_a_tree_without_keras_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(TreeError, match="no keras package at its top"):
        head_tree("empty", tmp_path)
    with pytest.raises(TreeError, match="not inside a git working tree"):
        head_tree(None, tmp_path / "empty")


def test_a_repository_git_cannot_read_is_reported_in_gits_words(repo: Path, tmp_path: Path) -> None:
    """A damaged repository (or one git refuses: dubious ownership) is neither "not inside a git
    working tree" nor a base that is not fetched: the message is git's."""
    with open(repo / ".git" / "config", "a") as config:
        config.write("[core\n")
    with pytest.raises(TreeError, match="bad config line") as raised:
        head_tree(None, repo)
    assert "not inside a git working tree" not in str(raised.value)
    with pytest.raises(TreeError, match="bad config line") as raised:
        base_tree("master", repo, tmp_path)
    assert "no such commit" not in str(raised.value)


def test_a_missing_git_is_named(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "no-git").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "no-git"))
    missing = "git was not found on PATH: install git, or add its folder to PATH"
    with pytest.raises(TreeError, match=missing):
        head_tree(None, repo)
    with pytest.raises(TreeError, match=missing):
        base_tree("master", repo, tmp_path)
    with pytest.raises(TreeError, match=missing):
        resolve_commit(repo, "master")


def test_which_backends_a_tree_serves(repo: Path, tmp_path: Path) -> None:
    assert backends_of(repo) == ("mxnet",)
    (tmp_path / "k3" / "keras" / "src" / "backend").mkdir(parents=True)
    (tmp_path / "k2" / "keras" / "src").mkdir(parents=True)  # Keras 2.15: src/backend.py
    (tmp_path / "k2" / "keras" / "src" / "backend.py").write_text("")
    (tmp_path / "k2" / "keras" / "api").mkdir()
    assert backends_of(tmp_path / "k2") == ()
    assert backends_of(tmp_path / "k3") == ("tensorflow", "jax", "torch")
    assert backends_of(tmp_path) == ()
