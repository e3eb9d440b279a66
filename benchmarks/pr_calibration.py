"""Pull-request-level calibration: real gates, each exactly as a user runs it, counted per arm.

The unit a user meets is the gate (`python -m pytest_rnnbench gate`): one pull request, all its
default cases, one exit code. So the false-alarm rate that matters is the share of gates on a
no-op change that call any regression, and the power that matters is the share of gates on a real
slowdown that call one. This script runs gates back to back over a rotation of arms (each arm a
git repository whose checked-out branch is the head and whose `master` is the base, as made by
benchmarks/keras_trees.py) and tallies what they said.

    # trees: benchmarks/keras_trees.py --keras KERAS --out T --edit docs (then, in T/repo,
    # git checkout edit-docs-1); likewise --edit rnn-work=7 (about +10% on MXNet's unrolled
    # cases) and --edit rnn-work=16 (about +25%)
    python benchmarks/pr_calibration.py run --out OUT --gates 12 \\
        --arm "mx-noop=T1/repo::--rnnbench-python mxnet=.venv-mxnet/bin/python" \\
        --arm "k3-noop=T2/repo"
    python benchmarks/pr_calibration.py tally OUT --slowdown mx-10 --slowdown mx-25

`run` writes, per gate, NN-ARM.txt (the gate's output, then `rc=... wall=... s`),
NN-ARM-results.json and NN-ARM-comment.md, so that nothing is lost when it is stopped (touch
OUT/STOP to end it after the running gate) and `tally` re-reads everything; `tally --save FILE`
keeps every gate's verdicts, per-worker turn times included, in one file that `tally FILE`
reads again (several runs and files add up: `tally FILE OUT`). Every figure is a
count with its exact 95% bound (Clopper-Pearson): an upper bound for false alarms, a lower bound
for detections. `tally --inject tensorflow=10` also judges each no-op gate again with +10% laid
over its TensorFlow cases' head turns: power measured on real noise, many more gates than real
slowed ones (which stay the check that a real edit slows as a multiplied time does).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from bounds import lower_bound, upper_bound

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pytest_rnnbench.verdicts.distrust import (  # noqa: E402
    BUSY_MACHINE_SHARE,
    SHARED_GPU,
    uneven_load_reason,
)
from pytest_rnnbench.verdicts.quiet_turns import compare_quiet_turns  # noqa: E402
from pytest_rnnbench.verdicts.records import IMPROVEMENT, REGRESSION, worst  # noqa: E402
from pytest_rnnbench.verdicts.time_verdict import time_verdict  # noqa: E402
from pytest_rnnbench.verdicts.worker_level import (  # noqa: E402
    WorkerComparison,
    hodges_lehmann,
)

RC_LINE = re.compile(r"^rc=(-?\d+) wall=(\d+) s$", re.MULTILINE)
GATE_FILE = re.compile(r"^(\d+)-(.+)\.txt$")
SIDE_KEYS = ("reference", "candidate")  # a saved case's sides, as its results file names them
# The outcomes that a timing the plugin distrusts makes inconclusive (distrust.untrusted_time
# without also_pass, as verdicts/judge.py calls it for a shared GPU).
DECIDED = (REGRESSION, IMPROVEMENT)


def parse_arm(spec: str) -> tuple[str, Path, list[str]]:
    """NAME=REPO[::EXTRA GATE ARGUMENTS] -> (name, repository, extra arguments)."""
    name, sep, rest = spec.partition("=")
    if not sep or not name or not rest:
        raise argparse.ArgumentTypeError(f"an arm is NAME=REPO[::ARGS], got {spec!r}")
    repo, _, extra = rest.partition("::")
    if not (Path(repo) / ".git").exists():
        raise argparse.ArgumentTypeError(f"arm {name}: {repo} is not a git repository")
    return name, Path(repo).resolve(), shlex.split(extra)


def run(args: argparse.Namespace) -> None:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    done = [int(m.group(1)) for p in out.iterdir() if (m := GATE_FILE.match(p.name))]
    number = max(done, default=0)
    for index in range(args.gates):
        if (out / "STOP").exists():
            print(f"{out / 'STOP'} exists: stopping", flush=True)
            return
        name, repo, extra = args.arm[index % len(args.arm)]
        number += 1
        tag = f"{number:02d}-{name}"
        command = [
            sys.executable,
            "-m",
            "pytest_rnnbench",
            "gate",
            "--base",
            "master",
            "--comment",
            str(out / f"{tag}-comment.md"),
            "--json",
            str(out / f"{tag}-results.json"),
            *extra,
        ]
        print(f"gate {tag}: started {time.strftime('%H:%M:%S')}, load {_load()}", flush=True)
        start = time.monotonic()
        with open(out / f"{tag}.txt", "w") as log:
            log.write("$ " + shlex.join(command) + f"   # in {repo}\n")
            log.flush()
            rc = subprocess.call(command, cwd=repo, stdout=log, stderr=subprocess.STDOUT)
            wall = round(time.monotonic() - start)
            log.write(f"rc={rc} wall={wall} s\n")
        print(f"gate {tag}: exit {rc}, {wall} s", flush=True)


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def read_gates(out: Path) -> dict[str, list[dict]]:
    """Per arm, each finished gate: exit code, minutes, and each case's whole verdict (with both
    sides' per-worker turn times, so that it can be judged again under another rule). `out` is
    a run's directory, or a file that `tally --save` wrote."""
    if out.is_file():
        return json.loads(out.read_text())["arms"]
    arms: dict[str, list[dict]] = defaultdict(list)
    for path in sorted(out.iterdir()):
        match = GATE_FILE.match(path.name)
        if not match:
            continue
        finished = RC_LINE.search(path.read_text())
        results = out / f"{match.group(1)}-{match.group(2)}-results.json"
        if not finished or not results.exists():
            continue  # still running, or stopped before it wrote its results
        verdicts = json.loads(results.read_text()).get("verdicts") or {}
        arms[match.group(2)].append(
            {
                "gate": match.group(1),
                "rc": int(finished.group(1)),
                "minutes": int(finished.group(2)) / 60,
                "cases": verdicts,
            }
        )
    return dict(arms)


def judge_time(
    found: dict, summary: Callable[[Sequence[float]], float] = hodges_lehmann
) -> tuple[str, WorkerComparison, float, tuple[list[list[float]], list[list[float]]]]:
    """A saved case's time verdict judged again from its workers' turn times with the plugin's
    rule (compare_workers with `summary` on the turns other processes left alone, time_verdict
    at the case's own level: its gate's false-alarm rate over its cases): (outcome, comparison,
    the level, each side's loads of the turns judged)."""
    workers = found["workers"]
    family = found.get("family") or {}
    alpha = float(family.get("false_alarm_rate", 0.01)) / max(int(family.get("cases", 1)), 1)
    tolerance = float(_time(found)["tolerance"])
    comparison, loads = compare_quiet_turns(
        workers["reference"],
        workers["candidate"],
        _loads(found),
        BUSY_MACHINE_SHARE,
        tolerance,
        summary,
    )
    judged = time_verdict(
        comparison,
        tolerance,
        alpha,
        baseline_ms=comparison.reference_ms,
        now_ms=comparison.candidate_ms,
        counts=(len(workers["reference"]), len(workers["candidate"])),
        test="re-judged",
        unit="workers",
    )
    return judged.outcome, comparison, alpha, loads


def _loads(found: dict) -> tuple[list[list[float]], list[list[float]]]:
    """A saved case's turn loads: the reference's workers', the candidate's."""
    loads = found.get("turn_loads") or {}
    return loads.get("reference") or [], loads.get("candidate") or []


def rejudged(found: dict) -> dict:
    """A saved case as today's rule judges it: its time again from the workers (judge_time),
    its other metrics as saved. Cases without per-worker turn times stay as they were."""
    if not (found.get("workers") or {}).get("candidate"):
        return found
    outcome, comparison, alpha, sides = judge_time(found)
    saved = _time(found)
    tolerance = float(saved["tolerance"])
    # In the plugin's order (judge, then live.py): the GPU monitor's finding, which no turn time
    # can undo, distrusts a decided outcome (a regression or an improvement), not a pass ...
    if str(saved.get("why") or "").startswith(SHARED_GPU) and outcome in DECIDED:
        outcome = "inconclusive"
    # ... then load that fell on one side's turns, a pass too where it could hide a regression.
    if uneven_load_reason(outcome, *sides, tolerance, change=comparison.change):
        outcome = "inconclusive"
    metrics = dict(found.get("metrics") or {})
    metrics["step_time"] = dict(
        saved,
        outcome=outcome,
        change=comparison.change,
        resolution=comparison.resolution(alpha),
    )
    verdict = worst(metric.get("outcome", "pass") for metric in metrics.values())
    return dict(found, metrics=metrics, verdict=verdict)


def parse_injection(spec: str) -> tuple[str, float]:
    """BACKEND=PERCENT (tensorflow=10) -> ("tensorflow", 1.10)."""
    backend, sep, percent = spec.partition("=")
    try:
        factor = 1 + float(percent) / 100
    except ValueError:
        factor = 0.0
    if not sep or not backend or factor <= 0:
        raise argparse.ArgumentTypeError(f"expected BACKEND=PERCENT (tensorflow=10), got {spec!r}")
    return backend, factor


def injected(found: dict, factor: float) -> dict:
    """A saved case with every head turn time multiplied by `factor`: a slowdown of that size
    laid over this case's real noise (its processes' offsets, its drift, its turns)."""
    workers = found["workers"]
    candidate = [[turn * factor for turn in worker] for worker in workers["candidate"]]
    return dict(found, workers=dict(workers, candidate=candidate))


def injected_line(gates: list[dict], backend: str, factor: float) -> str:
    """No-op gates with a slowdown injected in one backend's cases, judged again with today's
    rule (each case at its gate's family level): of the gates that judged such cases, how many
    the injected cases made red, and how many of those cases were caught."""
    caught_gates, judged_gates, caught, cases = 0, 0, 0, 0
    for gate in gates:
        outcomes = [
            judge_time(injected(found, factor))[0]
            for case, found in gate["cases"].items()
            if case.split("-")[0] == backend and (found.get("workers") or {}).get("candidate")
        ]
        if not outcomes:
            continue  # this gate judged none of them: it says nothing about their power
        judged_gates += 1
        cases += len(outcomes)
        caught += outcomes.count("regression")
        caught_gates += "regression" in outcomes
    if not judged_gates:
        return ""  # the arm has no such cases (an MXNet arm and a Keras 3 backend)
    n = judged_gates
    return (
        f"  {100 * (factor - 1):+g}% injected in {backend}'s cases: gates where they called a "
        f"regression {caught_gates}/{n} (95% lower bound {lower_bound(caught_gates, n):.0%}); "
        f"cases {caught}/{cases}"
    )


def _called(gate: dict, outcome: str) -> bool:
    return any(found.get("verdict") == outcome for found in gate["cases"].values())


def _unjudged(gate: dict) -> int:
    """How many of the cases that the gate planned (its family) it did not judge."""
    planned = max(
        ((f.get("family") or {}).get("cases") or 0 for f in gate["cases"].values()), default=0
    )
    return max(planned - len(gate["cases"]), 0)


def _time(found: dict) -> dict:
    return (found.get("metrics") or {}).get("step_time") or {}


def tally(args: argparse.Namespace) -> None:
    # Several sources (runs, saved files) add up: an arm's gates from each, in the order given.
    arms: dict[str, list[dict]] = defaultdict(list)
    for source in args.out:
        for name, gates in read_gates(source).items():
            arms[name].extend(gates)
    sources = ", ".join(str(source) for source in args.out)
    if not arms:
        sys.exit(f"no finished gates in {sources}")
    if args.save:  # as measured and judged at the time
        args.save.write_text(json.dumps({"arms": arms}, sort_keys=True) + "\n")
    print(f"gates in {sources}, one line per arm; a gate 'calls' a regression when any case does")
    if args.rejudge:
        print("every case's time judged again from its workers with today's rule (--rejudge)")
        for gates in arms.values():
            for gate in gates:
                gate["cases"] = {case: rejudged(f) for case, f in gate["cases"].items()}
    for name, gates in sorted(arms.items()):
        slowdown = name in args.slowdown
        calls = sum(
            any(c.get("verdict") == "regression" for c in g["cases"].values()) for g in gates
        )
        improvements = sum(
            any(c.get("verdict") == "improvement" for c in g["cases"].values()) for g in gates
        )
        n = len(gates)
        bound = (
            f"95% lower bound {lower_bound(calls, n):.0%}"
            if slowdown
            else f"95% upper bound {upper_bound(calls, n):.0%}"
        )
        minutes = sorted(g["minutes"] for g in gates)
        exits = Counter(g["rc"] for g in gates)
        print(
            f"\n{name} ({'slowdown' if slowdown else 'no-op'}): {n} gates; called a regression "
            f"{calls}/{n} ({bound}); called an improvement {improvements}/{n}; exit codes "
            f"{dict(sorted(exits.items()))}; minutes median {statistics.median(minutes):.1f} "
            f"(max {minutes[-1]:.1f})"
        )
        incomplete = [g["gate"] for g in gates if _unjudged(g)]
        if incomplete:
            # A gate that skipped cases (a dataset it could not fetch, a backend it could not
            # import) is not the arm's gate: its green says nothing about the cases it left out.
            print(f"  WARNING: gates with cases left unjudged: {', '.join(incomplete)}")
        by_backend: dict[str, list[dict]] = defaultdict(list)
        for gate in gates:
            for case, found in gate["cases"].items():
                by_backend[case.split("-")[0]].append(found)
        for backend, cases in sorted(by_backend.items()):
            outcomes = Counter(c.get("verdict") for c in cases)
            times = [_time(c) for c in cases]
            changes = sorted(100 * t["change"] for t in times if t.get("change") is not None)
            resolutions = [100 * t["resolution"] for t in times if t.get("resolution") is not None]
            line = f"  {backend}: {len(cases)} cases: {dict(sorted(outcomes.items()))}"
            if changes:
                line += (
                    f"; change median {statistics.median(changes):+.1f}% "
                    f"({changes[0]:+.1f}..{changes[-1]:+.1f})"
                )
            if resolutions:
                line += f"; resolution median {statistics.median(resolutions):.1f}%"
            print(line)
        all_cases = [found for gate in gates for found in gate["cases"].values()]
        for line in (load_line(all_cases), quiet_turns_line(all_cases)):
            if line:
                print(line)
        if not slowdown:
            print(p_value_line(all_cases))
            for backend, factor in args.inject:
                line = injected_line(gates, backend, factor)
                if line:
                    print(line)


def load_line(cases: list[dict]) -> str:
    """How unevenly other processes loaded the two sides' turns (results with turn_loads): the
    difference of the sides' mean shares, and how many cases it made inconclusive."""
    differences, distrusted = [], 0
    for found in cases:
        loads = found.get("turn_loads") or {}
        sides = [[s for worker in loads.get(side) or [] for s in worker] for side in SIDE_KEYS]
        if not all(sides):
            continue
        differences.append(abs(statistics.mean(sides[1]) - statistics.mean(sides[0])))
        tolerance = float(_time(found).get("tolerance", 0.05))
        # The outcome the load could have made: judged again from the workers where they were
        # kept, with the loads of the turns judged.
        outcome, change, judged = "", None, (loads["reference"], loads["candidate"])
        if (found.get("workers") or {}).get("candidate"):
            outcome, comparison, _, judged = judge_time(found)
            change = comparison.change
        distrusted += bool(uneven_load_reason(outcome, *judged, tolerance, change=change))
    if not differences:
        return ""
    differences.sort()
    return (
        f"  turn loads, {len(differences)} cases: sides differ by median "
        f"{statistics.median(differences):.1%} (max {differences[-1]:.1%}) of the machine's CPU; "
        f"inconclusive for it: {distrusted}"
    )


def quiet_turns_line(cases: list[dict]) -> str:
    """How many turns today's rule leaves out as loaded by other processes (quiet_turns.py), in
    how many of the cases with per-worker turn times."""
    judged = [c for c in cases if (c.get("workers") or {}).get("candidate")]
    if not judged:
        return ""
    left_out = [judge_time(found)[1].turns_left_out for found in judged]
    turns = sum(len(w) for c in judged for side in SIDE_KEYS for w in c["workers"][side])
    return (
        f"  quiet turns: {sum(1 for n in left_out if n)} of {len(judged)} cases left turns out "
        f"({sum(left_out)} of their {turns} turns in all)"
    )


def p_value_line(cases: list[dict]) -> str:
    """A no-op arm's per-case p-values (regression side), recomputed from the workers' turn
    times with the plugin's test: uniform if each case's confidence is true. A handful of gates
    cannot show a 1-in-100 rate of red gates; their cases' p-values test the rule at every level.
    """
    from scipy.stats import kstest

    comparisons = [
        judge_time(found)[1]
        for found in cases
        if (w := found.get("workers") or {}).get("reference") and w.get("candidate")
    ]
    if not comparisons:
        return "  per-case p-values: none (no per-worker turn times)"
    p_values = [comparison.p_greater for comparison in comparisons]
    n = len(p_values)
    below = ", ".join(f"below {x:g}: {sum(p < x for p in p_values)}/{n}" for x in (0.01, 0.05, 0.5))
    # A lean of the p-values has a direction: the share of cases whose head measured faster.
    faster = sum(comparison.change < 0 for comparison in comparisons)
    return (
        f"  per-case p-values (regression side), {n} cases: {below}; uniform by "
        f"Kolmogorov-Smirnov p = {kstest(p_values, 'uniform').pvalue:.2g}; "
        f"head faster in {faster}/{n}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    running = commands.add_parser("run", help="run gates back to back over the arms")
    running.add_argument("--out", type=Path, required=True)
    running.add_argument("--gates", type=int, default=10, help="gates in all, arms in rotation")
    running.add_argument("--arm", type=parse_arm, action="append", required=True)
    counting = commands.add_parser("tally", help="count what the finished gates said")
    counting.add_argument(
        "out", type=Path, nargs="+", help="runs' --out, or files written by --save (added up)"
    )
    counting.add_argument("--save", type=Path, help="keep every gate's verdicts in one file")
    counting.add_argument(
        "--slowdown", action="append", default=[], help="an arm whose head is really slower"
    )
    counting.add_argument(
        "--rejudge",
        action="store_true",
        help="judge each case's time again with the plugin's current rule (older gates were "
        "judged by the rule of their day; exit codes and minutes stay as measured)",
    )
    counting.add_argument(
        "--inject",
        type=parse_injection,
        action="append",
        default=[],
        metavar="BACKEND=PERCENT",
        help="for each no-op arm, also judge its gates with this slowdown laid over one "
        "backend's head turns (real noise, injected change); repeatable",
    )
    args = parser.parse_args()
    run(args) if args.command == "run" else tally(args)


if __name__ == "__main__":
    main()
