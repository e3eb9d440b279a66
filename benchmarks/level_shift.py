"""How often the stored baselines' level-shift search finds a shift, by seeded simulation: in
histories of identical code (a false shift drops the sessions before it), and after a real shift
of the latest sessions (found, and found at the right session).

The search (verdicts/session_level.py: after_level_shift) tries every split with at least two
sessions on either side and takes the most extreme one when it passes the level divided by the
number of splits. This script runs that search with each split's two-sample test named:
`pooled` (Student's t, variance pooled: the plugin's), the same with at least three sessions
after a shift (not adopted), and `welch` (Welch's t, the plugin's before 2026-12-06), on the same
histories, so that their figures compare side by side; also histories of one outlier session.

    python benchmarks/level_shift.py --histories 1000 --seed 1
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pytest_rnnbench.verdicts.session_level import (  # noqa: E402
    WINDOW,
    TwoSample,
    after_level_shift,
)
from pytest_rnnbench.verdicts.worker_level import pooled, welch  # noqa: E402

# Each rule: the two-sample test at each split and the fewest sessions after a shift.
RULES: dict[str, tuple[TwoSample, int]] = {
    "pooled": (pooled, 2),
    "pooled, 3 after": (pooled, 3),
    "welch": (welch, 2),
}
OUTLIER = 0.18  # log(1.2): one session 20% slower than the rest (a load during one save)


def _shift(values: list[float], rule: str) -> int:
    test, min_after = RULES[rule]
    return after_level_shift(values, two_sample=test, min_after=min_after)


SPREAD = 0.03  # sessions' standard deviation of log step time (TensorFlow's 3.4%, 2026-12-06)
SHIFT = 0.095  # log(1.10): a +10% level shift


def false_shifts(rng: random.Random, histories: int, sessions: int) -> dict[str, int]:
    """Per test, the histories of identical code in which a shift was found."""
    found = dict.fromkeys(RULES, 0)
    for _ in range(histories):
        values = [rng.gauss(0, SPREAD) for _ in range(sessions)]
        for name in RULES:
            found[name] += _shift(values, name) > 0
    return found


def outlier_shifts(rng: random.Random, histories: int, back: int) -> dict[str, int]:
    """Per rule, the histories of WINDOW sessions of identical code, one of them (`back` from the
    end) OUTLIER slower, in which a shift was found: the sessions before it dropped for a lone
    outlier."""
    found = dict.fromkeys(RULES, 0)
    for _ in range(histories):
        values = [rng.gauss(0, SPREAD) for _ in range(WINDOW)]
        values[-back] += OUTLIER
        for name in RULES:
            found[name] += _shift(values, name) > 0
    return found


def real_shifts(rng: random.Random, histories: int, shifted: int) -> dict[str, tuple[int, int]]:
    """Per test, (found, found at the right session) for WINDOW sessions whose last `shifted`
    are SHIFT higher."""
    found = {name: (0, 0) for name in RULES}
    for _ in range(histories):
        before = [rng.gauss(0, SPREAD) for _ in range(WINDOW - shifted)]
        values = before + [rng.gauss(SHIFT, SPREAD) for _ in range(shifted)]
        for name in RULES:
            start = _shift(values, name)
            hit, exact = found[name]
            found[name] = (hit + (start > 0), exact + (start == WINDOW - shifted))
    return found


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--histories", type=int, default=1000, help="per row (default 1000)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(list(argv) or None)
    rng = random.Random(args.seed)
    n = args.histories
    print(f"{n} histories per row, seed {args.seed}; session spread {SPREAD:.0%}; level 1%")
    print("identical code: a shift found (the sessions before it dropped)")
    for sessions in (6, 10, WINDOW):
        found = false_shifts(rng, n, sessions)
        shown = ", ".join(f"{name} {count / n:.1%}" for name, count in found.items())
        print(f"  {sessions:2d} sessions: {shown}")
    print(f"identical code, one session +20% among {WINDOW}: a shift found (sessions dropped)")
    for back in (2, 3, 5):
        found = outlier_shifts(rng, n, back)
        shown = ", ".join(f"{name} {count / n:.1%}" for name, count in found.items())
        print(f"  {back} from the end: {shown}")
    print(
        f"a real +10% shift of the latest sessions, {WINDOW} in all: found (at the right session)"
    )
    for shifted in (2, 3, 5):
        real = real_shifts(rng, n, shifted)
        shown = ", ".join(
            f"{name} {hit / n:.1%} ({exact / n:.1%})" for name, (hit, exact) in real.items()
        )
        print(f"  last {shifted}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
