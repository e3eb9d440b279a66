"""The two Keras source trees of a pull-request gate: base and head.

Both sides of the gate run the same installed frameworks in the same interpreter; they differ only
by where `keras` is imported from. A side is a directory whose top holds the `keras` package (a
checkout of Keras 3 or of the Keras-MXNet fork); its workers get that directory first on
PYTHONPATH, and each worker checks that `keras` really came from there.

The base is usually a git ref: it is resolved to one commit (for a branch name, the merge-base with
HEAD, which is what the pull request changes) and that commit's tree is extracted with `git
archive` into a temporary directory, removed when the session ends (Ctrl-C included). A directory
works too (two checkouts side by side). Git runs as a subprocess, without a shell.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..backends import KERAS3_BACKENDS, KERAS_MXNET_BACKENDS


class TreeError(Exception):
    """A side cannot be used: the message names the ref or directory and what is wrong."""


@dataclass(frozen=True)
class SourceTree:
    """One side of the gate: where its `keras` package lies and which commit that is."""

    side: str  # "base" or "head"
    path: Path  # the directory put first on PYTHONPATH; `path / "keras"` is the package
    spec: str  # what the user named: a ref or a directory
    commit: Optional[str] = None  # full hash, when the tree is (a commit of) a git repository
    dirty: bool = False  # a working tree with uncommitted changes
    temporary: bool = False  # extracted by us, removed at the end

    @property
    def label(self) -> str:
        """ "base 1a2b3c4d5e6f (origin/master)", "head 9f8e7d6c5b4a + uncommitted changes"."""
        commit = self.commit[:12] if self.commit else "no commit"
        named = f" ({self.spec})" if self.spec and self.spec != str(self.path) else ""
        return f"{self.side} {commit}{' + uncommitted changes' if self.dirty else ''}{named}"

    def to_dict(self) -> dict[str, object]:
        return {
            "side": self.side,
            "spec": self.spec,
            "path": str(self.path),
            "commit": self.commit,
            "dirty": self.dirty,
        }


def git(repo: Path, *args: str, timeout: float = 120.0) -> str:
    """Run git in `repo` and return its output; TreeError with git's own message on failure."""
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=timeout
        )
    except FileNotFoundError:
        raise TreeError("git is not installed (it is needed to resolve a ref)") from None
    except subprocess.TimeoutExpired:
        raise TreeError(f"git {' '.join(args)} did not finish within {timeout:g} s") from None
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise TreeError(f"git {' '.join(args)} failed in {repo}: {message[-1] if message else ''}")
    return done.stdout.strip()


def git_or_none(directory: Path, *args: str, timeout: float = 10.0) -> Optional[str]:
    """git's output in `directory`, or None outside a repository or when git is missing, fails
    or takes too long: for what a run records about its checkout, where none is no error."""
    try:
        return git(directory, *args, timeout=timeout)
    except TreeError:
        return None


def toplevel(directory: Path) -> Optional[Path]:
    """The root of the git working tree that holds `directory`, or None outside git."""
    try:
        return Path(git(directory, "rev-parse", "--show-toplevel"))
    except TreeError:
        return None


def _is_branch(repo: Path, ref: str) -> bool:
    for prefix in ("refs/heads/", "refs/remotes/"):
        try:
            git(repo, "show-ref", "--verify", "--quiet", prefix + ref)
            return True
        except TreeError:
            continue
    return False


def resolve_commit(repo: Path, ref: str) -> str:
    """The commit a base ref stands for: the merge-base with HEAD for a branch, else the commit."""
    try:
        commit = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except TreeError:
        raise TreeError(
            f"--rnnbench-base={ref}: no such commit, branch or tag in {repo}, and no such "
            "directory (fetch the base first, e.g. `git fetch origin master`)"
        ) from None
    if _is_branch(repo, ref):
        # A branch has moved on since the pull request forked: compare with the fork point.
        return git(repo, "merge-base", "HEAD", commit)
    return commit


def _check_keras_package(path: Path, side: str, spec: str) -> None:
    if not (path / "keras" / "__init__.py").is_file():
        raise TreeError(
            f"the {side} tree {spec!r} ({path}) has no keras package at its top "
            "(expected keras/__init__.py): give the directory that holds `keras/`"
        )


def head_tree(spec: Optional[str], start: Path) -> SourceTree:
    """The head side: a directory (default: the git working tree around `start`), as it is now."""
    if spec:
        path = (start / Path(spec).expanduser()).resolve()
        if not path.is_dir():
            raise TreeError(f"--rnnbench-head={spec}: no such directory")
    else:
        found = toplevel(start)
        if found is None:
            raise TreeError(
                f"{start} is not inside a git working tree: run from a Keras checkout or give "
                "--rnnbench-head=DIR"
            )
        path = found
    _check_keras_package(path, "head", spec or str(path))
    repo = toplevel(path)
    commit = git(path, "rev-parse", "HEAD") if repo is not None else None
    dirty = repo is not None and bool(git(path, "status", "--porcelain", "--untracked-files=no"))
    return SourceTree("head", path, spec or str(path), commit, dirty)


def base_tree(spec: str, repo: Path, workdir: Path, start: Optional[Path] = None) -> SourceTree:
    """The base side: a directory used as it is, or a git ref extracted under `workdir`.

    A relative directory is looked up from `start` (where the command was run), then from the
    repository's top; anything that is not a directory is taken as a ref.
    """
    given = Path(spec).expanduser()
    places = [given] if given.is_absolute() else [Path(start or repo) / given, repo / given]
    candidate = next((place for place in places if place.is_dir()), None)
    if candidate is not None:
        path = candidate.resolve()
        _check_keras_package(path, "base", spec)
        top = toplevel(path)
        commit = git(path, "rev-parse", "HEAD") if top is not None else None
        dirty = top is not None and bool(git(path, "status", "--porcelain", "--untracked-files=no"))
        return SourceTree("base", path, spec, commit, dirty)
    commit = resolve_commit(repo, spec)
    target = Path(tempfile.mkdtemp(prefix=f"rnnbench-base-{commit[:12]}-", dir=workdir))
    try:
        extract(repo, commit, target)
        _check_keras_package(target, "base", spec)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return SourceTree("base", target, spec, commit, temporary=True)


def extract(repo: Path, commit: str, target: Path) -> None:
    """The files of `commit` into `target` (git archive, unpacked without following links out)."""
    with tempfile.TemporaryFile() as archive:
        try:
            subprocess.run(
                ["git", "-C", str(repo), "archive", "--format=tar", commit],
                stdout=archive,
                stderr=subprocess.PIPE,
                check=True,
                timeout=600,
            )
        except subprocess.CalledProcessError as exc:
            raise TreeError(
                f"git archive {commit[:12]} failed in {repo}: {exc.stderr.decode().strip()}"
            ) from None
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            # The "data" filter refuses absolute paths, links out of the target and devices.
            tar.extractall(target, filter="data")


def backends_of(tree: Path) -> tuple[str, ...]:
    """The backends a Keras tree serves: the fork has keras/backend/mxnet_backend.py, Keras 3 has
    keras/src (its sources) or keras/api (its public API)."""
    package = Path(tree) / "keras"
    if (package / "backend" / "mxnet_backend.py").is_file():
        return KERAS_MXNET_BACKENDS
    if (package / "src").is_dir() or (package / "api").is_dir():
        return KERAS3_BACKENDS
    return ()


def remove(tree: SourceTree) -> None:
    """Remove a tree that we extracted; a user's directory is never touched."""
    if tree.temporary:
        shutil.rmtree(tree.path, ignore_errors=True)
