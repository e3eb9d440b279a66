"""`python -m pytest_rnnbench compare|report ...`: offline use of results files, e.g. in CI."""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_rnnbench")
    commands = parser.add_subparsers(dest="command", required=True)
    # Each command module adds its own arguments and returns the process exit code.
    from . import cli_compare, cli_report

    cli_compare.add_parser(commands)
    cli_report.add_parser(commands)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
