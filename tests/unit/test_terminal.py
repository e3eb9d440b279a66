"""The terminal tables (report/terminal.py), on real results files (golden files in
tests/golden/)."""

from __future__ import annotations

import pytest

from helpers import check_golden, fixed_report, report_with_verdicts
from pytest_rnnbench.report import terminal


def test_terminal_tables_match_golden_file():
    lines = terminal.terminal_tables(fixed_report())
    check_golden("terminal.txt", "\n".join(lines) + "\n")
    assert max(map(len, lines)) <= 120


def test_terminal_tables_with_verdicts_match_golden_file_and_fit_120_columns():
    lines = terminal.terminal_tables(report_with_verdicts())
    check_golden("terminal-verdicts.txt", "\n".join(lines) + "\n")
    assert max(map(len, lines)) <= 120
    text = "\n".join(lines)
    assert "+12.4%" in text and "regression" in text and "inconclusive" in text


@pytest.mark.parametrize("width", [72, 80, 100])
def test_narrow_terminal_splits_backends_instead_of_wrapping(width):
    lines = terminal.terminal_tables(report_with_verdicts(), width=width)
    assert max(map(len, lines)) <= width
    text = "\n".join(lines)
    for backend in ("tensorflow", "jax", "torch", "mxnet"):
        assert backend in text


def test_the_counts_line_keeps_unjudged_regressed_and_failed_apart():
    document = {
        "results": {"a": {}, "b": {}, "c": {}, "d": {}},
        "verdicts": {"a": {"verdict": "pass"}, "b": {"verdict": "regression"}},
        "failures": {"e": "worker was killed"},
    }
    # b failed its test through its regression verdict: counted as a regression, not again as a
    # failure; d failed for another reason (e.g. --rnnbench-require-baseline); e's worker died.
    assert terminal.counts_line(document, failed={"b", "d", "e"}) == (
        "4 measured, 2 judged (1 regression, 1 pass), 2 not judged, 2 failed"
    )
    assert terminal.counts_line({"results": {"a": {}}}, saving=True) == (
        "1 measured (baselines recorded, nothing judged), 0 failed"
    )
