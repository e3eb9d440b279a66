"""`python -m pytest_rnnbench report RESULTS.json... [-o RESULTS.md] [--plots DIR]
[--benchmark-json PATH]`: one report from the results files of several runs or machines.

Without -o the markdown goes to standard output. The terminal tables are printed (to standard
error when the markdown takes standard output), so a CI log shows the numbers either way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..atomic import write_text
from ..report import comment, markdown, terminal
from ..report.publish import Outputs, plots_available, publish
from ..results.read import load, load_report
from ..results.schema import ResultsError


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "report",
        help="markdown report, charts and exports from results JSON files",
        description="Merge pytest-rnnbench results files (--rnnbench-json) from one or more "
        "runs or machines into one report in the layout of the seed's "
        "RNN_result.md. A case measured twice on the same machine keeps the "
        "later file's numbers.",
    )
    parser.add_argument(
        "results",
        nargs="+",
        type=Path,
        metavar="RESULTS.json",
        help="results files written by --rnnbench-json",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="RESULTS.md",
        help="write the markdown report here (default: standard output)",
    )
    parser.add_argument(
        "--plots",
        type=Path,
        metavar="DIR",
        help="write PNG charts to this directory (needs matplotlib)",
    )
    parser.add_argument(
        "--benchmark-json",
        type=Path,
        metavar="PATH",
        help="also write the results in pytest-benchmark's JSON format",
    )
    parser.add_argument(
        "--title", default=markdown.TITLE, help="the report's title (default: %(default)s)"
    )
    parser.add_argument(
        "--comment",
        type=Path,
        metavar="PATH.md",
        help="also write the verdicts as a pull-request comment (one results file only)",
    )
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.plots is not None and not plots_available():
        print(
            "error: --plots needs matplotlib: pip install 'pytest-rnnbench[plots]'", file=sys.stderr
        )
        return 2
    if args.comment is not None and len(args.results) != 1:
        print("error: --comment renders one results file (one run's verdicts)", file=sys.stderr)
        return 2
    try:
        merged = load_report(args.results)
    except ResultsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for note in merged.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.comment is not None:  # even with no case: the pull request then reads so
        write_text(args.comment, comment.render(load(args.results[0])))
    if not merged.rows:
        print("error: the results files hold no case", file=sys.stderr)
        return 1
    tables = sys.stdout if args.output is not None else sys.stderr
    for line in terminal.terminal_tables(merged):
        print(line, file=tables)
    written = publish(
        merged, Outputs(args.output, args.plots, args.benchmark_json, title=args.title)
    )
    if args.output is None:
        plots = None if args.plots is None else args.plots.as_posix()
        sys.stdout.write(markdown.render(merged, plots, title=args.title) + "\n")
    if args.comment is not None:
        written.append(("pull-request comment", args.comment))
    for what, path in written:
        if what != "chart":
            print(f"{what} written to {path}", file=sys.stderr)
    charts = [path for what, path in written if what == "chart"]
    if charts:
        print(f"{len(charts)} charts written to {charts[0].parent}", file=sys.stderr)
    return 0
