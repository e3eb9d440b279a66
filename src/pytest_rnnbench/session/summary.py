"""The end of a benchmark run on pytest's terminal: the results tables, the judge's verdicts, the
counts line, and the outputs (through report/outputs.py, the pull-request comment included).

Everything goes through pytest's terminal reporter. A run that judged nothing says why in the
pull-request comment (each case's skip or unjudged reason); a run that selected no benchmark case
says why: its shard holds none, -k/-m deselected them all, or (no test uses the fixture) how to
run the seed suite.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

from ..report import terminal
from ..report.outputs import from_settings, publish_outputs, written_lines
from ..results.read import build_report
from ..settings import Settings


def no_case_selected(settings: Settings) -> str:
    """What a run that selected no benchmark case says: how to run the seed suite, as a command
    that runs as printed (settings.program)."""
    seed_suite = shlex.join([*settings.program, "--rnnbench", "--pyargs", "pytest_rnnbench.suite"])
    return (
        "rnnbench: no benchmark case was selected (no test here uses the rnnbench fixture); "
        f"to run the seed's benchmark suite: {seed_suite}"
    )


def nothing_selected(settings: Settings, in_shard: int, matrix: int, collected: int) -> str:
    """What a run that selected no benchmark case says: that its shard (`--rnnbench-shard`) of
    the `matrix` cases holds none of them, that -k/-m deselected every one of the `collected`
    cases, or else how to run the seed suite."""
    if settings.shard is not None and not in_shard:
        k, n = settings.shard
        cases = "the only case" if matrix == 1 else f"the {matrix} cases"
        return f"rnnbench: shard {k}/{n} holds none of {cases}; nothing to run here"
    if collected:
        cases = "the one benchmark case" if collected == 1 else f"all {collected} benchmark cases"
        return f"rnnbench: -k/-m deselected {cases} collected; none ran"
    return no_case_selected(settings)


def judged_nothing(settings: Settings, reason: str, status: int) -> str:
    """The line of a run that asked for verdicts (Settings.verdicts_required) and judged none."""
    if settings.gate_base is not None:
        return f"rnnbench: the pull-request gate judged no case: {reason}; exit status {status}"
    asked = "--rnnbench-against" if settings.live else "--rnnbench-require-baseline"
    return f"rnnbench: no case was judged, which {asked} asks for: {reason}; exit status {status}"


def not_judged(skipped: Mapping[str, str], unjudged: Mapping[str, str]) -> dict[str, str]:
    """Case id -> why it was not judged, as the results document records it."""
    reasons = {case_id: f"skipped: {why}" for case_id, why in skipped.items()}
    reasons.update({case_id: f"measured, not judged: {why}" for case_id, why in unjudged.items()})
    return reasons


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


def write_outputs(
    reporter: Any, document: Mapping[str, Any], settings: Settings, unwritten: Optional[str] = None
) -> bool:
    """Every output the settings ask for, through the output registry, and where each went;
    False when one could not be written (said, the others still written), the results file
    among them (`unwritten`: why its last write failed).

    The pull-request comment is written even when the run measured nothing (the pull request then
    reads why). Only the process that holds the whole run's document calls this: never a
    pytest-xdist worker.
    """
    paths = from_settings(settings)
    report = build_report([("this run", document)])
    done, failed = publish_outputs(
        report, paths, document=document, written=str(document["written"])
    )
    if settings.json_path is not None and not unwritten:
        reporter.write_line(f"rnnbench: results written to {settings.json_path}")
    for line in written_lines(done):
        reporter.write_line(f"rnnbench: {line}")
    failed = [*failed, *([unwritten] if unwritten else [])]
    for line in failed:
        reporter.write_line(f"rnnbench: error: {line}", red=True)
    return not failed
