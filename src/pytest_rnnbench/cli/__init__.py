"""`python -m pytest_rnnbench COMMAND ...`: offline use of results and baseline files, e.g. in CI.

Each command is a module with `add_parser(commands)` that returns its parser with a `handler`
(args -> exit code) set.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Optional


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_rnnbench")
    commands = parser.add_subparsers(dest="command", required=True)
    from . import compare, report

    compare.add_parser(commands)
    report.add_parser(commands)
    args = parser.parse_args(argv)
    return int(args.handler(args))
