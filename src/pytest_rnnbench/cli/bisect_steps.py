"""One step of `rnnbench bisect`: a commit's Keras tree measured against the good end's.

Each step is a pull-request gate run (the same child `python -P -m pytest` that `rnnbench gate`
builds, with the gate's configuration and matrix preset), with the good end's tree as the base and
the commit's tree as the head, both extracted with `git archive` into the bisect's own temporary
directory (each side's workers import Keras from their tree and prove it, as in the gate). The
verdicts come from the step's results file (`--rnnbench-json`), never from pytest's terminal
output, whose form is for people.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from ..history.bisect import INCONCLUSIVE, PASS, REGRESSION, SKIP, Judgement
from ..invocation import python_module
from ..matrix import PRESETS
from ..options.defaults import against_workers
from ..options.option import Context
from ..options.parsers import format_workers, over_workers, workers_per_side
from ..options.table import BY_DEST
from ..report.bisect_page import without_k
from ..results.read import load, rows_of
from ..results.rows import Row
from ..results.schema import ResultsError
from ..run.trees import TreeError, extract
from . import gate

PYTEST_USAGE_ERROR = 4  # pytest refused its command line (an option value, an unknown option)
PYTEST_NO_TESTS = 5
NOT_RUN = -1  # the step's pytest did not start: the commit's tree could not be extracted
LOG_TAIL_LINES = 15


class EndError(Exception):
    """A step that must succeed (the ends) could not be measured: the message says why."""


def option_value(extra: Sequence[str], option: str) -> Optional[str]:
    """The last value of `option` in pytest arguments (`--opt=V` or `--opt V`), as pytest reads."""
    found = None
    for i, arg in enumerate(extra):
        if arg.startswith(option + "="):
            found = arg.split("=", 1)[1]
        elif arg == option and i + 1 < len(extra):
            found = extra[i + 1]
    return found


def selection(cases: Sequence[str]) -> str:
    """A -k expression that selects exactly these case ids (test ids end with `[CASE]`)."""
    # A bare case id would also select a longer id that contains it; `[id]` is the whole id.
    return " or ".join(f"{case}]" if re.fullmatch(r"[\w.-]+", case) else case for case in cases)


# The most worker processes per side a re-measure asks for (each is a framework process alive at
# once, on the case's devices).
MAX_WORKERS = 12


def workers_for(extra: Sequence[str], attempt: int, matrix: str = "pr") -> dict[str, int]:
    """Worker processes per side of an attempt, per backend ("*": the others): the run's own
    (or the matrix preset's default), doubled at each re-measure. The process is the unit of a
    live verdict (verdicts/worker_level.py): more processes, not more epochs of the same ones,
    are what narrow an inconclusive step."""
    base = against_workers(Context(0, PRESETS.get(matrix, PRESETS["pr"])))
    # As the step's pytest reads it: the command line, else the environment (the ini is the
    # gate's own, which sets none).
    given = option_value(extra, "--rnnbench-against-workers") or os.environ.get(
        str(BY_DEST["rnnbench_against_workers"].env)
    )
    try:
        base = over_workers(workers_per_side(given), base) if given else base
    except ValueError:
        pass  # the step's pytest says what is wrong with the value
    # Doubled up to the cap, never below the first attempt's.
    return {backend: max(n, min(MAX_WORKERS, n * (1 << attempt))) for backend, n in base.items()}


class StepRunner:
    """Measures commits of `repo` against the good end's tree; one child pytest per step."""

    def __init__(
        self, args: argparse.Namespace, extra: Sequence[str], repo: Path, workdir: Path
    ) -> None:
        self.args, self.extra, self.repo, self.workdir = args, list(extra), repo, workdir
        self.cwd = Path.cwd()
        self.trees: dict[str, Path] = {}
        self.count = 0
        self.cases: list[str] = []  # after the ends: the cases that regressed there
        self.last_rows: list[Row] = []  # the rows of the latest step's results
        self.last_status = 0  # the latest step's pytest exit status

    def tree(self, commit: str) -> Path:
        """The files of `commit`, extracted once per bisect."""
        if commit not in self.trees:
            target = self.workdir / f"tree-{commit[:12]}"
            target.mkdir()
            extract(self.repo, commit, target)
            self.trees[commit] = target
        return self.trees[commit]

    def command(self, good: str, commit: str, attempt: int, results: Path) -> list[str]:
        """The child pytest's arguments: the gate's, with the good tree as its base."""
        extra = without_k(self.extra) + ["-k", selection(self.cases)] if self.cases else self.extra
        if attempt:
            more = format_workers(workers_for(self.extra, attempt, self.args.matrix))
            extra = [*extra, f"--rnnbench-against-workers={more}"]
        spelled = argparse.Namespace(
            base=None,
            base_dir=str(self.tree(good)),
            head=str(self.tree(commit)),
            comment=None,
            json=results,
            matrix=self.args.matrix,
        )
        return gate.pytest_args(spelled, extra, self.cwd)

    def run(self, good: str, commit: str, attempt: int) -> tuple[int, Path, Path]:
        """Run one step's child pytest; its exit status, results file and log file."""
        self.count += 1
        results = self.workdir / f"step-{self.count}.json"
        log = self.workdir / f"step-{self.count}.log"
        try:
            command = self.command(good, commit, attempt, results)
        except TreeError as exc:  # a tree that cannot be extracted: a commit we cannot measure
            log.write_text(f"cannot extract the tree of {commit}: {exc}\n")
            return NOT_RUN, results, log
        with open(log, "wb") as output:
            # What the step's pytest leaves in its temporary directory (the logs of a worker
            # that failed, which it keeps for a person) goes with the bisect's own at the end:
            # a skipped step's reason is in its detail already.
            child = subprocess.Popen(
                [*python_module("pytest"), *command],
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "TMPDIR": str(self.workdir)},
            )
            status = gate.wait_forwarding(child)
        if status == gate.PYTEST_INTERRUPTED:  # Ctrl-C or SIGTERM: the whole bisect stops
            raise KeyboardInterrupt(f"the step's pytest was interrupted (see {log})")
        return status, results, log

    def judge(self, good: str, commit: str, attempt: int) -> Judgement:
        """The step's verdict from its results file; SKIP when it has none to give."""
        status, results, log = self.run(good, commit, attempt)
        self.last_rows = []
        self.last_status = status
        try:
            rows = rows_of(load(results), str(results))
        except ResultsError as exc:
            return Judgement(SKIP, None, no_results(status, results, log, exc))
        if self.cases:
            rows = [row for row in rows if row.case_id in self.cases]
        self.last_rows = rows
        return judgement_of(rows, status, log)


def _log_lines(log: Path) -> list[str]:
    try:
        return log.read_text(errors="replace").splitlines()
    except OSError:
        return []


def log_tail(log: Path) -> str:
    """The last lines of the step's output, on the lines after a detail's first (its summary,
    which the terminal's step line and the report show)."""
    lines = _log_lines(log)
    if not lines:
        return ""
    return "\nlast lines of pytest's output:\n" + "\n".join(lines[-LOG_TAIL_LINES:])


def usage_error(log: Path) -> str:
    """pytest's own words for a usage error: its `ERROR: ...` line (an option value it refuses)
    or argparse's `...: error: ...` (an option it does not know), else its last line."""
    said = [line.strip() for line in _log_lines(log) if line.strip()]
    for line in said:
        if re.match(r"ERROR: (?!usage:)|[^\s:][^:]*: error: ", line):
            return line
    return said[-1] if said else "(it said nothing)"


def no_results(status: int, results: Path, log: Path, problem: ResultsError) -> str:
    """The detail of a step without results: first why (pytest's error where it refused its
    command line, not the results file it never got to write, in a directory removed at the end
    of the bisect), then the last lines of its output."""
    if status == NOT_RUN:
        return "\n".join(_log_lines(log)) or "the step's pytest did not run"
    if status == PYTEST_USAGE_ERROR:
        why = f"pytest refused its command line (exit status 4): {usage_error(log)}"
    elif not results.exists():
        why = f"pytest wrote no results (exit status {status})"
    else:
        why = f"no results (pytest exit status {status}): {problem}"
    return why + log_tail(log)


def judgement_of(rows: Sequence[Row], status: int, log: Path) -> Judgement:
    """One verdict for a step's cases, on their step time alone (what the bisect looks for: a
    memory or loss change would otherwise name its own commit as the slowdown's): a regression
    on any case is a regression; a case that could not run makes the commit unmeasurable; an
    undecided case keeps it inconclusive."""
    if not rows:
        return Judgement(SKIP, None, f"no case ran (pytest exit status {status}){log_tail(log)}")
    words = {row.case_id: (row.verdict.time_verdict if row.verdict else None) for row in rows}
    detail = "; ".join(_case_text(row) for row in rows)
    changes = [row.verdict.change for row in rows if row.verdict and row.verdict.change is not None]
    regressed = [
        row.verdict.change for row in rows if row.verdict and row.verdict.time_verdict == REGRESSION
    ]
    change = max((c for c in regressed if c is not None), default=None)
    if change is None and changes:
        change = max(changes, key=abs)
    if regressed:
        return Judgement(REGRESSION, change, detail)
    if any(row.status == "failed" for row in rows):
        return Judgement(SKIP, change, detail)
    if all(word in (PASS, "improvement") for word in words.values()):
        return Judgement(PASS, change, detail)
    return Judgement(INCONCLUSIVE, change, detail)


def _case_text(row: Row) -> str:
    if row.status == "failed":
        return f"{row.case_id}: failed ({row.failure})"
    verdict = row.verdict
    if verdict is None:
        return f"{row.case_id}: no verdict"
    change = "" if verdict.change is None else f" {verdict.change * 100:+.1f}%"
    return f"{row.case_id}: {verdict.time_verdict}{change}"


def regressed_cases(rows: Sequence[Row]) -> list[str]:
    """The case ids whose step time a step called a regression."""
    return [row.case_id for row in rows if row.verdict and row.verdict.time_verdict == REGRESSION]
