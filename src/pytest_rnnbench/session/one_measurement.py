"""A run measures each case once. Every test that uses the `rnnbench` fixture is given every case
(the fixture takes no arguments), and the results file, the verdicts and the baseline keep one
measurement per case: a second test, or a second call in one test, would replace the first's
results and add a second session from one run to the stored baseline, whose spread then
understates the machine's (sessions are meant to be independent runs)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Optional

import pytest


def later_tests(
    items: Iterable[pytest.Item], case_of: Callable[[pytest.Item], Optional[str]]
) -> dict[str, str]:
    """The selected benchmark `items` that another test measures first, by node id, each with
    why it does not run (`case_of`: an item's case id, None for none). Failed one by one rather
    than refused at collection: a pytest-xdist worker's usage error ends the run without a word
    of it."""
    first: dict[str, str] = {}
    later = {}
    for item in items:
        case_id = case_of(item)
        if case_id is None:
            continue
        earlier = first.setdefault(case_id, item.nodeid)
        if earlier != item.nodeid:
            later[item.nodeid] = (
                f"{case_id}: not measured: {earlier} measures it in this run. Every test that "
                "uses the rnnbench fixture runs every case, and a run keeps one measurement per "
                "case (results, verdict, baseline session); keep one such test, or select one "
                "(-k, or its file)"
            )
    return later


def family_size(
    items: Sequence[pytest.Item], case_of: Callable[[pytest.Item], Optional[str]], others: int
) -> int:
    """The cases a run judges (its family: verdicts/family.py): its items but a second test's,
    which fail unmeasured, and the `others` of the matrix's other shards (merged by `report`,
    they are one run, and its level holds over all of them)."""
    return len(items) - len(later_tests(items, case_of)) + others


def second_call(case_id: str) -> str:
    """The failure of a test that calls rnnbench() again for a case this run measured."""
    return (
        f"{case_id}: measured already in this run (rnnbench() called twice?): a run keeps one "
        "measurement per case; call it once per test"
    )
