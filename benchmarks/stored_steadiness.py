"""Would a judged run's own worker spread have told a false alarm apart? (a rule not adopted)

A stored-baseline verdict predicts a new session from the spread of the stored ones
(verdicts/session_level.py). When the machine itself slows for a while (a neighbour on the host
that the guest's CPU accounting does not see), a run can fall outside that prediction with no
change in the code. Such a run's worker processes may also differ from one another more than the
stored sessions' workers did. This script replays saved `stored_calibration.py` runs and, for each
judged run of two or more workers (and each recorded session, arm S), tests its within-run
variance of log worker step times against the stored sessions' pooled within-session variance
(one-sided F test; the window's latest WINDOW sessions, without the level-shift search), and
prints per arm how many runs such a check would make inconclusive, and which.

The answer on 2026-12-06's series (benchmarks/results/stored-calibration-*-2026-12-06b.txt): no.
The three A/A false alarms there came from a machine that slowed as a whole, every worker alike;
the check flags none of them, and would make 11 of 47 TensorFlow +100% runs inconclusive.

    .venv/bin/python benchmarks/stored_steadiness.py \\
        benchmarks/results/stored-calibration-tensorflow-2026-12-06b.json

Reads saved files only; nothing is measured.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pytest_rnnbench.verdicts.session_level import MIN_SESSIONS, WINDOW  # noqa: E402

SESSION_ARM = "S"  # as stored_calibration.py names a recorded session judged before it is stored
LEVELS = (0.01, 0.001)


def log_variance(step_ms: list[float]) -> float:
    """The sample variance of the log step times (at least two)."""
    return statistics.variance(math.log(v) for v in step_ms)


def pooled(sessions: list[list[float]]) -> tuple[float, int]:
    """The stored sessions' pooled within-session log variance and its degrees of freedom."""
    several = [s for s in sessions if len(s) > 1]
    df = sum(len(s) - 1 for s in several)
    return sum(log_variance(s) * (len(s) - 1) for s in several) / df, df


def replay(data: dict) -> dict[str, list[tuple[float, int, float, float]]]:
    """Per arm: (F test's p, cycle number, run's spread, stored within-session spread) of each
    run judged against at least MIN_SESSIONS stored sessions (judged before its cycle's own
    session is stored, as stored_calibration.py judges)."""
    from scipy.stats import f

    found: dict[str, list[tuple[float, int, float, float]]] = {}
    stored: list[list[float]] = []
    for number, cycle in enumerate(data["cycles"], 1):
        if cycle["judged"] and len(stored) >= MIN_SESSIONS:
            within, df = pooled(stored[-WINDOW:])
            runs = {**cycle["judged"], SESSION_ARM: cycle["session_worker_ms"]}
            for arm, step_ms in runs.items():
                if len(step_ms) < 2:
                    continue
                variance = log_variance(step_ms)
                p = float(f.sf(variance / within, len(step_ms) - 1, df))
                found.setdefault(arm, []).append(
                    (p, number, math.sqrt(variance), math.sqrt(within))
                )
        stored.append(cycle["session_worker_ms"])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("saved", type=Path, nargs="+", help="stored_calibration.py --save files")
    args = parser.parse_args()
    for path in args.saved:
        data = json.loads(path.read_text())
        print(f"{path.name}: case {data['case']['id']}, {len(data['cycles'])} cycles")
        for arm, runs in replay(data).items():
            counts = ", ".join(
                f"at {level:g}: {sum(p < level for p, *_ in runs)}" for level in LEVELS
            )
            flagged = sorted(run for run in runs if run[0] < LEVELS[0])
            shown = "; ".join(
                f"cycle {n} (spread {run:.1%} vs {within:.1%}, p={p:.2g})"
                for p, n, run, within in flagged
            )
            listed = f": {shown}" if shown else ""
            print(f"  {arm:>4}: {len(runs)} runs; inconclusive {counts}{listed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
