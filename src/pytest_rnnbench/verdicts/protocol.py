"""What every gate shares: the Gate interface, the CaseRun it judges, tolerances, and how a
verdict becomes a pytest outcome.

Two gates implement it: stored.BaselineGate (a baseline file per machine profile) and
live.LiveGate (reference workers measured in the same session, turn by turn). The session builds
one of them and calls `check` after every measured case. The decisions themselves are pure
statistics in verdict.py.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Protocol

import pytest

from . import verdict

if TYPE_CHECKING:
    from ..matrix import Case
    from ..run.summary import Summary
    from ..settings import Settings


class RnnbenchInconclusiveWarning(pytest.PytestWarning):
    """A case's verdict could not be decided (too noisy); the test passes with this warning."""


class RnnbenchBaselineWarning(pytest.PytestWarning):
    """Something about the baseline file needs the user's attention (e.g. a broken file moved)."""


@dataclass(frozen=True)
class CaseRun:
    """One measured case, as a gate sees it."""

    case: Case
    item: pytest.Item
    summary: Summary  # the measured side; its `raw` is the (merged) worker result
    # The reference workers' raw results (live A/B only) and the measured workers' own.
    reference: Sequence[Mapping[str, Any]] = ()
    candidate: Sequence[Mapping[str, Any]] = ()


class Gate(Protocol):
    """Judges each measured case; says what it compares against and what it found."""

    def header_lines(self) -> list[str]:
        """Lines for pytest's report header: what this run is judged against."""
        ...

    def summary_lines(self) -> list[str]:
        """Lines for the terminal summary: the verdicts (or what was recorded)."""
        ...

    def check(self, run: CaseRun, verdicts: MutableMapping[str, dict]) -> None:
        """Judge `run`: store its verdict in `verdicts`; fail, skip or warn the test item (or let
        it pass unjudged when there is nothing to judge it against)."""
        ...


def tolerances(
    settings: Settings, item: pytest.Item, recorded: Optional[Mapping[str, float]] = None
) -> dict[str, float]:
    """Built-in defaults < ini/env/command line < the baseline entry's < the test's marker."""
    found = {name: metric.default_tolerance for name, metric in verdict.METRICS.items()}
    found.update(settings.tolerances)
    found.update(recorded or {})
    marked: dict[str, Any] = {}
    for mark in reversed(list(item.iter_markers("rnnbench"))):  # the closest mark wins
        marked.update(mark.kwargs)
    for key, value in marked.items():
        if key not in verdict.TOLERANCE_KEYS:
            pytest.fail(
                f"@pytest.mark.rnnbench: unknown argument {key}={value!r}; accepted: "
                f"{', '.join(verdict.TOLERANCE_KEYS)}",
                pytrace=False,
            )
        try:
            found[verdict.TOLERANCE_KEYS[key]] = verdict.parse_tolerance(value)
        except ValueError as exc:
            pytest.fail(f"@pytest.mark.rnnbench({key}={value!r}): {exc}", pytrace=False)
    return found


def enforce(found: verdict.CaseVerdict, item: pytest.Item) -> None:
    """Turn a case's verdict into the test's outcome: fail on a regression, warn when unsure."""
    item.user_properties.append(("rnnbench_verdict", found.outcome))
    if found.outcome == verdict.REGRESSION:
        pytest.fail(found.line(), pytrace=False)
    if found.outcome == verdict.INCONCLUSIVE:
        warnings.warn(RnnbenchInconclusiveWarning(found.line()), stacklevel=1)
