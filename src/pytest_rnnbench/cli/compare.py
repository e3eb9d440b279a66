"""`python -m pytest_rnnbench compare OLD.json NEW.json`: the gate's verdicts, offline.

OLD is a results file (`--rnnbench-json`) or a baseline file (baselines/*.json); NEW is a results
file. Each case of NEW is compared with the same case in OLD by exactly the rule the plugin uses
against a stored baseline (judge.py): the step time with the session as the unit (a results file
is one session of its worker processes), memory and loss against their tolerances. The exit code
gates CI:

    0  no regression (passes, improvements, inconclusive verdicts, cases missing from OLD)
    1  at least one regression, or a case that failed to run in NEW
    2  usage error: a file that cannot be read, an unknown format, a bad option
    10 nothing judged: no case of NEW could be judged, each line says why (as the gate's 10)

Cases of an OLD results file that NEW lacks are listed ("not in the new file"): a run of part of
the matrix (-k) is no failure, but a reader sees what was not compared.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, TextIO

from ..machine import cpu_name
from ..results.read import load as load_results
from ..results.schema import ResultsError
from ..session.lifecycle import EXIT_NOTHING_JUDGED
from ..settings import DEFAULT_FALSE_ALARM_RATE
from ..verdicts import baseline, verdict
from ..verdicts.family import per_case_alpha
from ..verdicts.judge import NotJudged, Side, judge
from ..verdicts.records import MetricVerdict
from ..verdicts.samples import worker_step_ms
from ..verdicts.session_time import (
    Session,
    all_sessions_busy,
    session_time_judge,
    stored_sessions,
)
from .arguments import false_alarm_rate_argument, fraction_argument

EXIT_OK, EXIT_REGRESSION, EXIT_USAGE = 0, 1, 2
NOT_IN_NEW, NOT_IN_OLD = "not in the new file", "not in the old file"


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "compare",
        help="compare two results files with the plugin's verdict rule",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "old",
        type=Path,
        metavar="OLD.json",
        help="results file (--rnnbench-json) or baseline file to compare against",
    )
    parser.add_argument("new", type=Path, metavar="NEW.json", help="results file of the candidate")
    for metric in verdict.METRICS.values():
        flag = "--" + metric.tolerance_key.replace("_", "-")
        parser.add_argument(
            flag,
            type=fraction_argument,
            dest=metric.tolerance_key,
            metavar="FRACTION",
            help=f"tolerance for {metric.label}, as 0.05 or 5%% "
            f"(default {metric.default_tolerance * 100:.0f}%%)",
        )
    parser.add_argument(
        "--alpha",
        type=false_alarm_rate_argument,
        default=DEFAULT_FALSE_ALARM_RATE,
        metavar="FRACTION",
        help="the false-alarm level of the whole comparison, as 0.01 or 1%%: each of its N cases "
        f"is judged at this / N (default {DEFAULT_FALSE_ALARM_RATE * 100:.0f}%%)",
    )
    parser.add_argument(
        "--busy-limit",
        type=fraction_argument,
        default=None,
        metavar="FRACTION",
        help="time verdicts are inconclusive when other processes took more than "
        f"this share of the CPU during either run (default "
        f"{verdict.BUSY_MACHINE_SHARE * 100:.0f}%%; 100%% turns it off)",
    )
    parser.set_defaults(handler=run)
    return parser


@dataclass(frozen=True)
class _Case:
    """One case of an input file: the side it is judged as, and its recorded tolerances."""

    side: Side
    tolerances: dict[str, float] = field(default_factory=dict)
    sessions: list[Session] = field(default_factory=list)  # step time (ms), worker processes
    # A baseline entry whose every session was saved on a busy machine: its time's verdict.
    all_busy: Optional[Callable[[float], MetricVerdict]] = None
    one_run: bool = False  # a results file's case: one session, no saved baseline

    @property
    def case_id(self) -> Any:
        return self.side.workload["case"]["id"]


class _File:
    """One input file: per case, what the judge compares (samples, workload, versions)."""

    def __init__(
        self, path: Path, allow_baseline: bool, busy_limit: Optional[float] = None
    ) -> None:
        self.path = path
        self.kind = "results"
        self.machine: dict[str, Any] = {}
        self.cases: dict[str, _Case] = {}
        self.failures: dict[str, str] = {}
        self.finished: Optional[bool] = None  # False: a run stopped before its end
        document = _read_json(path)
        if (
            allow_baseline
            and isinstance(document, dict)
            and document.get("schema") == baseline.SCHEMA
        ):
            self.kind = "baseline"
            entries = baseline.validate(document, str(path))
            self.machine = dict(document["profile"])
            # Keyed like the file: by case and workload (baseline.entry_key); see `find`.
            for key, entry in entries.items():
                self.cases[key] = _Case(
                    Side.of_entry(entry),
                    baseline.entry_tolerances(entry),
                    stored_sessions(entry, busy_limit),
                    all_sessions_busy(entry, busy_limit),
                )
            return
        document = load_results(path)  # raises ResultsError naming the file and problem
        self.machine = dict(document["machine"])
        self.failures = dict(document.get("failures") or {})
        self.finished = document.get("finished")
        for case_id, result in document["results"].items():
            worker = result.get("worker") if isinstance(result, dict) else None
            if not isinstance(worker, dict) or not isinstance(worker.get("epochs"), list):
                raise ResultsError(
                    f"{path}: case {case_id!r} has no worker result (per-step times) to compare"
                )
            # A results file is one session of its own, left out if it ran on a busy machine.
            own = {"sessions": baseline.result_sessions(worker)}
            self.cases[case_id] = _Case(
                Side.of_result(worker),
                sessions=stored_sessions(own, busy_limit),
                one_run=True,
                all_busy=all_sessions_busy(own, busy_limit, results_file=True),
            )

    def not_in(self, new: _File) -> list[str]:
        """Cases of this results file that `new` neither measured nor failed (a baseline file
        holds the whole matrix of its machine: a run of part of it leaves most out)."""
        if self.kind == "baseline":
            return []
        return sorted(set(self.cases) - set(new.cases) - set(new.failures))

    def find(self, case_id: str, workload: Mapping[str, Any]) -> tuple[Optional[_Case], str]:
        """The old side's figures for `case_id` at the new side's workload, or None and why."""
        if self.kind != "baseline":
            found = self.cases.get(case_id)
            return found, "" if found else NOT_IN_OLD
        key = baseline.entry_key(case_id, workload.get("samples"), workload.get("repeats"))
        if key in self.cases:
            return self.cases[key], ""
        recorded = [
            baseline.describe_workload(old.side.workload)
            for old in self.cases.values()
            if old.case_id == case_id
        ]
        if not recorded:
            return None, NOT_IN_OLD
        return None, (
            f"the baseline holds {', '.join(recorded)}, this run has "
            f"{baseline.describe_workload(workload)}"
        )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ResultsError(f"{path}: not a JSON file (truncated?): {exc}") from None


def run(args: argparse.Namespace, out: Optional[TextIO] = None) -> int:
    """Compare NEW with OLD, print a line per case and a summary; the exit code gates CI."""
    out = out or sys.stdout
    try:
        old = _File(args.old, allow_baseline=True, busy_limit=args.busy_limit)
        new = _File(args.new, allow_baseline=False)
    except (ResultsError, baseline.BaselineError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not 0 < args.alpha < 1:
        print(f"error: --alpha must be between 0 and 1, got {args.alpha}", file=sys.stderr)
        return EXIT_USAGE
    cli_tolerances = {
        name: getattr(args, metric.tolerance_key)
        for name, metric in verdict.METRICS.items()
        if getattr(args, metric.tolerance_key, None) is not None
    }
    print(f"comparing {args.new} against {args.old} ({old.kind})", file=out)
    note = _machine_note(old, new)
    if note:
        print(f"note: {note}", file=out)
    if new.finished is False:
        print(
            f"note: {args.new} is of a run that stopped before its end: cases may be missing",
            file=out,
        )
    counts: dict[str, int] = {}
    # The comparison is the family: its cases share the level (verdicts/family.py).
    alpha = per_case_alpha(args.alpha, max(1, len(new.cases)))
    for case_id in sorted(new.cases):
        line, outcome = _judge(
            case_id,
            old.find(case_id, new.cases[case_id].side.workload),
            new.cases[case_id],
            cli_tolerances,
            alpha,
            args.busy_limit,
        )
        counts[outcome] = counts.get(outcome, 0) + 1
        print(line, file=out)
    for case_id, cause in sorted(new.failures.items()):
        counts["failed"] = counts.get("failed", 0) + 1
        print(f"{case_id}: failed: {cause.splitlines()[0] if cause else ''}", file=out)
    for case_id in old.not_in(new):
        counts[NOT_IN_NEW] = counts.get(NOT_IN_NEW, 0) + 1
        print(f"{case_id}: {NOT_IN_NEW}", file=out)
    print(
        "summary: " + (", ".join(f"{n} {o}" for o, n in sorted(counts.items())) or "no cases"),
        file=out,
    )
    return _exit_status(counts, old, new, args, out)


def _exit_status(
    counts: Mapping[str, int], old: _File, new: _File, args: argparse.Namespace, out: TextIO
) -> int:
    """The comparison's exit status from its outcomes' `counts` (see the module)."""
    if counts.get(verdict.REGRESSION) or counts.get("failed"):
        return EXIT_REGRESSION
    judged = (verdict.PASS, verdict.REGRESSION, verdict.IMPROVEMENT, verdict.INCONCLUSIVE)
    if not any(counts.get(outcome) for outcome in judged):
        why = "each case's line says why"  # a counterpart of another workload or setup
        absent = [old.find(c, new.cases[c].side.workload)[1] == NOT_IN_OLD for c in new.cases]
        if all(absent):
            why = f"none has a counterpart in {args.old}"
        print(f"nothing judged: no case of {args.new} could be judged ({why})", file=out)
        return EXIT_NOTHING_JUDGED
    return EXIT_OK


def _judge(
    case_id: str,
    old_found: tuple[Optional[_Case], str],
    new: _Case,
    cli_tolerances: Mapping[str, float],
    alpha: float,
    busy_limit: Optional[float] = None,
) -> tuple[str, str]:
    """The verdict line of one case and its outcome."""
    old, missing = old_found
    if old is None:
        return NotJudged(case_id, missing).line(), verdict.NO_BASELINE
    found = judge(
        case_id,
        old.side,
        new.side,
        {**old.tolerances, **cli_tolerances},
        alpha=alpha,
        busy_limit=busy_limit,
        time=session_time_judge(
            old.sessions, worker_step_ms(new.side.workload), alpha, results_file=old.one_run
        )
        or old.all_busy,
    )
    if isinstance(found, NotJudged):
        return found.line(), verdict.NO_BASELINE
    return found.line(), found.outcome


def _same_cpu(old: object, new: object) -> bool:
    """A baseline's profile keeps the normalised CPU name, a results file the kernel's: the same
    machine whichever side is which."""
    return cpu_name(str(old or "")) == cpu_name(str(new or ""))


def _gpus(machine: Mapping[str, Any]) -> tuple[int, Optional[str]]:
    """How many GPUs and which: a results file lists their names, a baseline's profile keeps a
    count and the model (verdicts/profile.py)."""
    gpus = machine.get("gpus")
    if isinstance(gpus, list):  # named as the profile names its models (machine.baseline_profile)
        return len(gpus), " + ".join(sorted({str(name) for name in gpus})) or None
    count = gpus if isinstance(gpus, int) else 0
    return count, str(machine["gpu"]) if count and machine.get("gpu") else None


def _machine_note(old: _File, new: _File) -> str:
    """Timings from different hardware are not comparable; say so rather than guess."""
    differ = [] if _same_cpu(old.machine.get("cpu"), new.machine.get("cpu")) else ["cpu"]
    if old.machine.get("cpus") != new.machine.get("cpus"):
        differ.append("cpus")
    if _gpus(old.machine) != _gpus(new.machine):
        differ.append("gpus")
    for key in ("driver", "cuda"):  # the baseline profile's keys too; known only with a GPU
        if None not in (old.machine.get(key), new.machine.get(key)):
            differ += [key] if old.machine[key] != new.machine[key] else []
    if not differ:
        return ""
    return (
        "the two files come from different machines ("
        + ", ".join(f"{k}: {old.machine.get(k)!r} vs {new.machine.get(k)!r}" for k in differ)
        + "): timing verdicts compare hardware as much as code"
    )
