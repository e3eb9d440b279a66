"""Running git: its output, or an error that says in git's own words why there is none.

Git runs as a subprocess in a given directory, without a shell. Missing from PATH, too slow, or
failing, it raises TreeError (GitFailed when it ran and failed, with its exit status and message),
so that only the failures that mean what a caller asks about (no repository, no such commit, not
an ancestor: toplevel, commit_of, is_ancestor) are read as that answer, and the rest are told to
the user as git said them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional


class TreeError(Exception):
    """A side cannot be used: the message names the ref or directory and what is wrong."""


class GitFailed(TreeError):
    """git ran and failed: `status` its exit status, `said` its message (may be empty). Only some
    mean what a caller asks (no repository, no such commit); the rest are told in git's words."""

    def __init__(self, message: str, status: int, said: str) -> None:
        super().__init__(message)
        self.status = status
        self.said = said
        self.no_repository = "not a git repository" in said


def git(repo: Path, *args: str, timeout: float = 120.0) -> str:
    """Run git in `repo` and return its output; TreeError with git's own message on failure."""
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=timeout
        )
    except FileNotFoundError:
        raise TreeError(
            "git was not found on PATH: install git, or add its folder to PATH"
        ) from None
    except subprocess.TimeoutExpired:
        raise TreeError(f"git {' '.join(args)} did not finish within {timeout:g} s") from None
    if done.returncode != 0:
        # All of it: dubious ownership ends with the command that allows the repository.
        lines = (done.stderr or done.stdout).strip().splitlines()
        said = "\n".join(line for line in lines if line.strip())
        raise GitFailed(
            f"git {' '.join(args)} failed in {repo}: {said or 'no message from git'}",
            done.returncode,
            said,
        )
    return done.stdout.strip()


def git_or_none(directory: Path, *args: str, timeout: float = 10.0) -> Optional[str]:
    """git's output in `directory`, or None outside a repository or when git is missing, fails
    or takes too long: for what a run records about its checkout, where none is no error."""
    try:
        return git(directory, *args, timeout=timeout)
    except TreeError:
        return None


def toplevel(directory: Path) -> Optional[Path]:
    """The root of the git working tree that holds `directory`, or None outside git; TreeError
    when git is missing or fails otherwise (a repository it refuses or cannot read)."""
    try:
        return Path(git(directory, "rev-parse", "--show-toplevel"))
    except GitFailed as exc:
        if exc.no_repository:
            return None
        raise


def commit_of(repo: Path, ref: str) -> Optional[str]:
    """The full hash of the commit `ref` names in `repo`, or None when it names none (or `repo`
    is no repository); TreeError when git is missing or fails otherwise, in its words."""
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except GitFailed as exc:
        # --verify --quiet: status 1 (quietly, or "expected commit type") is no such commit;
        # 128 is git failing, in its own words, unless there is no repository at all.
        if exc.status != 1 and not exc.no_repository:
            raise
        return None


def is_ancestor(repo: Path, commit: str, of: str) -> bool:
    """Whether `commit` is `of` or one of its ancestors; TreeError when git is missing or fails,
    in its words."""
    try:
        git(repo, "merge-base", "--is-ancestor", commit, of)
    except GitFailed as exc:
        # 1 is "no" only when quiet: with an object missing from a damaged repository git says
        # `error: Could not read <hash>` and exits 1 too, although it could not tell.
        if exc.status != 1 or _complains(exc.said):
            raise
        return False
    return True


def _complains(said: str) -> bool:
    return any(line.startswith(("error:", "fatal:")) for line in said.splitlines())
