"""What every judge of a pytest run shares: the Judge interface, the CaseRun it judges, the
Judgement it returns, tolerances, and how a verdict becomes a pytest outcome.

Two judges implement it: stored.BaselineJudge (a baseline file per machine profile) and
live.LiveJudge (reference workers measured in the same session, turn by turn). The session builds
one of them, calls `check` after every measured case and `enforce`s what it returns. Both judge
through judge.judge; the decisions themselves are pure statistics in verdict.py.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
    """One measured case, as a judge sees it."""

    case: Case
    item: pytest.Item
    summary: Summary  # the measured side; its `raw` is the (merged) worker result
    # The reference workers' raw results (live A/B only) and the measured workers' own.
    reference: Sequence[Mapping[str, Any]] = ()
    candidate: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class Judgement:
    """A case's verdict, and what the results file records beside it (the baseline's seconds
    per epoch, the reference interpreter, the gate's commits)."""

    verdict: verdict.CaseVerdict
    context: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The verdict as stored in results files (see results.parse_verdict)."""
        return {**self.verdict.to_dict(), **self.context}


class Judge(Protocol):
    """Judges each measured case; says what it compares against and what it found."""

    # case id -> why it was measured but not judged (no baseline for it, workloads differ...)
    unjudged: dict[str, str]
    # case id -> its verdict, for the summary
    outcomes: dict[str, verdict.CaseVerdict]
    # a line per baseline recorded (stored baselines only), for the summary
    saved: list[str]

    def header_lines(self) -> list[str]:
        """Lines for pytest's report header: what this run is judged against."""
        ...

    def family(self, cases: int) -> None:
        """The run's cases are known (`cases` selected): each is judged at the run's false-alarm
        level divided among them (verdicts/family.py)."""
        ...

    def summary_lines(self) -> list[str]:
        """Lines for the terminal summary: the verdicts (or what was recorded)."""
        ...

    def check(self, run: CaseRun) -> Optional[Judgement]:
        """Judge `run` and return its judgement, or None when there is none: the case was not
        judged (then it is in `unjudged`) or its baseline was recorded. May fail or skip the test
        item itself when the run cannot be judged at all (e.g. a side measured the wrong code);
        the verdict's own outcome is for `enforce`."""
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


def worker_summary(judge: Judge) -> dict[str, Any]:
    """What a pytest-xdist worker's judge sends its controller beside its results document (whose
    `verdicts` carry the verdicts), so that the controller's summary lists every case as a run
    without xdist does (the controller judges none itself)."""
    return {"unjudged": dict(judge.unjudged), "saved": list(judge.saved)}


def add_worker_summary(
    judge: Judge, sent: Mapping[str, Any], verdicts: Mapping[str, Mapping[str, Any]]
) -> None:
    """The controller's side of worker_summary, with the verdicts of the worker's document."""
    judge.unjudged.update(sent.get("unjudged") or {})
    for case_id, found in verdicts.items():
        judge.outcomes[case_id] = verdict.CaseVerdict.from_dict(case_id, found)
    judge.saved.extend(sent.get("saved") or [])
