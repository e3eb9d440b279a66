"""`python -m pytest_rnnbench gate --base REF`: gate a pull request in one command.

Runs the seed suite that ships inside the package (`pytest --pyargs pytest_rnnbench.suite`) with
the pull-request gate on: the Keras tree of this checkout (head) against REF (base), both measured
turn by turn on this machine in this interpreter. Everything after the gate's own options goes to
pytest unchanged (`-k`, `--rnnbench-python`, any other `--rnnbench-*` option), so the command is a
short spelling of a pytest run, never a second way of measuring.

Exit status: pytest's. 0: no regression (inconclusive cases pass, and the comment says why);
1: a regression, or a case that failed to run on either side; 2 and more: the gate itself could
not run (interrupted, a usage error such as an unknown ref, or no case selected).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Optional

from ..backends import BACKENDS
from ..run.trees import TreeError, backends_of, head_tree

GATE_INI = Path(__file__).resolve().parent.parent / "suite" / "gate.ini"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "gate",
        allow_abbrev=False,  # what it does not know goes to pytest, unabbreviated
        help="gate a pull request: this Keras tree (head) against its base, one verdict per case",
        description="Measure the seed's LSTM cases with the Keras of this checkout (head) and of "
        "BASE, in turns on this machine, and judge every case. Unknown arguments go to pytest "
        "(e.g. -k nietzsche, --rnnbench-python mxnet=PATH, --rnnbench-against-workers=5).",
    )
    parser.add_argument(
        "--base",
        required=True,
        metavar="REF|DIR",
        help="the base: a branch (its merge-base with HEAD is used), commit or tag, or a "
        "directory holding a keras package",
    )
    parser.add_argument(
        "--head",
        metavar="DIR",
        help="the head tree (default: the git working tree of the current directory)",
    )
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
        f"--rnnbench-base={args.base}",
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
    if not any(arg.startswith("--rnnbench-backends") for arg in extra):
        # Only the backends that the head tree's Keras serves (the fork: mxnet; Keras 3: the rest).
        try:
            served = backends_of(head_tree(args.head, cwd).path)
        except TreeError:
            served = ()  # pytest says what is wrong with the tree, as a usage error
        command.append(f"--rnnbench-backends={','.join(served or BACKENDS)}")
    return command + extra


def run(args: argparse.Namespace, extra: Optional[list[str]] = None) -> int:
    command = pytest_args(args, list(extra or []), Path.cwd())
    print("gate: pytest " + " ".join(command), file=sys.stderr, flush=True)
    # A pytest process of its own: this one has already imported the plugin, which pytest would
    # then not rewrite, and a child that owns the run is what Ctrl-C and exit codes expect.
    child = subprocess.Popen([sys.executable, "-m", "pytest", *command])
    try:
        return child.wait()
    except KeyboardInterrupt:
        # The child got the same Ctrl-C: let it remove the base tree and write what it has.
        return child.wait()
