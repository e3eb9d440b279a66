"""The search of `rnnbench bisect`: which commit between a good and a bad end made a case slower.

Pure logic: no git, no subprocess, no pytest. A `Judge` measures one commit against the good end
and says what that step found (regression, pass, inconclusive, or unmeasurable: skip); this module
decides which commit to measure next, measures an inconclusive one again with more turns (the
judge gets the attempt number and chooses what "more" is), and stops with one commit or with the
range it narrowed the answer to.

Noise is treated honestly: a commit that stays inconclusive after its last attempt is never
guessed good or bad. Like `git bisect skip`, the search then tries the other commits of the
range; when none is left that can decide, the answer is the range, said as such.

The commits are the first-parent commits after the good end up to and including the bad end,
oldest first; the bad end is taken as confirmed bad (the command measures the ends first).

Before a commit is named, both verdicts that name it get a second look with more workers: the
pass just below it (a pass only says no slowdown beyond the tolerance was shown; one noisy pass
sends the search past the commit it looks for) and its own regression (one false alarm on an
unchanged commit below the real one would name that commit, at each step's false-alarm rate
times the steps taken).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Optional

REGRESSION = "regression"
PASS = "pass"
INCONCLUSIVE = "inconclusive"
SKIP = "skip"  # the commit cannot be measured: its tree does not import, the case fails
VERDICTS = (REGRESSION, PASS, INCONCLUSIVE, SKIP)

FOUND = "found"  # one commit: the first bad one
RANGE = "range"  # the first bad commit is one of several (skipped, inconclusive, or budget)
EMPTY = "empty"  # no commit after the good end: good == bad, or bad is not after good


@dataclass(frozen=True)
class Judgement:
    """What one measurement of a commit against the good end found."""

    verdict: str  # one of VERDICTS
    change: Optional[float] = None  # relative change of the time per step (+0.25: 25% slower)
    detail: str = ""  # why it was skipped or stayed inconclusive; the cases measured


Judge = Callable[[str, int], Judgement]  # (commit, attempt: 0 first, 1... with more turns)


@dataclass(frozen=True)
class Step:
    """One measurement: the commit, its place among the commits, the attempt and its verdict."""

    number: int  # 1, 2, ... in the order measured (re-measures count as steps)
    commit: str
    position: int  # index in the commits searched (0: the first commit after good)
    attempt: int
    verdict: str
    change: Optional[float]
    detail: str
    seconds: float
    role: str = "midpoint"  # "ends", "midpoint", or "confirm" (a pass measured again)

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Progress:
    """Said before each measurement: step k of about n, and how long the rest may take."""

    step: int
    about: int
    eta_seconds: Optional[float]  # None before any step has been timed
    commit: str
    attempt: int


@dataclass
class Result:
    """Where the search ended: one commit (FOUND), or the range it could narrow to (RANGE)."""

    outcome: str
    last_good: Optional[str]  # the newest commit known good (None: the good end itself)
    candidates: list[str]  # the commits one of which is the first bad, oldest first
    steps: list[Step] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    inconclusive: list[str] = field(default_factory=list)  # still so after the last attempt
    budget_hit: bool = False
    # The pass just below the named commit was measured again and passed again (False: the
    # budget ran out first, so the answer rests on one pass, as a plain bisect's does).
    confirmed: bool = True
    # The named commit's regression was measured again and held (the bad end's is the ends').
    regression_confirmed: bool = True

    @property
    def first_bad(self) -> Optional[str]:
        """The first bad commit when one was found, else None (never a guess)."""
        return self.candidates[0] if self.outcome == FOUND else None

    def to_dict(self) -> dict[str, object]:
        return {
            "outcome": self.outcome,
            "first_bad": self.first_bad,
            "last_good": self.last_good,
            "candidates": list(self.candidates),
            "skipped": list(self.skipped),
            "inconclusive": list(self.inconclusive),
            "budget_hit": self.budget_hit,
            "confirmed": self.confirmed,
            "regression_confirmed": self.regression_confirmed,
            "steps": [step.to_dict() for step in self.steps],
        }


@dataclass
class Policy:
    """How much a search may spend: attempts per commit, and a wall-clock budget (seconds)."""

    attempts: int = 3  # the first measurement and up to two with more turns
    budget_seconds: Optional[float] = None  # None: no limit; a step once started runs to its end
    clock: Callable[[], float] = time.monotonic
    progress: Callable[[Progress], None] = lambda progress: None
    started: Optional[float] = None  # when the budget began (set by the first measurement)


def remaining_steps(untested: int) -> int:
    """Halvings left to find one commit among `untested` between the known ends (a guess that
    re-measures and skips can only raise)."""
    return math.ceil(math.log2(untested + 1)) if untested > 0 else 0


class _Search:
    def __init__(
        self,
        commits: Sequence[str],
        judge: Judge,
        policy: Policy,
        steps: Optional[list[Step]] = None,
    ) -> None:
        self.commits, self.judge, self.policy = list(commits), judge, policy
        self.steps: list[Step] = [] if steps is None else steps
        if policy.started is None:
            policy.started = policy.clock()  # the ends and the search share one budget
        self.started = policy.started
        self.budget_hit = False
        self.step_offset = 0  # steps that came before this search (the ends), for progress
        self.role = "midpoint"

    def out_of_budget(self) -> bool:
        budget = self.policy.budget_seconds
        if budget is not None and self.policy.clock() - self.started >= budget:
            self.budget_hit = True
        return self.budget_hit

    def eta(self, steps_left: int) -> Optional[float]:
        if not self.steps:
            return None
        mean = sum(step.seconds for step in self.steps) / len(self.steps)
        return mean * steps_left

    def measure(self, position: int, steps_left: int, again: bool = False) -> Optional[Judgement]:
        """Judge one commit, again with more turns while inconclusive; None when the budget ran
        out before a verdict. `again`: a second look at a commit measured before, so its first
        attempt here has more turns (also with one attempt allowed: it is no repeat)."""
        commit = self.commits[position]
        judgement: Optional[Judgement] = None
        first = 1 if again else 0
        for attempt in range(first, max(first + 1, self.policy.attempts)):
            if self.out_of_budget():
                return judgement
            number = self.step_offset + len(self.steps) + 1
            about = number + steps_left - 1
            self.policy.progress(Progress(number, about, self.eta(steps_left), commit, attempt))
            began = self.policy.clock()
            judgement = self.judge(commit, attempt)
            if judgement.verdict not in VERDICTS:
                raise ValueError(f"{commit}: the judge said {judgement.verdict!r}")
            seconds = self.policy.clock() - began
            self.steps.append(
                Step(number, commit, position, attempt, judgement.verdict, judgement.change,
                     judgement.detail, seconds, "confirm" if again else self.role)
            )  # fmt: skip
            if judgement.verdict != INCONCLUSIVE:
                return judgement
            steps_left += 1  # this commit takes another turn
        return judgement


def _next_position(low: int, high: int, excluded: set[int]) -> Optional[int]:
    """The untested commit strictly between `low` and `high` nearest to their middle."""
    middle = (low + high) / 2
    open_positions = [p for p in range(low + 1, high) if p not in excluded]
    if not open_positions:
        return None
    return min(open_positions, key=lambda p: (abs(p - middle), p))


@dataclass
class _Bounds:
    """What the search knows: the passes, the regressions, the commits set aside."""

    last: int  # the bad end, confirmed bad by the ends
    passes: set[int] = field(default_factory=set)
    regressions: set[int] = field(default_factory=set)
    confirmed: set[int] = field(default_factory=set)  # passes measured again, and passed again
    confirmed_bad: set[int] = field(default_factory=set)  # regressions measured again, and held
    excluded: set[int] = field(default_factory=set)
    skipped: list[int] = field(default_factory=list)
    inconclusive: list[int] = field(default_factory=list)

    @property
    def high(self) -> int:
        """The first known bad position (the bad end until a step regresses below it)."""
        return min(self.regressions, default=self.last)

    @property
    def low(self) -> int:
        """The newest known good position below the first known bad (-1: the good end)."""
        return max((p for p in self.passes if p < self.high), default=-1)

    def verdict_of(self, position: int) -> Optional[str]:
        """What the search holds `position` to be: PASS, REGRESSION, or None (set aside)."""
        return (
            PASS if position in self.passes
            else REGRESSION if position in self.regressions
            else None
        )  # fmt: skip

    def learn(self, position: int, verdict: str) -> None:
        # A verdict measured again may not hold: the latest look counts.
        self.passes.discard(position)
        self.regressions.discard(position)
        if verdict == REGRESSION:
            self.regressions.add(position)
        elif verdict == PASS:
            self.passes.add(position)
        else:
            self.excluded.add(position)
            (self.skipped if verdict == SKIP else self.inconclusive).append(position)


def _next(bounds: _Bounds, budget_hit: bool) -> tuple[Optional[int], bool]:
    """The next position to measure and whether it is a second look (None: done): when the
    range is down to one commit, the pass just below it, then that commit's own regression (the
    bad end's was the ends'), each measured once more with more workers before it is named."""
    position = _next_position(bounds.low, bounds.high, bounds.excluded)
    if position is not None:
        return position, False
    if budget_hit:
        return None, False
    low, high = bounds.low, bounds.high
    if low >= 0 and low not in bounds.confirmed:
        return low, True
    if high != bounds.last and high not in bounds.confirmed_bad:
        return high, True
    return None, False


def search(
    commits: Sequence[str],
    judge: Judge,
    policy: Optional[Policy] = None,
    steps_before: int = 0,
    steps: Optional[list[Step]] = None,
) -> Result:
    """Find the first bad commit of `commits` (oldest first; the last is the confirmed bad end).

    `steps_before` counts steps already taken (the ends) so that progress numbers go on from
    them. `steps`: the list each step is appended to as it ends (the result's), so that a caller
    keeps what was measured when the search is interrupted. Returns FOUND with one candidate,
    RANGE with several (the skipped, the inconclusive and the untested commits between the last
    good and the first known bad), or EMPTY when `commits` is empty.
    """
    if not commits:
        return Result(EMPTY, None, [])
    state = _Search(commits, judge, policy or Policy(), steps)
    state.step_offset = steps_before
    bounds = _Bounds(last=len(commits) - 1)
    while True:
        position, again = _next(bounds, state.budget_hit)
        if position is None:
            break
        untested = sum(1 for p in range(bounds.low + 1, bounds.high) if p not in bounds.excluded)
        judgement = state.measure(position, remaining_steps(untested) + 2, again)
        if judgement is None:
            break
        # Learnt even when the budget cut its attempts short: an inconclusive pass measured
        # again is evidence against it, and the range must say so.
        held = again and judgement.verdict == bounds.verdict_of(position)
        bounds.learn(position, judgement.verdict)
        if held:
            (bounds.confirmed if judgement.verdict == PASS else bounds.confirmed_bad).add(position)
        if state.budget_hit and judgement.verdict == INCONCLUSIVE:
            break
    low, high = bounds.low, bounds.high
    candidates = list(commits[low + 1 : high + 1])
    return Result(
        outcome=FOUND if len(candidates) == 1 else RANGE,
        last_good=commits[low] if low >= 0 else None,
        candidates=candidates,
        steps=state.steps,
        skipped=[commits[p] for p in bounds.skipped if low < p <= high],
        inconclusive=[commits[p] for p in bounds.inconclusive if low < p <= high],
        budget_hit=state.budget_hit,
        confirmed=low < 0 or low in bounds.confirmed,
        regression_confirmed=high == bounds.last or high in bounds.confirmed_bad,
    )


def measure_end(
    commits: Sequence[str],
    judge: Judge,
    policy: Optional[Policy] = None,
    steps: Optional[list[Step]] = None,
) -> list[Step]:
    """Measure the bad end (the last of `commits`) against the good end, again with more turns
    while inconclusive, before any search: its steps (appended to `steps` as they end, when
    given); the last one's verdict is the answer (none when the budget was spent before it)."""
    if not commits:
        return [] if steps is None else steps
    state = _Search(commits, judge, policy or Policy(), steps)
    state.role = "ends"
    state.measure(len(commits) - 1, 2 + remaining_steps(len(commits) - 1))
    return state.steps
