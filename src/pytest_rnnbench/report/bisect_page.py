"""What `rnnbench bisect` writes: a line per step, the markdown report and the JSON record.

Pure text from the search's steps and the commits' subjects and dates; the command writes the
files (atomically).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

from ..history.bisect import FOUND, PASS, REGRESSION, SKIP, Result, Step
from .formatting import format_change
from .markdown import table
from .markdown_escape import code, inline, one_line

RECORD_FORMAT = 1  # the JSON record's version: a reader checks it


@dataclass(frozen=True)
class Commit:
    """A commit as the report names it."""

    commit: str  # full hash
    date: str  # author date, ISO 8601
    subject: str


@dataclass
class Record:
    """Everything one bisect did, for the report and the JSON record."""

    good: Commit
    commits: list[Commit]  # after good up to bad, oldest first
    command: list[str] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)  # the cases that regressed at the ends
    ends: list[Step] = field(default_factory=list)  # the bad end against the good end
    result: Optional[Result] = None  # None when the bisect stopped at the ends or was interrupted
    searched: list[Step] = field(default_factory=list)  # the search's steps, also when interrupted
    interrupted: bool = False  # Ctrl-C, SIGTERM or SIGHUP: no answer, only what was measured
    # Still measuring: the --json record is rewritten as each step begins, so that a bisect
    # killed outright (SIGKILL, the machine lost) keeps every step it finished and the
    # command that goes on from them.
    running: bool = False
    seconds: float = 0.0
    exit_status: int = 0
    passed: list[str] = field(default_factory=list)  # what went on to each step's pytest
    # The bisect's own options that shape its measuring (--matrix, --attempts, --budget), spelled.
    options: list[str] = field(default_factory=list)

    def so_far(self) -> Optional[tuple[str, str]]:
        """After an interruption: the newest commit below the first one that regressed whose
        pass held when measured again (its last two looks passed), and that one (the good and
        bad ends until a step narrowed them); None before the ends regressed. Each commit's
        latest verdict counts. A pass seen once is no good end: a resumed bisect never measures
        its good end again, and one noisy pass would then hide the regression (its ends would
        pass)."""
        if not self.cases or not self.commits:
            return None
        looks: dict[int, list[str]] = {}
        for step in self.searched:
            looks.setdefault(step.position, []).append(step.verdict)
        latest = {position: verdicts[-1] for position, verdicts in looks.items()}
        held = {position for position, verdicts in looks.items() if verdicts[-2:] == [PASS, PASS]}
        high = min(
            (p for p, verdict in latest.items() if verdict == REGRESSION),
            default=len(self.commits) - 1,
        )
        low = max(
            (p for p, verdict in latest.items() if verdict == PASS and p < high and p in held),
            default=-1,
        )
        good = self.commits[low].commit if low >= 0 else self.good.commit
        return good, self.commits[high].commit

    def resume_command(self) -> Optional[str]:
        """The command that goes on from where an interrupted bisect stopped: the same workload,
        attempts and budget, and the same pytest arguments, its -k replaced by the cases that
        regressed at the ends."""
        found = self.so_far()
        if found is None:
            return None
        passed = [shlex.quote(arg) for arg in without_k(self.passed)]
        return " ".join([bisect_command(*found, self.cases, self.options), *passed])

    def describe(self, commit: str) -> Commit:
        """The commit's subject and date (the good end or one of the commits)."""
        for known in [self.good, *self.commits]:
            if known.commit == commit:
                return known
        return Commit(commit, "", "")

    def skip_reason(self, commit: str) -> str:
        """Why `commit` could not be measured: its last skipped step's first line (which says
        how its pytest ended: a refused command line, no results and its exit status)."""
        said = [s.detail for s in self.steps() if s.commit == commit and s.verdict == SKIP]
        lines = said[-1].splitlines() if said else []
        return lines[0] if lines else "could not be measured"

    def steps(self) -> list[Step]:
        return [*self.ends, *(self.result.steps if self.result else self.searched)]

    def to_dict(self) -> dict[str, object]:
        return {
            "format": RECORD_FORMAT,
            "command": self.command,
            "good": self.good.__dict__,
            "bad": self.commits[-1].__dict__ if self.commits else None,
            "commits": [commit.__dict__ for commit in self.commits],
            "cases": self.cases,
            "ends": [step.to_dict() for step in self.ends],
            "result": self.result.to_dict() if self.result else None,
            "interrupted": self.interrupted,
            "running": self.running,
            "resume": self.resume_command() if self.running or self.interrupted else None,
            "steps": [step.to_dict() for step in self.steps()],
            "seconds": round(self.seconds, 1),
            "exit_status": None if self.running else self.exit_status,
        }


def second_looks_missed(result: Result) -> str:
    """What a named commit's answer lacks when the --budget ran out before its second looks
    (the pass below it, its own regression: history/bisect.py); "" when it has both."""
    missed = [
        *([] if result.confirmed else ["the pass before it"]),
        *([] if result.regression_confirmed else ["its own regression"]),
    ]
    if not missed:
        return ""
    return f"{' and '.join(missed)} could not be measured again: the --budget ran out"


def step_line(commit: Commit, verdict: str, change: Optional[float], detail: str) -> str:
    """One finished step, for the terminal: commit, subject, verdict, change, cases."""
    shown = format_change(change) or "no change measured"
    cases = detail.splitlines()[0] if detail else ""
    return f"{commit.commit[:12]} {commit.subject!r}: {verdict}, {shown}" + (
        f" [{cases}]" if cases else ""
    )


def _steps_table(record: Record) -> list[str]:
    rows = []
    for step in record.steps():
        commit = record.describe(step.commit)
        rows.append([
            str(step.number),
            code(commit.commit[:12], table=True),
            inline(commit.subject, 60, table=True),
            step.role,
            str(step.attempt + 1),
            step.verdict,
            format_change(step.change) or "n/a",
            f"{step.seconds:.0f}",
        ])  # fmt: skip
    header = ["step", "commit", "subject", "role", "attempt", "verdict", "change", "seconds"]
    return table(header, rows, ["r", "l", "l", "l", "r", "l", "r", "r"])


def _outcome(record: Record) -> list[str]:
    result = record.result
    if record.interrupted:
        lines = [f"**Interrupted** after {len(record.steps())} steps: no commit is named."]
        resume = record.resume_command()
        if resume:
            lines += ["", f"To go on from the range reached: {code(resume)}"]
        return lines
    if result is None:
        last = record.ends[-1] if record.ends else None
        if last is None or last.verdict == "skip":
            return _not_measured(last)
        if last.verdict == "inconclusive":
            return [
                "**The ends stayed inconclusive**: whether the bad end is slower than the good "
                "end is not known."
            ]
        return [
            f"**No regression between the ends**: the bad end is {last.verdict} against the "
            "good end."
        ]
    if result.outcome == FOUND and result.first_bad:
        found = record.describe(result.first_bad)
        return [
            f"**First bad commit**: `{found.commit}`",
            "",
            f"- subject: {inline(found.subject)}",
            f"- author date: {found.date}",
            *([f"- {unlooked}"] if (unlooked := second_looks_missed(result)) else []),
        ]
    lines = [f"**Narrowed to {len(result.candidates)} commits** (no single commit is named):", ""]
    for candidate in map(record.describe, result.candidates):
        why = (
            f" (skipped: {inline(record.skip_reason(candidate.commit), 300)})"
            if candidate.commit in result.skipped
            else " (inconclusive after the last attempt)" if candidate.commit in result.inconclusive
            else ""
        )  # fmt: skip
        lines.append(f"- `{candidate.commit}` {inline(candidate.subject)}{why}")
    if result.budget_hit:
        lines += ["", "The --budget was reached before the search could finish."]
    return lines


def _not_measured(last: Optional[Step]) -> list[str]:
    """Why the ends could not be measured: the first line of the step's detail, then the rest
    (the last lines of the step's pytest, which hold its own error) as a code block."""
    said = last.detail.splitlines() if last and last.detail else ["the budget ran out"]
    lines = [f"**The ends could not be measured**: {inline(said[0], 300)}."]
    rest = [one_line(line, 300) for line in said[1:]]
    return lines + (["", *(f"    {line}" for line in rest)] if any(rest) else [])


def markdown(record: Record) -> str:
    """The report of one bisect (markdown)."""
    bad = record.commits[-1] if record.commits else record.good
    lines = [
        "# Bisect",
        "",
        f"Between `{record.good.commit[:12]}` ({inline(record.good.subject)}, good) and "
        f"`{bad.commit[:12]}` ({inline(bad.subject)}, bad): {len(record.commits)} commits, "
        f"{len(record.steps())} steps in {record.seconds / 60:.1f} minutes.",
        "",
        *_outcome(record),
        "",
        "Cases measured at the midpoints: " + (", ".join(f"`{c}`" for c in record.cases) or "none"),
        "",
        *_steps_table(record),
        "",
        f"Command: `{shlex.join(record.command)}`" if record.command else "",
    ]
    return "\n".join(lines).rstrip() + "\n"


def without_k(extra: Sequence[str]) -> list[str]:
    """The pytest arguments less any -k selection (a midpoint, or a resumed bisect, gets the
    ends' regressed cases)."""
    kept: list[str] = []
    skip_next = False
    for arg in extra:
        if skip_next:
            skip_next = False
        elif arg == "-k":
            skip_next = True
        elif not arg.startswith("-k"):  # -kEXPR and -k=EXPR
            kept.append(arg)
    return kept


def bisect_command(
    good: str, bad: str, cases: Sequence[str] = (), options: Sequence[str] = ()
) -> str:
    """The ready command that bisects between two commits (for the history page), with the
    bisect's own `options` (before any pytest arguments, which may follow a `--`)."""
    own = "".join(f" {shlex.quote(option)}" for option in options)
    selected = f" -k {shlex.quote(' or '.join(cases))}" if cases else ""
    return f"rnnbench bisect --good {good} --bad {bad}{own}{selected}"
