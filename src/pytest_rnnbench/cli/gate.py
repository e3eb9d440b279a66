"""`python -m pytest_rnnbench gate --base REF`: gate a pull request in one command.

Runs the seed suite that ships inside the package (`pytest --pyargs pytest_rnnbench.suite`) with
the pull-request gate on: the Keras tree of this checkout (head) against REF (base), both measured
turn by turn on this machine in this interpreter. Everything after the gate's own options goes to
pytest unchanged (`-k`, `--rnnbench-python`, any other `--rnnbench-*` option), so the command is a
short spelling of a pytest run, never a second way of measuring.

The base is a git ref (`--base`), or a directory only when named as one (`--base-dir`): a ref that
the checkout does not have must not fall back to a directory of that name in the pull request's
own files. The child pytest runs without the current directory on sys.path (`-P`), so a
`pytest.py` or `pytest_rnnbench/` in the checkout cannot replace the gate's code; a SIGTERM (a
cancelled CI job) is passed on to it, so that it stops its workers and removes the base tree.

Exit status: pytest's. 0: no regression (inconclusive cases pass, and the comment says why);
1: a regression, or a case that failed to run on either side; 2 and more: the gate itself could
not run (interrupted, an output it could not write (3), a usage error such as an unknown ref (4),
or no case selected); 10: it judged no case.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn, Optional

from ..backends import BACKENDS
from ..invocation import pytest_program, python_module
from ..run.git import toplevel
from ..run.trees import TreeError, UnknownRef, backends_of, head_tree, resolve_commit

PYTEST_INTERRUPTED = 2  # pytest's exit status after Ctrl-C or SIGTERM
USAGE_ERROR = 4  # pytest's exit status for a usage error, which an unknown ref is

# The plugin's environment variable for --rnnbench-backends (options/table.py): the option the gate
# would add beats it, as a command line beats the environment.
BACKENDS_ENV = "RNNBENCH_BACKENDS"
GATE_INI = Path(__file__).resolve().parent.parent / "suite" / "gate.ini"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "gate",
        allow_abbrev=False,  # what it does not know goes to pytest, unabbreviated
        help="gate a pull request: this Keras tree (head) against its base, one verdict per case",
        description="Measure the seed's LSTM cases with the Keras of this checkout (head) and of "
        "BASE, in turns on this machine, and judge every case. Unknown arguments go to pytest "
        "(e.g. -k nietzsche, --rnnbench-python mxnet=PATH, --rnnbench-against-workers=5). "
        "Exit status: 0 no regression, 1 a regression or a case that failed, 2 interrupted, 3 an "
        "output it could not write or an internal error, 4 a usage error, 5 no case selected, "
        "10 no case judged.",
    )
    base = parser.add_mutually_exclusive_group(required=True)
    base.add_argument(
        "--base",
        metavar="REF",
        help="the base: a branch (its merge-base with HEAD is used), commit or tag of the head's "
        "repository",
    )
    base.add_argument(
        "--base-dir",
        metavar="DIR",
        help="the base as a directory holding a keras package (e.g. a second checkout)",
    )
    parser.add_argument(
        "--head-dir",
        dest="head",  # the Namespace keeps its name from 0.1
        metavar="DIR",
        help="the head tree, a directory holding a keras package (default: the git working tree "
        "of the current directory)",
    )
    # Up to 0.1 `--head DIR` named the head directory; a ref is not a head (check it out).
    parser.add_argument("--head", dest="old_head", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument(
        "--comment",
        type=Path,
        metavar="PATH.md",
        help="write the pull-request comment (markdown) here",
    )
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help="write the results file (--rnnbench-json) here"
    )
    parser.add_argument(
        "--matrix",
        default="pr",
        metavar="NAME",
        help="matrix preset (default: %(default)s, sized for a small CPU runner; seed: the full "
        "published matrix)",
    )
    parser.set_defaults(handler=run, passthrough=True)
    parser.error = _usage_error(parser)  # type: ignore[method-assign,assignment]


def _usage_error(parser: argparse.ArgumentParser) -> Callable[[str], NoReturn]:
    """argparse's error, with pytest's usage-error status: the gate passes pytest's statuses on,
    where argparse's own 2 would read as "interrupted"."""

    def error(message: str) -> NoReturn:
        parser.print_usage(sys.stderr)
        parser.exit(USAGE_ERROR, f"{parser.prog}: error: {message}\n")

    return error


def pytest_args(args: argparse.Namespace, extra: list[str], cwd: Path) -> list[str]:
    """The pytest command line that this gate run stands for."""
    command = [
        # The gate's own configuration: a Keras checkout's pytest.ini, setup.cfg or conftest.py
        # (which may import keras into this process) are for Keras's own tests.
        "-c",
        str(GATE_INI),
        f"--rootdir={cwd}",
        "--noconftest",
        "--pyargs",
        "pytest_rnnbench.suite",
        "--rnnbench",
        base_option(args, cwd),
        f"--rnnbench-matrix={args.matrix}",
        "-p",
        "no:cacheprovider",
        "-ra",
    ]
    if args.head:
        command.append(f"--rnnbench-head={args.head}")
    if args.comment is not None:
        command.append(f"--rnnbench-comment={args.comment}")
    if args.json is not None:
        command.append(f"--rnnbench-json={args.json}")
    chosen = any(arg.startswith("--rnnbench-backends") for arg in extra)
    if not chosen and not os.environ.get(BACKENDS_ENV, "").strip():  # a CI job's, say: it holds
        # Only the backends that the head tree's Keras serves (the fork: mxnet; Keras 3: the rest).
        try:
            served = backends_of(head_tree(args.head, cwd).path)
        except TreeError:
            served = ()  # pytest says what is wrong with the tree, as a usage error
        command.append(f"--rnnbench-backends={','.join(served or BACKENDS)}")
    return command + extra


def base_option(args: argparse.Namespace, cwd: Path) -> str:
    """The plugin's option for the base: --rnnbench-base=REF (a ref only), or
    --rnnbench-base-dir= with --base-dir as an absolute directory."""
    directory = base_dir(args)
    if directory is None:
        return f"--rnnbench-base={args.base}"
    return f"--rnnbench-base-dir={Path(cwd, directory).resolve()}"


def base_dir(args: argparse.Namespace) -> Optional[Path]:
    """--base-dir, `~` expanded as a shell would not in `--base-dir=~/k` (a Namespace made by
    hand for 0.1's options may not have it)."""
    directory = getattr(args, "base_dir", None)
    return None if directory is None else Path(os.path.expanduser(directory))


def check_base(args: argparse.Namespace, cwd: Path) -> None:
    """TreeError unless the base is what it was named as: `--base` a ref of the head's
    repository (never a directory of that name), `--base-dir` a directory."""
    directory = base_dir(args)
    if directory is not None:
        if not Path(cwd, directory).is_dir():
            raise TreeError(f"--base-dir {directory}: no such directory")
        return
    try:
        repo = toplevel(head_tree(args.head, cwd).path)
    except TreeError:
        return  # pytest says what is wrong with the head tree
    if repo is None:
        raise TreeError(f"--base {args.base}: the head tree is no git repository (use --base-dir)")
    try:
        resolve_commit(repo, args.base)
    except UnknownRef as exc:  # a ref git does not know: perhaps a directory, named as a ref
        raise TreeError(f"--base {exc}; a directory is given with --base-dir") from None
    except TreeError as exc:  # no fork point, or git failing: no directory would help
        raise TreeError(f"--base {exc}") from None


# Plugin options that name the trees: passed through they would override the gate's, after its
# checks and its choice of backends were made on the tree it was given.
GATE_OWNED = ("--rnnbench-head", "--rnnbench-base", "--rnnbench-base-dir", "--rnnbench-against")


def owned_among(extra: Sequence[str], owned: Sequence[str] = GATE_OWNED) -> list[str]:
    """The pass-through arguments that are options the command sets itself (`owned`)."""
    return [arg for arg in extra if arg.split("=", 1)[0] in owned]


def run(args: argparse.Namespace, extra: Optional[list[str]] = None) -> int:
    """Run the gate's pytest in a child process; its exit status."""
    cwd = Path.cwd()
    if getattr(args, "old_head", None) is not None:
        print("gate: error: --head is now --head-dir DIR (a directory)", file=sys.stderr)
        return USAGE_ERROR
    owned = owned_among(extra or [])
    if owned:
        print(
            f"gate: error: {', '.join(owned)}: the gate's own options name the trees "
            "(--base, --base-dir, --head-dir); leave it out",
            file=sys.stderr,
        )
        return USAGE_ERROR
    try:
        head_tree(args.head, cwd)  # said here in the gate's words, not the plugin option's
    except TreeError as exc:
        said = str(exc).replace("--rnnbench-head=DIR", "--head-dir DIR")
        print(f"gate: error: {said.replace('--rnnbench-head=', '--head-dir ')}", file=sys.stderr)
        return USAGE_ERROR
    try:
        check_base(args, cwd)
    except TreeError as exc:
        print(f"gate: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    command = pytest_args(args, list(extra or []), cwd)
    # What it runs, spelled so that it runs as printed in this shell (the child itself gets -P).
    print("gate: " + shlex.join([*pytest_program(), *command]), file=sys.stderr, flush=True)
    # A pytest process of its own: this one has already imported the plugin, which pytest would
    # then not rewrite, and a child that owns the run is what Ctrl-C and exit codes expect.
    child = subprocess.Popen([*python_module("pytest"), *command])
    return wait_forwarding(child)


def wait_forwarding(child: subprocess.Popen[bytes]) -> int:
    """Wait for `child`, passing a SIGTERM or SIGHUP on to it as SIGTERM (a cancelled job, a lost
    terminal must not orphan the run); its exit status, or PYTEST_INTERRUPTED when a signal
    stopped the run. A child still starting up has no handler yet and dies of the signal itself
    (a negative status): without this, a bisect would take the step as unmeasurable and go on,
    and the gate would exit 241."""
    signalled = False

    def forward(signum: int, frame: Optional[FrameType]) -> None:
        nonlocal signalled
        signalled = True
        child.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGHUP)}
    previous_int = signal.getsignal(signal.SIGINT)
    try:
        status = child.wait()
    except KeyboardInterrupt:
        # The child got the same Ctrl-C: let it remove the base tree and write what it has. A
        # second Ctrl-C reaches it too (pytest's own business); here it must not end the wait.
        signalled = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        status = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.signal(signal.SIGINT, previous_int)
    if signalled or status in (-signal.SIGINT, -signal.SIGTERM, -signal.SIGHUP):
        return PYTEST_INTERRUPTED
    if status < 0:  # killed by another signal (SIGKILL: out of memory): as a shell reports it
        print(f"gate: pytest was killed by signal {-status}", file=sys.stderr)
        return 128 - status
    return status
