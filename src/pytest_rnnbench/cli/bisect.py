"""`rnnbench bisect --good REF --bad REF [pytest args]`: name the commit that made training slower.

Run in a checkout of a Keras tree, like `rnnbench gate`. First the ends: the bad commit's tree is
measured against the good commit's, live A/B as the gate does; unless at least one selected case
is a regression there, the bisect stops ("no regression between the ends"). Then the first-parent
commits between them are bisected (history/bisect.py), each midpoint judged against the good end
on only the cases that regressed at the ends. An inconclusive midpoint is measured again with
twice the worker processes per side (at most 12), up to --attempts; one that stays inconclusive,
or cannot be measured (its tree does not import, a case fails), is skipped as `git bisect skip`
would, and the answer becomes a range, said as such. Before a commit is named, the pass below it
and its own regression are measured again with more workers. Everything after the bisect's own
options goes to each step's pytest (`--rnnbench-python`, `--rnnbench-samples`, `-k` for the
ends, ...).

Exit status:
  0  found: one commit is the first bad one, the pass below it measured again
  1  narrowed to a range (skipped or inconclusive commits, or --budget reached), or one commit
     whose pass below could not be measured again before the --budget ran out
  2  the bisect could not run: usage (git missing or failing, in git's words; a ref that does
     not resolve, good not an ancestor of bad, good == bad, a --report or --json that cannot be
     written), or an end that could not be measured; also when its report could not be written
     at the end
  6  no regression between the ends (not 3: `rnnbench gate` passes pytest's statuses 0-5 on,
     and a script that runs both must not read this as pytest's internal error)
  7  the ends stayed inconclusive through --attempts: whether the bad end is slower is not
     known (a busy machine, too few workers), which is not 6's "no regression"
  130 interrupted (Ctrl-C, SIGTERM)
"""

from __future__ import annotations

import argparse
import contextlib
import math
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Optional

from .. import atomic
from ..history.bisect import (
    FOUND,
    REGRESSION,
    SKIP,
    Judgement,
    Policy,
    Progress,
    Result,
    Step,
    measure_end,
    search,
)
from ..options.parsers import matrix as matrix_preset
from ..report.bisect_page import Commit, Record, markdown, second_looks_missed, step_line
from ..run.git import TreeError, commit_of, git, is_ancestor, toplevel
from .arguments import cannot_write
from .bisect_steps import StepRunner, regressed_cases
from .gate import GATE_OWNED, owned_among

FOUND_ONE = 0
NARROWED = 1
USAGE = 2
NO_REGRESSION = 6
ENDS_INCONCLUSIVE = 7
INTERRUPTED = 130

DEFAULT_MATRIX = "pr"  # the gate's workload
DEFAULT_ATTEMPTS = 3


class UsageError(Exception):
    """The bisect cannot start: the message says why (exit status 2)."""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "bisect",
        allow_abbrev=False,  # what it does not know goes to pytest, unabbreviated
        help="find the commit between a good and a bad ref that made a case slower",
        description="Measure the bad ref's Keras tree against the good one's (live A/B, as "
        "`gate`), then bisect the first-parent commits between them, judging each against the "
        "good end. Unknown arguments go to each step's pytest (e.g. --rnnbench-python "
        "mxnet=PATH, -k nietzsche). Exit status: 0 found one commit, 1 narrowed to a range, "
        "2 usage or an end not measurable, 6 no regression between the ends, 7 the ends stayed "
        "inconclusive, 130 interrupted (it prints the command that goes on from the range "
        "reached).",
    )
    parser.add_argument(
        "--good", required=True, metavar="REF", help="a commit without the slowdown"
    )
    parser.add_argument("--bad", required=True, metavar="REF", help="a later commit with it")
    parser.add_argument(
        "--matrix",
        default=DEFAULT_MATRIX,
        metavar="NAME",
        help="matrix preset of each step (default: %(default)s, the gate's workload)",
    )
    parser.add_argument(
        "--attempts",
        type=int,
        default=DEFAULT_ATTEMPTS,
        metavar="N",
        help="measurements of an inconclusive commit, each with twice the worker processes of the "
        "one before, up to 12 per side (default: %(default)s)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        metavar="MINUTES",
        help="start no step after this long; stop with the range reached (default: no limit)",
    )
    parser.add_argument("--report", type=Path, metavar="PATH.md", help="write a markdown report")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the record of the steps")
    parser.set_defaults(handler=run, passthrough=True)


def resolve(repo: Path, option: str, ref: str) -> str:
    """The full hash of the commit `ref` names (a branch means its tip, as `git bisect` reads).

    UsageError when it names none; TreeError when git is missing or fails (start() says it)."""
    if ref.startswith("-"):
        raise UsageError(f"{option} {ref}: a ref does not start with '-'")
    commit = commit_of(repo, ref)
    if commit is None:
        raise UsageError(f"{option} {ref}: no such commit, branch or tag in {repo}")
    return commit


def commits_between(repo: Path, good: str, bad: str) -> list[Commit]:
    """The first-parent commits after `good` up to `bad` that contain `good`, oldest first, with
    subject and date. Where `good` reached `bad` through a merge (a pull request that merged its
    base in; the gate's `--good` is that base), the first-parent commits before the merge lack
    `good`'s changes: measured against it they would look slower or faster for changes of
    `good`'s own, so they are left out and the merge stands for them. (Not git's own
    `--first-parent --ancestry-path`: it walks first parents only, and found no commit at all
    where `good` sits inside a merged branch below its tip.)

    UsageError when there are none (good == bad) or `good` is not an ancestor of `bad`; TreeError
    when git is missing or fails (start() says it)."""
    if good == bad:
        raise UsageError(f"--good and --bad are the same commit {good}: nothing to bisect")
    if not is_ancestor(repo, good, bad):
        raise UsageError(f"--good {good[:12]} is not an ancestor of --bad {bad[:12]}")
    descendants = set(git(repo, "rev-list", "--ancestry-path", f"{good}..{bad}").split())
    listed = git(
        repo, "log", "--first-parent", "--reverse", "--format=%H%x1f%aI%x1f%s", f"{good}..{bad}"
    )
    commits = [Commit(*line.split("\x1f", 2)) for line in listed.splitlines() if line]
    return [commit for commit in commits if commit.commit in descendants]


def describe(repo: Path, commit: str) -> Commit:
    return Commit(*git(repo, "log", "-1", "--format=%H%x1f%aI%x1f%s", commit).split("\x1f", 2))


# What each step's pytest is given by the bisect itself, beyond the gate's trees: passed last,
# the same options would win (another results file, one tree measured throughout).
STEP_OWNED = (*GATE_OWNED, "--rnnbench-json", "--rnnbench-matrix", "--rnnbench-comment")


def start(args: argparse.Namespace, extra: list[str]) -> tuple[Path, Commit, list[Commit]]:
    """The repository, the good end and the commits to search (the last is the bad end)."""
    clashing = owned_among(extra, STEP_OWNED)
    if clashing:
        raise UsageError(
            f"{', '.join(clashing)}: the bisect sets this for each step itself "
            "(its results file, the two trees, the matrix: --matrix); leave it out"
        )
    try:  # as each step's pytest would read it (--rnnbench-matrix), before any step runs
        args.matrix = matrix_preset(args.matrix)
    except ValueError as exc:
        raise UsageError(f"--matrix {args.matrix}: no such matrix preset ({exc})") from None
    if args.attempts < 1:
        raise UsageError("--attempts must be 1 or more")
    if args.budget is not None and not (0 < args.budget < math.inf):
        raise UsageError("--budget must be a positive number of minutes")
    for output in (args.report, args.json):
        problem = None if output is None else cannot_write(output)
        if problem:
            raise UsageError(problem)  # before hours of measuring, not after
    try:
        return _ends(Path.cwd(), args.good, args.bad)
    except TreeError as exc:  # no git, or one that cannot read this repository: in its words
        raise UsageError(str(exc)) from None


def _ends(cwd: Path, good_ref: str, bad_ref: str) -> tuple[Path, Commit, list[Commit]]:
    """start()'s answer from git: UsageError for refs that make no range, TreeError for git."""
    repo = toplevel(cwd)
    if repo is None:
        raise UsageError(f"{cwd} is not inside a git repository (run it in a Keras checkout)")
    good = resolve(repo, "--good", good_ref)
    bad = resolve(repo, "--bad", bad_ref)
    return repo, describe(repo, good), commits_between(repo, good, bad)


def measuring_options(args: argparse.Namespace) -> list[str]:
    """The bisect's own options that change what it measures or how far it goes (its workload,
    the attempts, the budget: the whole of it again for a resumed bisect), where not the
    default: the recorded command and the command that resumes an interrupted bisect carry
    them. --report and --json only say where its record goes; what it passes on to pytest is
    carried as it was given."""
    options = []
    if args.matrix != DEFAULT_MATRIX:
        options.append(f"--matrix={args.matrix}")
    if args.attempts != DEFAULT_ATTEMPTS:
        options.append(f"--attempts={args.attempts}")
    if args.budget is not None:
        short = f"{args.budget:g}"  # 30, not 30.0; the exact value where 6 digits would round
        options.append(f"--budget={short if float(short) == args.budget else repr(args.budget)}")
    return options


def spelled(args: argparse.Namespace, extra: list[str]) -> list[str]:
    """The command line of this bisect, as the report shows it (the refs as the user named them)."""
    refs = ["--good", args.good, "--bad", args.bad]
    return ["rnnbench", "bisect", *refs, *measuring_options(args), *extra]


def show_progress(progress: Progress) -> None:
    eta = "" if progress.eta_seconds is None else f", ETA {_minutes(progress.eta_seconds)}"
    again = f", attempt {progress.attempt + 1} (more workers)" if progress.attempt else ""
    print(
        f"bisect: step {progress.step} of about {progress.about}{eta}: measuring "
        f"{progress.commit[:12]}{again}",
        file=sys.stderr,
        flush=True,
    )


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def run(args: argparse.Namespace, extra: Optional[list[str]] = None) -> int:
    """The bisect: its exit status (see the module docstring)."""
    try:
        repo, good, commits = start(args, list(extra or []))
    except UsageError as exc:
        print(f"bisect: error: {exc}", file=sys.stderr)
        return USAGE
    workdir = Path(tempfile.mkdtemp(prefix="rnnbench-bisect-"))
    passed = list(extra or [])
    record = Record(
        good, commits, spelled(args, passed), passed=passed, options=measuring_options(args)
    )
    began = time.monotonic()
    # A SIGTERM (a cancelled CI job) or SIGHUP (the terminal or ssh session gone) between two
    # steps ends the bisect as Ctrl-C does, so that the extracted trees are removed and the
    # record says how far it got; during a step the gate's wait passes it on to the step's
    # pytest first.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    record.running = True
    try:
        status = _bisect(args, list(extra or []), repo, workdir, record)
    except KeyboardInterrupt:
        resume = record.resume_command()
        print(
            "bisect: interrupted"
            + (f"; to go on from the range reached: {resume}" if resume else ""),
            file=sys.stderr,
        )
        status = INTERRUPTED
        record.interrupted = True
    except BaseException:  # stdout gone (BrokenPipeError), a fault: the record says how far it got
        record.running, record.interrupted = False, True
        with contextlib.suppress(OSError):
            _write(args, record)
        raise
    finally:
        record.running = False
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(workdir, ignore_errors=True)
    record.seconds = time.monotonic() - began
    record.exit_status = status
    try:
        _write(args, record)
    except OSError as exc:
        print(f"bisect: error: its report could not be written: {exc}", file=sys.stderr)
        return USAGE
    return status


def _interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _bisect(
    args: argparse.Namespace, extra: list[str], repo: Path, workdir: Path, record: Record
) -> int:
    runner = StepRunner(args, extra, repo, workdir)
    budget = None if args.budget is None else args.budget * 60
    began = time.monotonic()

    def progress(progress: Progress) -> None:
        record.seconds = time.monotonic() - began
        if args.json is not None:  # every step finished so far, before the next begins
            try:
                atomic.write_json(args.json, record.to_dict())
            except OSError as exc:  # said, and tried again at the next step and at the end
                print(f"bisect: warning: {args.json} not rewritten: {exc}", file=sys.stderr)
        show_progress(progress)

    policy = Policy(attempts=args.attempts, budget_seconds=budget, progress=progress)
    hashes = [commit.commit for commit in record.commits]
    print(
        f"bisect: {len(hashes)} commits after {record.good.commit[:12]} up to {hashes[-1][:12]}; "
        f"first the ends",
        file=sys.stderr,
    )

    def judge(commit: str, attempt: int) -> Judgement:
        judgement = runner.judge(record.good.commit, commit, attempt)
        _print_step(record, commit, judgement.verdict, judgement.change, judgement.detail)
        return judgement

    measure_end(hashes, judge, policy, steps=record.ends)
    last = record.ends[-1] if record.ends else None
    if last is None or last.verdict != REGRESSION:
        return _ends_not_regressed(record, last, args.attempts)
    runner.cases = regressed_cases(runner.last_rows)
    record.cases = list(runner.cases)
    print(f"bisect: measuring {', '.join(runner.cases)} at each step", file=sys.stderr)

    record.result = search(
        hashes, judge, policy, steps_before=len(record.ends), steps=record.searched
    )
    print(_conclusion(record, record.result))
    result = record.result
    found = result.outcome == FOUND and result.confirmed and result.regression_confirmed
    return FOUND_ONE if found else NARROWED


def _ends_not_regressed(record: Record, last: Optional[Step], attempts: int) -> int:
    if last is None or last.verdict == "skip":
        why = "the budget ran out first" if last is None else last.detail
        # "candidate" is the bad end's worker, "reference" the good end's (the gate's words).
        print(f"bisect: error: the ends could not be measured: {why}", file=sys.stderr)
        return USAGE
    ends = f"{record.commits[-1].commit[:12]} against {record.good.commit[:12]}"
    measured = f"after {len(record.ends)} measurement(s) ({last.detail})"
    if last.verdict == "inconclusive":
        cure = (
            "the --budget ran out before its last attempt: a larger --budget"
            if len(record.ends) < attempts
            else "more workers (--attempts, --rnnbench-against-workers) or a quieter machine"
        )
        print(
            f"the ends stayed inconclusive: whether {ends} is slower is not known {measured}; "
            f"{cure} would tell"
        )
        return ENDS_INCONCLUSIVE
    print(f"no regression between the ends: {ends} is {last.verdict} {measured}")
    return NO_REGRESSION


def _print_step(
    record: Record, commit: str, verdict: str, change: Optional[float], detail: str
) -> None:
    print(step_line(record.describe(commit), verdict, change, detail), flush=True)
    if verdict == SKIP:  # why it could not be measured: the step's own output, gone at the end
        for line in detail.splitlines()[1:]:
            print(f"    {line}", flush=True)


def _conclusion(record: Record, result: Result) -> str:
    if result.first_bad is not None:
        found = record.describe(result.first_bad)
        unlooked = second_looks_missed(result)
        caveat = f"\n  ({unlooked})" if unlooked else ""
        return (
            f"first bad commit: {found.commit}\n"
            f"  {found.subject}\n"
            f"  author date {found.date}\n"
            f"  {len(result.steps) + len(record.ends)} steps{caveat}"
        )
    reasons = []
    if result.skipped:
        reasons.append(f"{len(result.skipped)} skipped (could not be measured)")
    if result.inconclusive:
        reasons.append(f"{len(result.inconclusive)} still inconclusive after the last attempt")
    if result.budget_hit:
        reasons.append("the --budget was reached")
    lines = [
        f"the first bad commit is one of these {len(result.candidates)} ({'; '.join(reasons)}):"
    ]
    lines += [f"  {c.commit} {c.subject}" for c in map(record.describe, result.candidates)]
    return "\n".join(lines)


def _write(args: argparse.Namespace, record: Record) -> None:
    if args.report is not None:
        atomic.write_text(args.report, markdown(record))
    if args.json is not None:
        atomic.write_json(args.json, record.to_dict())
