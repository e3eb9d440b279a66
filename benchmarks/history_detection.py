"""How well `python -m pytest_rnnbench history` finds changes, and how fast it is on many runs.

1. Noise, measured: the real series in tests/data/history/ (runs of one small MXNet case on this
   project's 2-CPU machine; benchmarks/history_real_series.py made them). Each run's seconds per
   epoch against the median of the runs of the same code is one sample of run-to-run noise:
   "quiet" from the series recorded while the machine was otherwise calm, "busy" from the one
   recorded while colleagues' test runs shared it.
2. Detection: generated series of RUNS nightly runs, each value the real template's seconds per
   epoch times (1 + a noise sample drawn from a pool), and from a random run on (the change, at
   least 5 runs from either end) times (1 + shift). For each pool and shift: how often exactly one
   change point is found at the right run (and within one run of it), how often the change is
   missed, and how often a change point is found elsewhere. Pure noise, and noise that turns
   from quiet to busy halfway (the spread grows, the level does not move), must give none.
   Each with this tool's default p-value threshold (0.0001) and Otava's own (0.001).
3. Speed: HUNDREDS results files made from tests/data/results-*.json (32 cases per run, the
   machine's noise on every case, two cases slowed down by 20% from two thirds on), then the
   history command on all of them, in a process of its own, with and without charts.

    .venv/bin/python benchmarks/history_detection.py [--series 500] [--runs 30] [--runs 60] \\
        [--timing-runs 300]

Seeds are fixed: the same command prints the same rates.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_rnnbench.history import series as history
from pytest_rnnbench.history.changes import Detection, find_changes
from pytest_rnnbench.history.runs import METRICS

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"

QUIET = ("rnn-work-16", "no-change")
BUSY = ("rnn-work-16-busy",)
SHIFTS = (0.05, 0.10, 0.20, 0.40, -0.20)
PAGE_SERIES = 32  # a nightly job's cases on one machine: the seed matrix's 48 is of this size
SLOWED = ("mxnet-gpu0-b128-unroll-synthetic", "tensorflow-gpu0-b32-nounroll-nietzsche")


def noise_of(names: tuple[str, ...]) -> list[float]:
    """Relative deviations of each run from the median of the runs of its code."""
    deviations = []
    for name in names:
        built = history.load_history(sorted((DATA / "history" / name).glob("run-*.json")))
        for series in built.series:
            values = series.values(METRICS["time"])
            code = ["rnn-work" in (p.run.subject or "") for p in series.points]
            for changed in (False, True):
                runs = [v for v, c in zip(values, code) if c == changed and v is not None]
                if runs:
                    median = statistics.median(runs)
                    deviations += [v / median - 1 for v in runs]
    return deviations


def describe(name: str, pool: list[float]) -> str:
    ordered = sorted(pool)
    return (
        f"{name:<5} noise: {len(pool)} runs, stdev {statistics.pstdev(pool) * 100:.1f}%, "
        f"range {ordered[0] * 100:+.1f}% .. {ordered[-1] * 100:+.1f}%"
    )


def detection_rates(
    pool: list[float], shift: float, runs: int, series: int, seed: str, detection: Detection
) -> dict[str, int]:
    rng = random.Random(seed)
    counts = {"exact": 0, "near": 0, "missed": 0, "elsewhere": 0}
    for _ in range(series):
        at = rng.randint(5, runs - 5)
        values = [
            3.2 * (1 + rng.choice(pool)) * ((1 + shift) if i >= at else 1.0) for i in range(runs)
        ]
        positions = [c.position for c in find_changes(values, detection)]
        counts["exact"] += positions == [at]
        counts["near"] += any(abs(p - at) <= 1 for p in positions)
        counts["missed"] += not any(abs(p - at) <= 1 for p in positions)
        counts["elsewhere"] += any(abs(p - at) > 1 for p in positions)
    return counts


def false_alarms(
    pools: tuple[list[float], list[float]], runs: int, series: int, seed: str, detection: Detection
) -> int:
    """Series of noise alone, from the first pool and from halfway on the second, that have a
    change point."""
    rng = random.Random(seed)
    alarms = 0
    for _ in range(series):
        values = [3.2 * (1 + rng.choice(pools[i >= runs // 2])) for i in range(runs)]
        alarms += bool(find_changes(values, detection))
    return alarms


def temporary_changes(
    pool: list[float], shift: float, runs: int, series: int, seed: str, detection: Detection
) -> dict[str, int]:
    """A change that is undone: `shift` from a third of the way to two thirds, then back (a
    regression fixed ten nights later). Both edges should be found, within one run each."""
    rng = random.Random(seed)
    up, down = runs // 3, 2 * runs // 3
    counts = {"both": 0, "one": 0, "none": 0}
    for _ in range(series):
        values = [
            3.2 * (1 + rng.choice(pool)) * ((1 + shift) if up <= i < down else 1.0)
            for i in range(runs)
        ]
        positions = [c.position for c in find_changes(values, detection)]
        found = sum(any(abs(p - edge) <= 1 for p in positions) for edge in (up, down))
        counts[("none", "one", "both")[found]] += 1
    return counts


def one_slow_run(
    pool: list[float], shift: float, runs: int, series: int, seed: str, detection: Detection
) -> int:
    """Series with one run `shift` slower (anywhere, the first and last included) and none
    other: a level did not move, so no change point should be found."""
    rng = random.Random(seed)
    alarms = 0
    for _ in range(series):
        slow = rng.randrange(runs)
        values = [3.2 * (1 + rng.choice(pool)) * ((1 + shift) if i == slow else 1.0)
                  for i in range(runs)]  # fmt: skip
        alarms += bool(find_changes(values, detection))
    return alarms


def pages_with_a_change(
    pool: list[float], runs: int, pages: int, per_page: int, seed: str, detection: Detection
) -> int:
    """Pages of `per_page` unchanged series (a nightly job's cases on one machine): how many show
    at least one change point (the page is the family a reader meets)."""
    rng = random.Random(seed)
    shown = 0
    for _ in range(pages):
        shown += any(
            find_changes([3.2 * (1 + rng.choice(pool)) for _ in range(runs)], detection)
            for _ in range(per_page)
        )
    return shown


def write_runs(directory: Path, count: int, pool: list[float]) -> None:
    """`count` nightly results files: both real templates' 32 cases, noise on each."""
    templates = [json.loads(path.read_text()) for path in sorted(DATA.glob("results-*.json"))]
    merged = copy.deepcopy(templates[0])
    for other in templates[1:]:
        merged["results"].update(other["results"])
    rng = random.Random("timing")
    start = time.mktime((2026, 1, 1, 2, 0, 0, 0, 0, 0))
    for night in range(count):
        document = copy.deepcopy(merged)
        document["written"] = time.strftime(
            "%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(start + night * 86400)
        )
        for case_id, entry in document["results"].items():
            factor = 1 + rng.choice(pool)
            if case_id in SLOWED and night >= 2 * count // 3:
                factor *= 1.2
            entry["epoch_seconds"] *= factor
        (directory / f"night-{night:04d}.json").write_text(json.dumps(document))


def time_command(files: list[Path], out: Path, *extra: str) -> tuple[float, str]:
    command = [sys.executable, "-m", "pytest_rnnbench", "history", *map(str, files), "-o", str(out)]
    started = time.monotonic()
    done = subprocess.run(command + list(extra), capture_output=True, text=True)
    took = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return took, done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=500, help="generated series per cell")
    parser.add_argument("--runs", type=int, action="append", help="runs per series (default 30)")
    parser.add_argument("--timing-runs", type=int, default=300, help="results files to time")
    args = parser.parse_args()
    pools = {"quiet": noise_of(QUIET), "busy": noise_of(BUSY)}
    print(f"# history detection, Apache Otava; {args.series} series per cell")
    for name, pool in pools.items():
        print(describe(name, pool))
    started = time.monotonic()
    for detection in (Detection(), Detection(max_pvalue=0.001)):
        print(
            f"\np < {detection.max_pvalue:g}, change >= {detection.min_change:.0%}, "
            f"window {detection.window}"
            + (" (the default)" if detection == Detection() else " (Otava's own p-value)")
        )
        for runs in args.runs or [30]:
            print(f"  {runs} runs per series, the change at a random run from 5 to {runs - 5}:")
            cell = f"{detection.max_pvalue}-{runs}"
            for name, pool in pools.items():
                alarms = false_alarms(
                    (pool, pool), runs, args.series, f"noise-{name}-{cell}", detection
                )
                print(
                    f"    {name:<5} noise only:   a change point in {alarms}/{args.series} series"
                )
            grows = false_alarms(
                (pools["quiet"], pools["busy"]), runs, args.series, f"grow-{cell}", detection
            )
            print(
                f"    quiet noise, busy from halfway (no change of level): a change point in "
                f"{grows}/{args.series} series"
            )
            for name, pool in pools.items():
                for shift in SHIFTS:
                    c = detection_rates(
                        pool, shift, runs, args.series, f"{name}-{shift}-{cell}", detection
                    )
                    print(
                        f"    {name:<5} shift {shift * 100:+4.0f}%:  found at its run "
                        f"{c['exact']}/{args.series}, within one run {c['near']}/{args.series}, "
                        f"missed {c['missed']}/{args.series}, a change point elsewhere "
                        f"{c['elsewhere']}/{args.series}"
                    )
            undone, nights = [], []
            for shift in (0.25, 0.50):
                quiet = (pools["quiet"], shift, runs, args.series)
                t = temporary_changes(*quiet, f"temp-{shift}-{cell}", detection)
                undone.append(
                    f"    quiet, {shift * 100:+.0f}% from run {runs // 3} to {2 * runs // 3 - 1}, "
                    f"then back: both edges {t['both']}/{args.series}, one {t['one']}/"
                    f"{args.series}, none {t['none']}/{args.series}"
                )
                alarms = one_slow_run(*quiet, f"spike-{shift}-{cell}", detection)
                nights.append(
                    f"    quiet, one run {shift * 100:+.0f}% anywhere (no level moved): a change "
                    f"point in {alarms}/{args.series} series"
                )
            print("\n".join(undone + nights))
            pages = max(1, args.series // 5)
            shown = pages_with_a_change(
                pools["quiet"], runs, pages, PAGE_SERIES, f"pages-{cell}", detection
            )
            print(
                f"    quiet noise only, pages of {PAGE_SERIES} series: at least one change point "
                f"on {shown}/{pages} pages"
            )
    print(f"(detection: {time.monotonic() - started:.0f} s)")
    with tempfile.TemporaryDirectory() as tmp:
        runs_dir = Path(tmp) / "nightly"
        runs_dir.mkdir()
        write_runs(runs_dir, args.timing_runs, pools["quiet"])
        files = sorted(runs_dir.glob("*.json"))
        size = sum(path.stat().st_size for path in files) / 2**20
        print(
            f"\nspeed: {len(files)} results files of 32 cases each ({size:.0f} MiB), two cases "
            f"slowed by 20% from run {2 * len(files) // 3 + 1} on:"
        )
        took, line = time_command(files, Path(tmp) / "page-only", "--no-charts")
        print(f"  history --no-charts: {took:.1f} s   [{line}]")
        took, line = time_command(files, Path(tmp) / "with-charts")
        print(f"  history with charts: {took:.1f} s   [{line}]")


if __name__ == "__main__":
    main()
