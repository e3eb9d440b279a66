"""The two Keras source trees of a pull-request gate: base and head.

Both sides of the gate run the same installed frameworks in the same interpreter; they differ only
by where `keras` is imported from. A side is a directory whose top holds the `keras` package (a
checkout of Keras 3 or of the Keras-MXNet fork); its workers get that directory first on
PYTHONPATH, and each worker checks that `keras` really came from there.

The base is usually a git ref: it is resolved to one commit (for a branch name, the merge-base with
HEAD, which is what the pull request changes) and that commit's tree is extracted with `git
archive` into a temporary directory, removed when the session ends (Ctrl-C included). A directory
works too (two checkouts side by side), but only when asked for as one (`kind="dir"`): a name that
may be either is tried as a ref first, so a directory in the pull request's own checkout cannot
stand in for the base that the user named. Git runs as a subprocess, without a shell.

An extracted tree is also removed when the process ends without the session's own cleanup: an
error while the session starts (atexit) or a SIGTERM (a cancelled CI job), which is turned into
KeyboardInterrupt so that pytest stops its workers and cleans up as after Ctrl-C.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Literal, Optional

from ..backends import KERAS3_BACKENDS, KERAS_MXNET_BACKENDS
from ..signals import sigterm_is_ours_to_take
from .git import GitFailed, commit_of, git, is_ancestor, toplevel
from .git import TreeError as TreeError  # every caller's error: a tree's and git's alike
from .git import git_or_none as git_or_none  # verdicts/baseline.py imports it from here

# How long `git archive` of a whole Keras tree may take (seconds); a larger tree is a stuck git.
ARCHIVE_TIMEOUT_S = 600.0
# What a base names: "ref" (a git ref only), "dir" (a directory only), "any" (a ref, else a
# directory: the compatible reading of --rnnbench-base).
Kind = Literal["ref", "dir", "any"]
FETCH_HINT = "fetch the base first, e.g. `git fetch origin master`"


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


def _is_branch(repo: Path, ref: str) -> bool:
    """Whether `ref` names a local or remote-tracking branch, however spelled (`main`,
    `origin/main`, `remotes/origin/main`, `refs/remotes/origin/main`)."""
    try:
        full = git(repo, "rev-parse", "--symbolic-full-name", ref)
    except TreeError:
        return False
    return full.startswith(("refs/heads/", "refs/remotes/"))


class NoForkPoint(TreeError):
    """The base names a commit, but HEAD and it share no history here (a shallow clone)."""


class UnknownRef(TreeError):
    """No commit of that name in the repository (or no repository): unfetched, or a directory."""


def resolve_commit(repo: Path, ref: str) -> str:
    """The commit a base ref stands for: its merge-base with HEAD (the pull request's fork point)
    for a branch or any commit HEAD does not contain, else the commit itself (a tag or commit
    HEAD was built on). A commit HEAD lacks, such as a base branch's tip that moved on after the
    fork (a pull_request event's base.sha), would measure the pull request together with the
    reverse of every later upstream change."""
    _check_ref_name(ref)
    commit = commit_of(repo, ref)
    if commit is None:
        raise UnknownRef(f"{ref}: no such commit, branch or tag in {repo} ({FETCH_HINT})")
    if not _is_branch(repo, ref) and is_ancestor(repo, commit, "HEAD"):
        return commit
    try:
        return git(repo, "merge-base", "HEAD", commit)
    except GitFailed as exc:
        if exc.status != 1:  # 1, quietly: no common ancestor; else git failed
            raise
        shallow = git_or_none(repo, "rev-parse", "--is-shallow-repository") == "true"
        why = (
            "this clone is shallow: fetch the whole history (actions/checkout `fetch-depth: 0`, "
            "or `git fetch --unshallow`)"
            if shallow
            else "they share no history"
        )
        raise NoForkPoint(f"{ref}: HEAD and {commit[:12]} have no common ancestor: {why}") from None


def _check_ref_name(ref: str) -> None:
    if ref.startswith("-"):  # git would read it as one of its options
        raise TreeError(f"{ref}: a ref does not start with '-'")


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
    return directory_tree("head", spec or str(path), path)


def base_tree(
    spec: str,
    repo: Path,
    workdir: Path,
    start: Optional[Path] = None,
    kind: Kind = "any",
    within: str = "",
) -> SourceTree:
    """The base side: a git ref extracted under `workdir`, or a directory used as it is.

    `kind` says what `spec` may be (see Kind). A relative directory is looked up from `start`
    (where the command was run), then from the repository's top. `within`: the head's folder
    in the repository ("python" when the head is repo/python), which a ref's files are taken
    from, as the head's are.
    """
    if kind == "ref":
        _check_ref_name(spec)
    if kind != "dir":
        try:
            commit = resolve_commit(repo, spec)
        except UnknownRef:
            directory = _directory(spec, repo, start) if kind == "any" else None
            if directory is None:
                also = ", and no such directory" if kind == "any" else ""
                raise TreeError(
                    f"--rnnbench-base={spec}: no such commit, branch or tag in {repo}{also} "
                    f"({FETCH_HINT})"
                ) from None
        else:
            return _extracted(spec, repo, commit, workdir, within)
    directory = _directory(spec, repo, start)
    if directory is None:
        option = "--rnnbench-base-dir" if kind == "dir" else "--rnnbench-base"
        raise TreeError(f"{option}={spec}: no such directory")
    return directory_tree("base", spec, directory)


def _directory(spec: str, repo: Path, start: Optional[Path]) -> Optional[Path]:
    given = Path(spec).expanduser()
    places = [given] if given.is_absolute() else [Path(start or repo) / given, repo / given]
    return next((place.resolve() for place in places if place.is_dir()), None)


def directory_tree(side: str, spec: str, path: Path) -> SourceTree:
    """A side that is a directory, as it is now (its commit and uncommitted changes, if git)."""
    _check_keras_package(path, side, spec)
    # Only a repository's own top is that commit: a directory inside another checkout (untracked,
    # or one part of it) is not what the outer HEAD names.
    top = toplevel(path)
    own = top is not None and top.resolve() == path.resolve()
    commit = git(path, "rev-parse", "HEAD") if own else None
    dirty = own and bool(git(path, "status", "--porcelain", "--untracked-files=no"))
    return SourceTree(side, path, spec, commit, dirty)


def _extracted(spec: str, repo: Path, commit: str, workdir: Path, within: str) -> SourceTree:
    target = Path(tempfile.mkdtemp(prefix=f"rnnbench-base-{commit[:12]}-", dir=workdir))
    _track(target)
    try:
        extract(repo, f"{commit}:{within}" if within else commit, target)
        _check_keras_package(target, "base", spec)
    except BaseException:
        _untrack_and_remove(target)
        raise
    return SourceTree("base", target, spec, commit, temporary=True)


def extract(repo: Path, commit: str, target: Path, timeout: float = ARCHIVE_TIMEOUT_S) -> None:
    """The files of `commit` into `target` (git archive, unpacked without following links out).

    TreeError, naming the command and git's own message, when git is missing, fails or takes
    longer than `timeout` seconds, or when its archive cannot be unpacked.
    """
    shown = f"`git -C {repo} archive --format=tar {commit}`"
    with tempfile.TemporaryFile() as archive:
        try:
            subprocess.run(
                ["git", "-C", str(repo), "archive", "--format=tar", commit],
                stdout=archive,
                stderr=subprocess.PIPE,
                check=True,
                timeout=timeout,
            )
        except FileNotFoundError:
            raise TreeError(f"{shown}: git is not installed") from None
        except subprocess.TimeoutExpired as exc:
            raise TreeError(
                f"{shown} did not finish within {timeout:g} s{_stderr(exc.stderr)}"
            ) from None
        except subprocess.CalledProcessError as exc:
            raise TreeError(
                f"{shown} failed (exit status {exc.returncode}){_stderr(exc.stderr)}"
            ) from None
        archive.seek(0)
        try:
            with tarfile.open(fileobj=archive) as tar:
                _extract_within(tar, target)
        except (tarfile.TarError, OSError, ValueError) as exc:
            raise TreeError(f"cannot unpack the archive of {shown} into {target}: {exc}") from None


def _extract_within(tar: tarfile.TarFile, target: Path) -> None:
    """Unpack `tar` into `target` and nowhere else: tarfile's "data" filter where this Python has
    extraction filters (3.10.12, 3.11.4 and later). Before them, a stricter rule made here
    (ValueError naming the member): only files, directories and links; no name and no link
    target that is absolute or climbs (`..`). Every link then points down from where it is, so
    no chain of links, whatever order they are unpacked in, leads out of the target."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(target, filter="data")
        return
    members = tar.getmembers()
    for member in members:
        if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
            raise ValueError(f"{member.name!r} is not a regular file, directory or link")
        places = (
            [member.name, member.linkname] if member.issym() or member.islnk() else [member.name]
        )
        for place in places:
            parts = place.replace("\\", "/").split("/")
            if os.path.isabs(place) or ".." in parts:
                raise ValueError(
                    f"{member.name!r} names a path outside the target or climbing ({place!r}); "
                    "this Python has no tarfile extraction filters, so no link may climb"
                )
    tar.extractall(target, members=members)


def _stderr(raw: Optional[bytes]) -> str:
    text = (raw or b"").decode(errors="replace").strip()
    return f": {text}" if text else " (no message from git)"


def backends_of(tree: Path) -> tuple[str, ...]:
    """The backends a Keras tree serves: the fork has keras/backend/mxnet_backend.py, Keras 3 a
    package keras/src/backend (Keras 2.13-2.15 have keras/src too, with a module backend.py, and
    every Keras 2 has keras/api)."""
    package = Path(tree) / "keras"
    if (package / "backend" / "mxnet_backend.py").is_file():
        return KERAS_MXNET_BACKENDS
    if (package / "src" / "backend").is_dir():
        return KERAS3_BACKENDS
    return ()


def remove(tree: SourceTree) -> None:
    """Remove a tree that we extracted; a user's directory is never touched."""
    if tree.temporary:
        _untrack_and_remove(tree.path)


# The trees this process extracted and has not removed yet.
_EXTRACTED: set[Path] = set()
_HOOKED = False


def _track(path: Path) -> None:
    global _HOOKED
    _EXTRACTED.add(path)
    if _HOOKED:
        return
    _HOOKED = True
    atexit.register(remove_extracted)
    if sigterm_is_ours_to_take():
        signal.signal(signal.SIGTERM, _on_sigterm)


def _untrack_and_remove(path: Path) -> None:
    _EXTRACTED.discard(path)
    shutil.rmtree(path, ignore_errors=True)


def remove_extracted() -> None:
    """Remove every tree this process extracted and still holds (at exit; on SIGTERM)."""
    for path in list(_EXTRACTED):
        _untrack_and_remove(path)


def _on_sigterm(signum: int, frame: Optional[FrameType]) -> None:
    if _EXTRACTED:
        # As after Ctrl-C: pytest stops the workers, writes its results and removes the trees.
        raise KeyboardInterrupt(f"signal {signum} (SIGTERM)")
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)  # nothing of ours to clean: end as SIGTERM does
