"""`python -m pytest_rnnbench history RESULTS.json... -o DIR`: how every case moved over many runs.

Reads the results files of nightly (or per-release) runs, from one machine or several, whole or as
shards, into one series per machine profile, case and workload; finds the change points of each
series with Apache Otava; writes DIR/history.md (the latest value of every case against the
previous run and its level before the last change point, the change points with what changed
around them, failed runs) and the charts under DIR, one folder per machine profile. Appends the
page, without charts, to the GitHub job summary when GITHUB_STEP_SUMMARY is set.

Exit status: 0 when the page was written (change points are reported, not judged); 1 when the
files hold no case (nothing is written); 2 when a file cannot be used (named in the message), an
option is wrong, or Otava or matplotlib is missing. Nothing is written before every file has
been read, and every file is written whole (atomic.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

from ..atomic import cannot_append, cannot_write, write_text
from ..history.changes import (
    OTAVA_INSTALL,
    Analysis,
    Detection,
    HistoryUnavailable,
    analyse_all,
    otava_available,
)
from ..history.runs import METRICS, HistoryError, Metric
from ..history.series import History, load_history
from ..report import history_page
from ..report.outputs import STEP_SUMMARY_ENV, plots_available
from ..results.schema import ResultsError
from .arguments import fraction_argument

PAGE = "history.md"
EXIT_OK, EXIT_EMPTY, EXIT_USAGE = 0, 1, 2


def _pvalue(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a p-value between 0 and 1, got {text!r}")
    return value


def _window(text: str) -> int:
    if not text.isdigit() or int(text) < 4:
        raise argparse.ArgumentTypeError(f"expected a whole number of runs >= 4, got {text!r}")
    return int(text)


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    defaults = Detection()
    parser = commands.add_parser(
        "history",
        help="series over many runs, their change points, charts and a page",
        description=__doc__.split("\n\n", 1)[1].split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument(
        "results",
        nargs="+",
        type=Path,
        metavar="RESULTS.json",
        help="results files written by --rnnbench-json, one per run (or shard)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="DIR",
        help=f"write DIR/{PAGE} and the charts here (default: the page to standard output, no "
        "charts)",
    )
    parser.add_argument(
        "--metric",
        choices=list(METRICS),
        default="time",
        help="what the page follows (default: %(default)s, seconds per epoch); the charts show "
        "time and memory",
    )
    parser.add_argument(
        "--title", default=history_page.TITLE, help="the page's title (default: %(default)s)"
    )
    parser.add_argument(
        "--max-pvalue",
        type=_pvalue,
        default=defaults.max_pvalue,
        metavar="P",
        help="a change point needs a t-test p-value below this (default: %(default)s)",
    )
    parser.add_argument(
        "--min-change",
        type=fraction_argument,
        default=defaults.min_change,
        metavar="FRACTION",
        help="and a change of the level of at least this, as 0.05 or 5%% (default: 5%%)",
    )
    parser.add_argument(
        "--window",
        type=_window,
        default=defaults.window,
        metavar="RUNS",
        help="runs per window in which candidates are sought (default: %(default)s)",
    )
    parser.add_argument(
        "--no-charts", action="store_true", help="write the page only (no matplotlib needed)"
    )
    parser.set_defaults(handler=run)
    return parser


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _refusal(args: argparse.Namespace, charts_wanted: bool) -> Optional[str]:
    """Why the history cannot be made as asked, before any file is read."""
    if not otava_available():
        return f"history needs Apache Otava: {OTAVA_INSTALL}"
    if args.output is not None and args.output.exists() and not args.output.is_dir():
        return f"-o {args.output}: not a directory"
    if args.output is not None and cannot_write(args.output / PAGE):
        return f"-o {args.output}: {cannot_write(args.output / PAGE)}"
    summary = os.environ.get(STEP_SUMMARY_ENV, "").strip()
    if summary and cannot_append(Path(summary)):  # GitHub's is a file that exists
        return f"{STEP_SUMMARY_ENV}: {cannot_append(Path(summary))}"
    if charts_wanted and not plots_available():
        return "charts need matplotlib: pip install 'pytest-rnnbench[plots]' (or --no-charts)"
    return None


def _say_failures(history: History) -> None:
    for series in history.series:
        for point in series.failures:
            cause = (point.row.failure.splitlines() or [""])[0]
            print(
                f"note: {point.run.source}: {point.row.case_id} failed ({cause}); shown as a "
                "failed run and left out of the change-point test",
                file=sys.stderr,
            )


def _publish(
    args: argparse.Namespace,
    history: History,
    analyses: Mapping[str, Sequence[Analysis]],
    metric: Metric,
    detection: Detection,
    charts_wanted: bool,
) -> Optional[str]:
    """Write the charts, the page and the CI job summary; what could not be written, if any."""
    page_analyses = analyses[metric.name]
    images = None
    try:
        if charts_wanted:
            from ..report import history_charts  # matplotlib only here

            images = history_charts.images(history)
            # Every chart's path before any is drawn: exit 2 writes nothing (a chart in the way
            # left new charts beside the old page).
            for _, relative in (shot for shots in images.values() for shot in shots):
                if problem := cannot_write(args.output / relative):
                    return f"cannot write the history: {problem}"
            charts = history_charts.render_all(history, analyses, args.output)
            print(f"{len(charts)} charts written to {args.output}", file=sys.stderr)
        page = history_page.render(history, page_analyses, metric, detection, images, args.title)
        if args.output is None:
            sys.stdout.write(page)
        else:
            write_text(args.output / PAGE, page)
            print(f"history page written to {args.output / PAGE}", file=sys.stderr)
    except OSError as exc:  # each file is written whole or not at all (atomic writes)
        return f"cannot write the history to {exc.filename or args.output}: {exc.strerror}"
    summary_file = os.environ.get(STEP_SUMMARY_ENV, "").strip()
    if summary_file:
        # GitHub Actions shows what each step appends to this file in the job's summary.
        try:
            with open(summary_file, "a", encoding="utf-8") as handle:
                handle.write(
                    history_page.render(history, page_analyses, metric, detection, None, args.title)
                    + "\n"
                )
        except OSError as exc:
            return (
                f"cannot append to {STEP_SUMMARY_ENV} ({summary_file}): {exc.strerror}; the "
                "page itself was written"
            )
    return None


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    charts_wanted = args.output is not None and not args.no_charts
    problem = _refusal(args, charts_wanted)
    if problem is not None:
        return _fail(problem)
    try:
        history = load_history(args.results)
    except (ResultsError, HistoryError) as exc:
        return _fail(str(exc))
    for note in history.notes:
        print(f"note: {note}", file=sys.stderr)
    if not history.series:
        print("error: the results files hold no case", file=sys.stderr)
        return EXIT_EMPTY
    detection = Detection(args.max_pvalue, args.min_change, args.window)
    metric = METRICS[args.metric]
    try:
        analyses = {name: analyse_all(history, METRICS[name], detection) for name in METRICS}
    except HistoryUnavailable as exc:
        return _fail(str(exc))
    _say_failures(history)
    problem = _publish(args, history, analyses, metric, detection, charts_wanted)
    if problem is not None:
        return _fail(problem)
    page_analyses = analyses[metric.name]
    changes = sum(len(a.changes) for a in page_analyses)
    runs = sum(len(listed) for listed in history.runs.values())
    out = sys.stderr if args.output is None else sys.stdout
    print(
        f"history: {runs} runs, {len(page_analyses)} series, {changes} change point(s) in "
        f"{metric.label}; {time.monotonic() - started:.1f} s",
        file=out,
    )
    return EXIT_OK
