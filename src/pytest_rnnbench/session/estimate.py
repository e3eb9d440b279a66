"""How long the run has left: a pure model of the cases' durations. No threads, no output; the
clock readings come from the caller (display.py).

The estimate is shown only once an epoch has been measured: a timed epoch of this case has ended,
or a case of this run has finished. The current case's remaining time comes from its mean epoch
time, the steps left and its fresh workers still to start (CaseEstimate); each remaining case
counts as long as the finished cases of its backend, else the mean finished case (before any
finished, as this case's projected duration) (RunEstimate). The shown finish time stays put
unless a new estimate moves it by more than ETA_TOLERANCE, and the text is rounded (10 s steps
below 2 min, whole minutes up to an hour, then 5 min), so it counts down calmly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Optional

# A new estimate replaces the shown finish time only when it moves it by more than this share of
# the time left (or ETA_TOLERANCE_MIN_S, whichever is more).
ETA_TOLERANCE = 0.1
ETA_TOLERANCE_MIN_S = 10.0
EPOCH_PHASE = re.compile(r"^epoch (\d+) of (\d+)$")


def _nearest(seconds: float, unit: int) -> int:
    """`seconds` rounded to a multiple of `unit`, halves up (round() would go to even)."""
    return int(seconds / unit + 0.5) * unit


def format_eta(seconds: float, whole_run: bool = True) -> str:
    """ "about 6 min left": 10 s steps below 2 min, whole minutes below an hour, then 5 min."""
    where = "" if whole_run else " in this case"
    tens = _nearest(seconds, 10)
    if tens < 10:
        return f"under 10 s left{where}"
    if tens < 60:
        text = f"{tens} s"
    elif tens < 120:
        text = "1 min" + (f" {tens - 60} s" if tens > 60 else "")
    else:
        minutes = _nearest(seconds, 60) // 60
        if minutes < 60:
            text = f"{minutes} min"
        else:
            minutes = _nearest(seconds, 300) // 60
            hours, rest = divmod(minutes, 60)
            text = f"{hours} h" + (f" {rest} min" if rest else "")
    return f"about {text} left{where}"


class CaseEstimate:
    """One case's timed epochs, from its workers' phases: how long its rest will take. A case
    measured in several fresh workers, one after another, runs them all: each worker still to
    start costs the first one's start-up (to its first timed epoch) and as many epochs."""

    def __init__(self, started: float = 0.0, workers: int = 1) -> None:
        self.started = started  # the clock reading at the case's start
        self.workers = workers  # fresh workers the case runs, one after another
        self.worker = 0  # the one running now (0-based)
        self.startup: Optional[float] = None  # seconds from the case's start to a timed epoch
        self.epoch: Optional[int] = None  # the timed epoch running now, and how many there are
        self.epochs: Optional[int] = None
        self.epoch_seconds: list[float] = []  # seconds of this case's ended timed epochs
        self.epoch_started = 0.0

    def phase(self, now: float, phase: str) -> None:
        """A worker entered `phase` at `now`: a timed epoch's start ends the one before it, and
        a first epoch after others is the next worker's."""
        found = EPOCH_PHASE.match(phase)
        if found is None:
            return
        number = int(found.group(1))
        if self.epoch is not None and number > self.epoch:
            self.epoch_seconds.append(now - self.epoch_started)
        elif self.epoch is not None:
            self.worker += 1
        if self.startup is None:
            self.startup = now - self.started
        self.epoch, self.epochs = number, int(found.group(2))
        self.epoch_started = now

    def left(self, now: float, step: Optional[int], steps: Optional[int]) -> Optional[float]:
        """Seconds this case has left (at step `step` of `steps` of its epoch, when known), or
        None before one of its timed epochs ended."""
        if not self.epoch_seconds or self.epoch is None or self.epochs is None:
            return None
        per_epoch = sum(self.epoch_seconds) / len(self.epoch_seconds)
        if steps and step is not None:
            done = min(1.0, step / steps)
        else:
            done = min(1.0, (now - self.epoch_started) / per_epoch) if per_epoch > 0 else 1.0
        this_worker = per_epoch * (1.0 - done) + per_epoch * max(0, self.epochs - self.epoch)
        later = max(0, self.workers - 1 - self.worker)
        return this_worker + later * ((self.startup or 0.0) + per_epoch * self.epochs)


class RunEstimate:
    """The whole run: which cases will run, how long the finished ones took, the shown estimate."""

    def __init__(self) -> None:
        self.positions: dict[str, int] = {}  # nodeid -> 1-based place among the cases to run
        self.order: list[str] = []  # the nodeids to run, in run order
        # nodeid -> what makes cases alike in cost (the backend and dataset): a backend's cases
        # differ by several times from another's, and the default order runs every backend on
        # one dataset before the next, so the mean of all finished cases misjudges the rest.
        self.kinds: dict[str, str] = {}
        self.finished_by_kind: dict[str, list[float]] = {}
        # Kinds whose cases were skipped before they ran (a missing backend skips all of its
        # cases, a missing dataset all of its): their cases ahead are not waited for, until one
        # of that kind does run. Not the backend alone: a dataset's skip would hide its cases
        # of other datasets from the estimate.
        self.skipped_kinds: set[str] = set()
        self.total: Optional[int] = None  # None: unknown (never started, or an xdist worker)
        self.started = 0  # cases begun (the numbering when the total is unknown)
        self.last_number = 0
        self.finished: list[float] = []  # wall seconds of the cases that ended well
        self._shown_end: Optional[float] = None  # the clock reading the shown estimate ends at

    def start(self, nodeids: Iterable[str], kinds: Optional[dict[str, str]] = None) -> None:
        """The cases that will run, in run order (items with a skip mark left out), and what
        kind each is (its backend and dataset), where known."""
        self.order = list(nodeids)
        self.positions = {nodeid: i for i, nodeid in enumerate(self.order, start=1)}
        self.total = len(self.positions)
        self.kinds = dict(kinds or {})

    def begin_case(self, nodeid: Optional[str]) -> tuple[int, Optional[int]]:
        """(this case's number, the total or None); a case number never goes backwards."""
        self.started += 1
        known = self.positions.get(nodeid) if nodeid is not None else None
        if self.total is None or known is None:
            number, total = max(self.started, self.last_number + 1), None
            self._shown_end = None  # the estimate covers this case only: start afresh
        else:
            number, total = known, self.total
        self.last_number = number
        return number, total

    def end_case(self, seconds: float, nodeid: Optional[str] = None) -> None:
        """A case ended well after `seconds` (a failed or skipped one is not a fair measure)."""
        self.finished.append(seconds)
        kind = self.kinds.get(nodeid) if nodeid is not None else None
        if kind is not None:
            self.finished_by_kind.setdefault(kind, []).append(seconds)

    def skip(self, nodeid: str) -> None:
        """Case `nodeid` was skipped without running."""
        kind = self.kinds.get(nodeid)
        if kind is not None:
            self.skipped_kinds.add(kind)

    def _remaining(self, number: int, total: int, per_case: float) -> float:
        """Seconds for the cases after case `number`: each as long as the finished cases of its
        kind, or `per_case` for a kind not measured yet."""
        after = self.order[number:total] if len(self.order) >= total else []
        if len(after) != max(0, total - number):  # positions unknown: all alike
            return max(0, total - number) * per_case
        left = 0.0
        for nodeid in after:
            kind = self.kinds.get(nodeid, "")
            same = self.finished_by_kind.get(kind, [])
            if same:
                left += sum(same) / len(same)
            elif kind not in self.skipped_kinds:
                left += per_case
        return left

    def estimate(
        self,
        now: float,
        number: int,
        total: Optional[int],
        case_elapsed: float,
        case_left: Optional[float],
        ended: bool = False,
    ) -> Optional[float]:
        """Seconds left (of the run, or of this case when `total` is None), or None when no
        epoch has been measured yet. `case_left` is the current case's own estimate (None before
        its first timed epoch ended); `ended`: case `number` is over, whichever way it ended.
        The shown value moves only when a new estimate differs by more than the tolerance."""
        mean = sum(self.finished) / len(self.finished) if self.finished else None
        if ended:
            case_left = 0.0
            if mean is None:
                return None  # a case that failed early says nothing about the others
        elif case_left is None:
            if mean is None:
                return None
            case_left = max(0.0, mean - case_elapsed)
        left = case_left
        if total is not None:
            per_case = mean if mean is not None else case_elapsed + case_left
            left += self._remaining(number, total, per_case)
        if left <= 0:
            self._shown_end = None
            return None
        end = now + left
        tolerance = max(ETA_TOLERANCE_MIN_S, ETA_TOLERANCE * left)
        if self._shown_end is None or abs(end - self._shown_end) > tolerance:
            self._shown_end = end
        return max(0.0, self._shown_end - now)
