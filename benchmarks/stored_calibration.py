"""Stored-baseline calibration: sessions as the unit, as `--rnnbench-save-baseline` and a judged
run make and judge them.

One small real case (default: TensorFlow, synthetic, batch 128, unroll, 4,096 samples, CPU) runs
in fresh worker processes started exactly as the plugin starts them (worker script, environment,
thread pools, sample extraction). The run is a sequence of cycles; each cycle

  1. records a session: --save-workers fresh workers one after another (the plugin's default
     when saving), saved through a real baseline file (baseline.save, read back), so the entry
     keeps its rolling window of sessions as the plugin's does;
  2. judges one run per arm (A: no change, B25: +25%, B100: +100% injected in every training
     step), each --judge-workers fresh workers (a judged run's default, as a save's), against the
     sessions stored so far, with the plugin's rule (verdicts/session_time.py) at the run's
     false-alarm level divided among --cases, and its busy check (a run during which other
     processes took more than 10% of the CPU, or judged against an entry whose latest saved
     session was, is inconclusive; sessions saved so are left out of the stored ones).

Verdicts of one cycle share the stored sessions, and later cycles judge against a window that
grew: they are not independent trials, which the output says. The first --history cycles only
record (a judged run needs sessions to be judged against).

    .venv/bin/python benchmarks/stored_calibration.py --cycles 10 --save stored-tf.json
    .venv/bin/python benchmarks/stored_calibration.py --backend torch --cycles 8
    .venv/bin/python benchmarks/stored_calibration.py --load stored-tf.json   # re-analyse
    .venv/bin/python benchmarks/stored_calibration.py --resume stored-tf.json --cycles 4

--resume adds cycles to a saved run (same case, settings, machine and framework versions), say
on another day: its runs judged against sessions that an earlier run recorded (after any level
shift) are counted apart (A/A across runs and days, the drift a stored baseline meets in use).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, Optional, TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from bounds import bound_text  # noqa: E402  (benchmarks/bounds.py, beside this script)
from pytest_rnnbench.machine import cpu_count, cpu_model  # noqa: E402
from pytest_rnnbench.matrix import Case  # noqa: E402
from pytest_rnnbench.options.parsers import thread_pools  # noqa: E402
from pytest_rnnbench.run import datasets  # noqa: E402
from pytest_rnnbench.run.process import run_worker  # noqa: E402
from pytest_rnnbench.run.protocol import build_request, worker_env  # noqa: E402
from pytest_rnnbench.settings import (  # noqa: E402
    DEFAULT_FALSE_ALARM_RATE,
    DEFAULT_THREAD_POOLS,
    STORED_WORKERS,
    default_cache_dir,
)
from pytest_rnnbench.verdicts import baseline  # noqa: E402
from pytest_rnnbench.verdicts.distrust import timing_distrust, untrusted_time  # noqa: E402
from pytest_rnnbench.verdicts.live import merge_side  # noqa: E402
from pytest_rnnbench.verdicts.records import (  # noqa: E402
    REGRESSION,
    MetricVerdict,
    format_resolution,
)
from pytest_rnnbench.verdicts.samples import (  # noqa: E402
    busy_shares,
    comparable,
    metric_samples,
    worker_probe_ms,
    worker_step_ms,
)
from pytest_rnnbench.verdicts.session_time import (  # noqa: E402
    session_comparison,
    session_time_judge,
    stored_sessions,
)

ARMS = {"A": 1.0, "B25": 1.25, "B100": 2.0}
# --sessions-judged: each cycle's recorded session, judged before it is stored, as one more A/A
# run of --save-workers workers (it is one: unchanged code in fresh workers), from data measured.
SESSION_ARM = "S"
TOLERANCE = 0.05  # the plugin's default time tolerance


def fresh_workers(python: str, request: dict, env: dict, count: int, log: Path) -> dict:
    """`count` fresh workers one after another, merged as the plugin merges them."""
    results = [run_worker(python, request, env, 1800, log).result for _ in range(count)]
    return merge_side([r for r in results if r is not None])


# What a resumed run must share with the saved one for its cycles to continue the same series.
SETTINGS = (
    "case",
    "samples",
    "repeats",
    "save_workers",
    "thread_pools",
    "machine",
)


def new_run(args: argparse.Namespace) -> dict:
    return {
        "case": Case(args.backend, 0, args.batch, True, "synthetic").to_dict(),
        "samples": args.samples,
        "repeats": args.repeats,
        "save_workers": args.save_workers,
        "thread_pools": args.thread_pools,
        "machine": {"cpu": cpu_model(), "cpus": cpu_count()},
        "cycles": [],
    }


def resumed_run(path: Path, args: argparse.Namespace) -> dict:
    """The saved run in `path`, to which this one adds cycles; exits if anything that makes its
    sessions comparable differs (the case, its settings, the machine)."""
    data = json.loads(path.read_text())
    now = new_run(args)
    differing = [key for key in SETTINGS if data.get(key) != now[key]]
    if differing:
        sys.exit(
            f"{path}: cannot resume: {', '.join(differing)} differ from this run's "
            f"({', '.join(f'{k}={now[k]}' for k in differing)})"
        )
    return data


def measure(args: argparse.Namespace, data: dict, save: Optional[Path]) -> dict:
    """Adds args.cycles cycles to `data` (a new or resumed run); the first args.history cycles
    of the whole run only record."""
    case = Case.from_id(data["case"]["id"])
    # Prepared once, as the plugin prepares a dataset once per session.
    spec = datasets.worker_spec("synthetic", None, default_cache_dir(), args.samples)
    requests = {
        arm: build_request(case.to_dict(), spec, args.repeats, factor, machine_probe=True)
        for arm, factor in ARMS.items()
    }
    env = worker_env(args.backend, [], thread_pools=args.thread_pools)
    started = time.monotonic()
    invocation = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "worker.log"
        first = len(data["cycles"])
        for cycle in range(first, first + args.cycles):
            t0 = time.monotonic()
            day = time.strftime("%Y-%m-%d", time.gmtime())
            session = fresh_workers(args.python, requests["A"], env, args.save_workers, log)
            if cycle == first and first:
                refuse_to_continue(data["cycles"][-1]["session"], session)
            judged, judged_busy, judged_probe = {}, {}, {}
            if cycle >= args.history:
                for arm in ARMS:
                    run = fresh_workers(args.python, requests[arm], env, args.judge_workers, log)
                    judged[arm] = worker_step_ms(run)
                    judged_busy[arm] = busy_shares(run)
                    judged_probe[arm] = worker_probe_ms(run)
            data["cycles"].append(
                {
                    "invocation": invocation,
                    "day": day,
                    "load": os.getloadavg()[0],
                    "session": session,
                    "session_worker_ms": worker_step_ms(session),
                    "judged": judged,
                    # Per cycle: a resumed run may judge with another count than the saved one.
                    "judge_workers": args.judge_workers,
                    # Other processes' share of the CPU in each timed epoch of a judged run, which
                    # the plugin's busy check reads (saved runs before 2026-12-06 12:30 lack it).
                    "judged_busy": judged_busy,
                    # Each judged worker's machine-speed probe (ms; runs saved before 2026-12-06
                    # 20:00 lack it, and their sessions too), which stored_at_speed.py replays.
                    "judged_probe": judged_probe,
                }
            )
            data["wall_seconds"] = data.get("wall_seconds", 0) + time.monotonic() - started
            started = time.monotonic()
            probe = session_probe_ms(session)
            print(
                f"  cycle {cycle + 1}/{first + args.cycles}: session "
                f"{', '.join(f'{v:.1f}' for v in worker_step_ms(session))} ms"
                + (f" (probe {probe:.1f} ms)" if probe else "")
                + "; judged "
                + (
                    ", ".join(f"{a} {statistics.mean(v):.1f}" for a, v in judged.items())
                    if judged
                    else "none yet"
                )
                + f"  ({time.monotonic() - t0:.0f} s)",
                flush=True,
            )
            if save is not None:  # after every cycle: an interrupted run keeps what it measured
                save.write_text(json.dumps(data))
    return data


def refuse_to_continue(saved: dict, now: dict) -> None:
    """Exits, keeping the saved run as it was, when this run's first session was measured
    otherwise than the saved ones (samples, steps, thread pools, framework versions): resumed
    cycles must differ from the saved ones only by the day."""
    different = comparable(saved, now)
    if different is None and saved.get("versions") != now.get("versions"):
        different = f"versions {saved.get('versions')} then, {now.get('versions')} now"
    if different:
        sys.exit(f"cannot resume: {different}; nothing was added")


class Judged(NamedTuple):
    arm: str
    verdict: MetricVerdict
    p_value: float
    # The sessions the verdict rested on (after any level shift) include one that an earlier
    # invocation of this script recorded (--resume): the drift between runs, days apart.
    across_runs: bool
    workers: int  # the judged run's worker processes


def judged_workers(data: dict, cycle: dict) -> int:
    """A cycle's judged worker count (saved runs before 2026-12-06 14:00 kept one per run)."""
    return cycle.get("judge_workers", data.get("judge_workers", 1))


# A rule for the step time: (the stored sessions, this run's worker step times in ms, alpha, the
# stored sessions' machine-speed probes in ms, aligned, None where not probed, this run's worker
# probes) -> the verdict for a tolerance. The plugin's ignores the probes; stored_at_speed.py
# replays another.
TimeJudge = Callable[
    [list, list[float], float, list[Optional[float]], list[float]],
    Callable[[float], MetricVerdict],
]


def plugin_time_judge(
    sessions: list, worker_ms: list[float], alpha: float, *_probes: object
) -> Callable[[float], MetricVerdict]:
    judged = session_time_judge(sessions, worker_ms, alpha)
    assert judged is not None
    return judged


def session_probe_ms(result: dict) -> Optional[float]:
    """A session's or run's machine-speed probe: the median of its workers' (None: not probed).
    The median, as one worker's probe can meet a passing disturbance."""
    probes = worker_probe_ms(result)
    return statistics.median(probes) if probes else None


def judge_all(
    data: dict,
    alpha: float,
    sessions_judged: bool = False,
    time_judge: TimeJudge = plugin_time_judge,
) -> list[Judged]:
    """Replays the cycles: save each session through a real baseline file, judge the arms
    against what is stored before that cycle's session (as a run judged that day would be);
    with `sessions_judged`, the session itself too (SESSION_ARM). `time_judge`: the rule for the
    step time (default the plugin's)."""
    found = []
    # Per saved session, in order: its machine-speed probe and its invocation (older runs: "").
    saved: list[tuple[Optional[float], str]] = []
    profile = baseline.machine_profile(
        data["machine"]["cpu"], data["machine"]["cpus"], [], None, None, sys.version.split()[0]
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = baseline.baseline_path(Path(tmp), profile)
        for cycle in data["cycles"]:
            if cycle["judged"]:
                entry = next(iter(baseline.load(path, profile).values()))
                sessions = stored_sessions(entry)
                kept = of_stored_sessions(entry, saved)
                assert len(kept) == len(sessions)
                stored_probe = [probe for probe, _ in kept]
                recorded_by = [invocation for _, invocation in kept]
                this = cycle.get("invocation", "")
                runs = [
                    (
                        arm,
                        ms,
                        cycle.get("judged_busy", {}).get(arm),
                        judged_workers(data, cycle),
                        cycle.get("judged_probe", {}).get(arm) or [],
                    )
                    for arm, ms in cycle["judged"].items()
                ]
                if sessions_judged:
                    session = cycle["session"]
                    ms, busy = worker_step_ms(session), busy_shares(session)
                    runs.append(
                        (SESSION_ARM, ms, busy, data["save_workers"], worker_probe_ms(session))
                    )
                for arm, worker_ms, busy, workers, probe in runs:
                    judged = time_judge(sessions, worker_ms, alpha, stored_probe, probe)
                    verdict = busy_checked(judged(TOLERANCE), entry, busy)
                    comparison = session_comparison(sessions, worker_ms)
                    used = recorded_by[-comparison.used :]
                    across = bool(this) and any(r and r != this for r in used)
                    found.append(Judged(arm, verdict, comparison.p_greater, across, workers))
            session = cycle["session"]
            entry = baseline.make_entry(data["case"], session, metric_samples(session))
            baseline.save(path, profile, {baseline.key_of(entry): entry})
            saved.append((session_probe_ms(session), cycle.get("invocation", "")))
    return found


Saved = TypeVar("Saved")


def of_stored_sessions(entry: dict, saved: list[Saved]) -> list[Saved]:
    """What was kept beside each session saved so far (`saved`, one item per session, oldest
    first), for the sessions that stored_sessions(entry) judges with, aligned with them: the
    entry's window, less the sessions the plugin leaves out (saved on a busy machine). Each is
    asked of stored_sessions itself, so the rule is the plugin's, not a copy."""
    window = baseline.entry_sessions(entry)
    latest = saved[len(saved) - len(window) :]
    return [item for record, item in zip(window, latest) if stored_sessions({"sessions": [record]})]


def busy_checked(verdict: MetricVerdict, entry: dict, busy: Optional[list[float]]) -> MetricVerdict:
    """The verdict as the plugin leaves it after its busy check (verdicts/judge.py, with
    timing_distrust): a decided time verdict is inconclusive when other processes took more than
    the busy limit of the CPU during this run (`busy`: per timed epoch) or during the stored
    `entry`'s latest saved session (its cpu_busy_shares)."""
    why = timing_distrust(entry, {"cpu_busy_shares": busy or []})
    return untrusted_time(verdict, why) if why else verdict


def show(data: dict, cases: int, sessions_judged: bool = False) -> None:
    alpha = DEFAULT_FALSE_ALARM_RATE / cases
    cycles = data["cycles"]
    print(
        f"\nSTORED: case {data['case']['id']}, {data['samples']} samples x {data['repeats']} "
        f"epochs; {len(cycles)} sessions of {data['save_workers']} fresh workers each, thread "
        f"pools {data['thread_pools']}; machine {data['machine']['cpu']} "
        f"({data['machine']['cpus']} CPUs); {data.get('wall_seconds', 0) / 60:.0f} min; "
        f"load average {min(c['load'] for c in cycles):.1f}-{max(c['load'] for c in cycles):.1f}"
    )
    session_ms = [statistics.mean(c["session_worker_ms"]) for c in cycles]
    print(
        f"session step times (mean of workers): {min(session_ms):.1f}..{max(session_ms):.1f} ms, "
        f"spread (sd/mean) {statistics.stdev(session_ms) / statistics.mean(session_ms):.1%}"
    )
    found = judge_all(data, alpha, sessions_judged)
    print(
        f"each run judged at {DEFAULT_FALSE_ALARM_RATE:.0%}/{cases} = {alpha:.2g} (a run of "
        f"{cases} cases holds {DEFAULT_FALSE_ALARM_RATE:.0%}); tolerance {TOLERANCE:.0%}; verdicts "
        "of one cycle share its stored sessions (not independent trials)"
    )
    runs = sorted({(c["invocation"], c["day"]) for c in cycles if c.get("invocation")})
    if len(runs) > 1:
        print(f"{len(runs)} runs of this script, days {', '.join(sorted({d for _, d in runs}))}")
    probe_changes(cycles)
    tally_by_workers(found)


def tally_by_workers(found: list[Judged]) -> None:
    for workers in sorted({j.workers for j in found}):
        print(f"runs judged with {workers} worker(s):")
        same = [j for j in found if j.workers == workers]
        tally(same)
        if any(j.across_runs for j in same):
            print("  of which judged against sessions that an earlier run of this script recorded:")
            tally([j for j in same if j.across_runs])


def probe_changes(cycles: list[dict]) -> None:
    """The machine-speed probe's record: its sessions' range, and how far each judged run's
    was from its cycle's session, recorded just before (the machine's drift over minutes)."""
    session_probe = [session_probe_ms(c["session"]) for c in cycles]
    known = [ms for ms in session_probe if ms]
    if not known:
        return
    steps = [
        statistics.median(probe) / before - 1
        for before, cycle in zip(session_probe, cycles)
        for probe in (cycle.get("judged_probe") or {}).values()
        if before and probe
    ]
    print(
        f"machine-speed probe: sessions {min(known):.1f}..{max(known):.1f} ms (spread "
        f"{statistics.stdev(known) / statistics.mean(known):.1%}); judged runs vs their "
        f"cycle's session: {len(steps)} runs, median {statistics.median(steps):+.1%}, "
        f"{min(steps):+.1%}..{max(steps):+.1%}, beyond {TOLERANCE:.0%} either way "
        f"{sum(abs(step) > TOLERANCE for step in steps)}"
        if len(known) > 1 and steps
        else f"machine-speed probe: {len(known)} session(s)"
    )


def tally(found: list[Judged]) -> None:
    """Per arm: regressions with their 95% bound, outcomes, changes, printed resolutions; then
    the A/A p-values' uniformity."""
    for arm in [*ARMS, SESSION_ARM]:
        verdicts = [j.verdict for j in found if j.arm == arm]
        if not verdicts:
            continue
        hits = sum(v.outcome == REGRESSION for v in verdicts)
        bound = bound_text(hits, len(verdicts), detection=ARMS.get(arm, 1.0) > 1.0)
        outcomes = {
            o: sum(v.outcome == o for v in verdicts) for o in sorted({v.outcome for v in verdicts})
        }
        resolutions = sorted(v.resolution for v in verdicts if v.resolution is not None)
        changes = sorted(v.change * 100 for v in verdicts)
        print(
            f"  {arm:>4}: regression {hits}/{len(verdicts)} ({bound}); "
            f"outcomes {outcomes}; change median {statistics.median(changes):+.1f}% "
            f"({changes[0]:+.1f}..{changes[-1]:+.1f}); resolution printed median "
            f"{format_resolution(statistics.median(resolutions)) if resolutions else 'n/a'}"
        )
    for arm in ("A", SESSION_ARM):
        aa_p_values(arm, [j.p_value for j in found if j.arm == arm])


def aa_p_values(arm: str, p_values: list[float]) -> None:
    from scipy.stats import kstest

    if len(p_values) > 1:
        print(
            f"  {arm} p-values: below 0.05 {sum(p < 0.05 for p in p_values)}/{len(p_values)}, "
            f"below 0.2 {sum(p < 0.2 for p in p_values)}/{len(p_values)}; uniform by "
            f"Kolmogorov-Smirnov p = {kstest(p_values, 'uniform').pvalue:.2f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="tensorflow")
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument(
        "--history", type=int, default=3, help="cycles that only record (default %(default)s)"
    )
    parser.add_argument("--save-workers", type=int, default=STORED_WORKERS)
    parser.add_argument("--judge-workers", type=int, default=STORED_WORKERS)
    parser.add_argument(
        "--sessions-judged",
        action="store_true",
        help=f"also judge each recorded session as an A/A run (arm {SESSION_ARM})",
    )
    parser.add_argument("--cases", type=int, default=12, help="the run's cases (its family)")
    parser.add_argument("--thread-pools", type=thread_pools, default=DEFAULT_THREAD_POOLS)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--save", type=Path, help="keep the raw results in this file")
    parser.add_argument("--load", type=Path, help="analyse a saved run; nothing is measured")
    parser.add_argument(
        "--resume", type=Path, help="add --cycles cycles to this saved run (kept in it)"
    )
    args = parser.parse_args()
    if args.load:
        data = json.loads(args.load.read_text())
    elif args.resume:
        data = measure(args, resumed_run(args.resume, args), args.resume)
    else:
        data = measure(args, new_run(args), args.save)
    show(data, args.cases, args.sessions_judged)
    return 0


if __name__ == "__main__":
    sys.exit(main())
