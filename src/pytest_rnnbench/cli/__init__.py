"""`rnnbench COMMAND ...` (or `python -m pytest_rnnbench COMMAND ...`): gate a pull request, or
use results and baseline files offline, e.g. in CI, and follow many runs over time (history).

Each command is a module with `add_parser(commands)` that returns its parser with a `handler`
(args -> exit code) set.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Optional

from .. import __version__


def main(argv: Optional[Sequence[str]] = None, prog: str = "rnnbench") -> int:
    """Run one command (the console script `rnnbench`); `prog` is the name usage lines show."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    from . import bisect, compare, gate, history, report

    compare.add_parser(commands)
    report.add_parser(commands)
    gate.add_parser(commands)
    history.add_parser(commands)
    bisect.add_parser(commands)
    # The gate passes what it does not know to pytest; the other commands accept no extras.
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "passthrough", False):
        if "--" in extra:  # the separator before pytest's arguments (argparse keeps it in 3.11)
            extra.remove("--")
        return int(args.handler(args, extra))
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return int(args.handler(args))
