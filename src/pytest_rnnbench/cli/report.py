"""`python -m pytest_rnnbench report RESULTS.json... [-o RESULTS.md] [--plots DIR]
[--benchmark-json PATH] [--comment PATH.md]`: one report from the results files of several runs
or machines. Its output flags come from the output registry (report/outputs.py).

Without -o the markdown goes to standard output. The terminal tables are printed (to standard
error when the markdown takes standard output), so a CI log shows the numbers either way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from ..report import markdown, terminal
from ..report.outputs import (
    BY_NAME,
    OUTPUTS,
    PLOTS_INSTALL,
    cannot_publish,
    from_arguments,
    plots_available,
    publish_outputs,
    written_lines,
)
from ..results.read import build_report, load
from ..results.schema import ResultsError


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
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
    for output in OUTPUTS:
        if output.cli:
            parser.add_argument(
                *output.cli, type=Path, metavar=output.metavar, help=output.cli_help
            )
    parser.add_argument(
        "--title", default=markdown.TITLE, help="the report's title (default: %(default)s)"
    )
    parser.set_defaults(handler=run)
    return parser


def _refusal(args: argparse.Namespace) -> Optional[str]:
    """Why the requested outputs cannot be written, before any file is read."""
    for output in OUTPUTS:
        if not output.cli or getattr(args, output.dest) is None:
            continue
        flag = output.cli[-1]
        if output.needs_matplotlib and not plots_available():
            return f"{flag} needs matplotlib: {PLOTS_INSTALL}"
        if output.needs_document and len(args.results) != 1:
            return f"{flag} renders one results file (one run's verdicts)"
    for name, path in from_arguments(args).items():  # before any file is written
        problem = cannot_publish(BY_NAME[name], path)
        if problem:
            return f"{BY_NAME[name].what}: {problem}"
    return None


def run(args: argparse.Namespace) -> int:
    problem = _refusal(args)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        documents = [(str(path), load(path)) for path in args.results]
        merged = build_report(documents)  # refuses a malformed case, naming its file
    except ResultsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for note in merged.notes:
        print(f"note: {note}", file=sys.stderr)
    # The pull-request comment is written even without a case: the pull request then reads so.
    written, failed = publish_outputs(
        merged,
        from_arguments(args),
        document=documents[0][1] if len(documents) == 1 else None,
        title=args.title,
        # The latest of the files' times (ISO 8601 UTC, so the text order is the time order).
        written=max((str(d.get("written") or "") for _, d in documents), default=""),
    )
    for line in failed:
        print(f"error: {line}", file=sys.stderr)
    if failed:
        for line in written_lines(written):
            print(line, file=sys.stderr)
        return 2
    if not merged.rows:
        print("error: the results files hold no case", file=sys.stderr)
        return 1
    markdown_file = getattr(args, BY_NAME["markdown"].dest)
    tables = sys.stdout if markdown_file is not None else sys.stderr
    for line in terminal.terminal_tables(merged):
        print(line, file=tables)
    if markdown_file is None:
        plots_dir = getattr(args, BY_NAME["charts"].dest)
        plots = None if plots_dir is None else plots_dir.as_posix()
        sys.stdout.write(markdown.render(merged, plots, title=args.title) + "\n")
    for line in written_lines(written):
        print(line, file=sys.stderr)
    return 0
