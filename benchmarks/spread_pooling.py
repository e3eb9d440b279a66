"""Should a gate pool the process spread over its cases of one backend? What it would buy and
what it would risk, by simulation under the live verdict's model, and what real gates show.

A live verdict tests one case's 3+3 per-worker summaries with Student's t on 4 degrees of freedom
(verdicts/worker_level.py); at a 12-case run's level (0.083% one-sided) its quantile is 7.5.
Pooling the spread over the backend's cases measured so far (a gate's cases finish one by one)
gives 8, 12, 16 degrees of freedom and quantiles down to 3.7: much finer resolution, exact if
every case's processes spread alike, and too many false alarms if one case's spread is larger
than the rest. This script prints both sides of that trade:

  1. the false alarms of a backend's 4 cases (the `pr` preset), per rule, as a multiple of the
     level the run promises, for equal spreads and for one case whose spread is 1.5x or 2x;
  2. the share of gates that catch +10% in all 4 cases (the gate calls at least one);
  3. with results files of real gates, each backend's per-case spreads and Bartlett's test of
     their equality (a test of little power with 4 cases of 4 degrees of freedom each).

    python benchmarks/spread_pooling.py --trials 40000 [GATE-RESULTS.json ...]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pytest_rnnbench.settings import DEFAULT_FALSE_ALARM_RATE, LIVE_PER_SIDE  # noqa: E402
from pytest_rnnbench.verdicts.family import per_case_alpha  # noqa: E402
from pytest_rnnbench.verdicts.worker_level import compare_workers, pooled  # noqa: E402

CASES_PER_BACKEND = 4  # the pr preset: unroll x dataset
RUN_CASES = 12  # a Keras 3 head's default gate: 3 backends x 4
SCENARIOS = {
    "equal spreads": [1.0, 1.0, 1.0, 1.0],
    "last case 1.5x": [1.0, 1.0, 1.0, 1.5],
    "last case 2x": [1.0, 1.0, 1.0, 2.0],
    "first case 2x": [2.0, 1.0, 1.0, 1.0],
}


def simulate(
    spreads: list[float], effect: float, trials: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Per rule, each trial's calls (trials x cases, True = regression) for one backend's cases,
    judged in order; `spreads` are the cases' process spreads (sd of log speed)."""
    n, alpha = LIVE_PER_SIDE, per_case_alpha(DEFAULT_FALSE_ALARM_RATE, RUN_CASES)
    df = 2 * n - 2
    cases = len(spreads)
    sigma = np.asarray(spreads)[None, :, None]
    reference = rng.normal(0.0, sigma, (trials, cases, n))
    candidate = rng.normal(effect, sigma, (trials, cases, n))
    difference = candidate.mean(axis=2) - reference.mean(axis=2)
    squares = ((reference - reference.mean(axis=2, keepdims=True)) ** 2).sum(axis=2) + (
        (candidate - candidate.mean(axis=2, keepdims=True)) ** 2
    ).sum(axis=2)
    calls = {}
    # The plugin's own test (worker_level.pooled), case by case, so that this row is its rule.
    own = [
        [pooled(cand, ref) for cand, ref in zip(trial_cand, trial_ref)]
        for trial_cand, trial_ref in zip(candidate.tolist(), reference.tolist())
    ]
    own_t = np.array([[d / se for d, se, _ in trial] for trial in own])
    calls["per case (the plugin)"] = stats.t.sf(own_t, df) < alpha
    pooled_squares = np.cumsum(squares, axis=1)  # this case and the ones before it
    pooled_df = df * np.arange(1, cases + 1)
    pooled_t = difference / np.sqrt(pooled_squares / pooled_df * 2 / n)
    calls["pooled over cases so far"] = stats.t.sf(pooled_t, pooled_df) < alpha
    return calls


def real_spreads(paths: list[Path]) -> None:
    print("\nper-case process spread in real gates (sd of the per-worker summaries, both sides):")
    for path in paths:
        verdicts = json.loads(path.read_text()).get("verdicts") or {}
        by_backend: dict[str, list[tuple[str, list[float]]]] = defaultdict(list)
        for case_id, found in sorted(verdicts.items()):
            workers = found.get("workers") or {}
            if not workers.get("reference") or not workers.get("candidate"):
                continue
            compared = compare_workers(workers["reference"], workers["candidate"])
            residuals = [
                value - sum(side) / len(side)
                for side in (compared.reference_summaries, compared.candidate_summaries)
                for value in side
            ]
            by_backend[case_id.split("-")[0]].append((case_id, residuals))
        for backend, cases in sorted(by_backend.items()):
            variances = [sum(r * r for r in res) / (len(res) - 2) for _, res in cases]
            shown = ", ".join(f"{math.sqrt(v) * 100:.2f}%" for v in variances)
            line = f"  {path.name} {backend}: {shown}"
            if len(cases) > 1:
                dfs = [len(res) - 2 for _, res in cases]
                line += f"; Bartlett p = {bartlett(variances, dfs):.2f}"
            print(line)


def bartlett(variances: list[float], dfs: list[int]) -> float:
    """Bartlett's test that variances with these degrees of freedom share one value (scipy's
    takes samples, and would count each case's 6 residuals as 5 degrees of freedom, not 4)."""
    total = sum(dfs)
    pooled = sum(v * d for v, d in zip(variances, dfs)) / total
    statistic = total * math.log(pooled) - sum(d * math.log(v) for v, d in zip(variances, dfs))
    correction = 1 + (sum(1 / d for d in dfs) - 1 / total) / (3 * (len(dfs) - 1))
    return float(stats.chi2.sf(statistic / correction, len(dfs) - 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=40000)
    parser.add_argument("--spread", type=float, default=0.012, help="sd of log speed, +10%% arm")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("results", nargs="*", type=Path, help="results files of real gates")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    alpha = per_case_alpha(DEFAULT_FALSE_ALARM_RATE, RUN_CASES)
    print(
        f"{CASES_PER_BACKEND} cases of one backend, {LIVE_PER_SIDE}+{LIVE_PER_SIDE} workers, "
        f"each judged at {alpha:.2g} (a {RUN_CASES}-case run at {DEFAULT_FALSE_ALARM_RATE:.0%}); "
        f"{args.trials:,} simulated gates per row"
    )
    print("\nno change: false alarms of the 4 cases together, as a multiple of 4 x alpha")
    for name, spreads in SCENARIOS.items():
        found = simulate(spreads, 0.0, args.trials, rng)
        cells = [
            f"{rule} {calls.sum() / (args.trials * CASES_PER_BACKEND * alpha):.2f}x"
            for rule, calls in found.items()
        ]
        print(f"  {name:15s} " + "; ".join(cells))
    print(f"\n+10% in every case, process spread {args.spread:.1%}: cases caught, gates caught")
    found = simulate([args.spread] * CASES_PER_BACKEND, math.log(1.10), args.trials, rng)
    for rule, calls in found.items():
        print(f"  {rule}: cases {calls.mean():.1%}, gates {calls.any(axis=1).mean():.2%}")
    if args.results:
        real_spreads(args.results)


if __name__ == "__main__":
    main()
