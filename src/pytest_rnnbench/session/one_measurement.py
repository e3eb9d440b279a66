"""A run measures each case once. Every test that uses the `rnnbench` fixture is given every case
(the fixture takes no arguments), and the results file, the verdicts and the baseline keep one
measurement per case: a second test, or a second call in one test, would replace the first's
results and add a second session from one run to the stored baseline, whose spread then
understates the machine's (sessions are meant to be independent runs)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Optional

import pytest


def second_tests(
    items: Iterable[pytest.Item], case_of: Callable[[pytest.Item], Optional[str]]
) -> str:
    """Why the selected benchmark `items` cannot run together ("" when they can): two tests
    given one case (`case_of`: an item's case id, None for none)."""
    first: dict[str, str] = {}
    for item in items:
        case_id = case_of(item)
        if case_id is None:
            continue
        if case_id in first and first[case_id] != item.nodeid:
            return (
                f"two benchmark tests measure case {case_id}: {first[case_id]} and "
                f"{item.nodeid}. Every test that uses the rnnbench fixture runs every case, and "
                "a run keeps one measurement per case (results, verdict, baseline session); keep "
                "one such test, or select one (-k, or its file)"
            )
        first[case_id] = item.nodeid
    return ""


def second_call(case_id: str) -> str:
    """The failure of a test that calls rnnbench() again for a case this run measured."""
    return (
        f"{case_id}: measured already in this run (rnnbench() called twice?): a run keeps one "
        "measurement per case; call it once per test"
    )
