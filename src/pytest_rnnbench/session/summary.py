"""The end of a benchmark run on pytest's terminal: the results tables, the judge's verdicts, the
counts line, what was written where, and the pull-request comment.

Everything goes through pytest's terminal reporter. A run that judged nothing says why in the
pull-request comment (each case's skip or unjudged reason); a run that selected no benchmark case
at all says how to run the seed suite.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

from ..atomic import write_text
from ..report import comment, terminal
from ..report.publish import Outputs, publish
from ..results.document import build_report
from ..settings import Settings

SEED_SUITE = "pytest --rnnbench --pyargs pytest_rnnbench.suite"
NO_CASE_SELECTED = (
    "rnnbench: no benchmark case was selected (no test here uses the rnnbench fixture); "
    f"to run the seed's benchmark suite: {SEED_SUITE}"
)


def why_nothing_judged(
    document: Mapping[str, Any], skipped: Mapping[str, str], unjudged: Mapping[str, str]
) -> list[str]:
    """Why a run judged no case, one line per case ("`case`: skipped: reason"); [] when the run
    judged a case or failed one (then the comment's headline says that instead)."""
    if document.get("verdicts") or document.get("failures"):
        return []
    lines = []
    for case_id in sorted(set(skipped) | set(unjudged)):
        if case_id in unjudged:
            lines.append(f"- `{case_id}`: measured, not judged: {unjudged[case_id]}")
        else:
            lines.append(f"- `{case_id}`: skipped: {skipped[case_id]}")
    return lines


def nothing_judged_headline(measured: int, skipped: int) -> str:
    """The headline's reason when no case was judged: what happened to the cases."""
    if not measured:
        return f"nothing was measured ({skipped} skipped)" if skipped else "nothing was measured"
    return f"{measured} measured but not judged" + (f", {skipped} skipped" if skipped else "")


def nothing_judged(document: Mapping[str, Any], skipped: Iterable[str]) -> str:
    """nothing_judged_headline for a results document and the skipped cases (a live case that
    was measured but not judged is skipped too: it counts as measured)."""
    results = document.get("results") or {}
    return nothing_judged_headline(len(results), len(set(skipped) - set(results)))


def comment_text(
    document: Mapping[str, Any], reasons: Sequence[str], skipped: Iterable[str] = ()
) -> str:
    """The pull-request comment (report/comment.py); when no case was judged, its headline says
    what happened and a list says why for each case (`reasons`, from why_nothing_judged)."""
    text = comment.render(document)
    judged_nothing = f"### pytest-rnnbench: {comment.headline({})}"
    lines = text.split("\n")
    if len(lines) < 2 or lines[1] != judged_nothing:
        return text
    lines[1] += ": " + nothing_judged(document, skipped)
    if reasons:
        lines[2:2] = ["", "Why no case was judged:", "", *reasons]
    return "\n".join(lines)


def write_comment(
    reporter: Any,
    path: Path,
    document: Mapping[str, Any],
    reasons: Sequence[str],
    skipped: Iterable[str],
) -> None:
    """Write the pull-request comment, and say where."""
    # Written even when nothing ran: the pull request then reads that nothing was judged.
    write_text(path, comment_text(document, reasons, skipped))
    reporter.write_line(f"rnnbench: pull-request comment written to {path}")


def table_width(reporter: Any, tty: bool) -> int:
    """120 columns, or less on a narrower terminal; logs and pipes get the full 120."""
    if not tty:
        return terminal.TERMINAL_WIDTH
    width = getattr(getattr(reporter, "_tw", None), "fullwidth", terminal.TERMINAL_WIDTH)
    return max(60, min(terminal.TERMINAL_WIDTH, int(width)))


def write_results(
    reporter: Any,
    document: dict[str, Any],
    settings: Settings,
    judge_lines: Sequence[str],
    failed_cases: Iterable[str],
    width: int,
    failed_logs: Optional[Path] = None,
) -> None:
    """The results tables, the verdicts, the counts line and the files written."""
    results = build_report([("this run", document)])
    # write_sep, as pytest's own summaries: starts on a fresh line whatever the last test left
    reporter.write_sep("=", "rnnbench results")
    for line in terminal.terminal_tables(results, width):
        reporter.write_line(line)
    if judge_lines:
        reporter.section("rnnbench baselines" if settings.save_baseline else "rnnbench verdicts")
        for line in judge_lines:
            reporter.write_line(line)
    counts = terminal.counts_line(document, saving=settings.save_baseline, failed=failed_cases)
    reporter.write_line("rnnbench: " + counts)
    if failed_logs is not None:
        reporter.write_line(f"rnnbench: the full output of each failed worker is in {failed_logs}")
    written = []
    if settings.json_path is not None:
        written.append(("results", settings.json_path))
    s = settings
    written += publish(
        results,
        Outputs(s.report_path, s.plots_dir, s.benchmark_json_path),
        written=document["written"],
    )
    for what, path in written:
        if what != "chart":
            reporter.write_line(f"rnnbench: {what} written to {path}")
    charts = [path for what, path in written if what == "chart"]
    if charts:
        reporter.write_line(f"rnnbench: {len(charts)} charts written to {charts[0].parent}")
