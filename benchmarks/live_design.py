"""Live A/B design: what more workers per side, or fewer epochs each, would resolve.

A live verdict compares per-worker summaries (each a worker's turns' Hodges-Lehmann estimate) with
Student's t (verdicts/worker_level.py), so a case's resolution is about

    exp(q(1 - alpha, 2n - 2) * sqrt(2/n * (process**2 + epochs_noise**2 * r0/r))) - 1

with n workers per side, r timed epochs each (r0 in the measured gates), `process` the spread
between worker processes and `epochs_noise` what the turns leave in one worker's summary. This
script estimates both per backend from gates that `pr_calibration.py` ran and saved (every
worker's turn times are kept), then prints the median predicted resolution of each design, with
its cost in worker starts and worker-epochs per case; the first design is the measured one, and
arms measured at other designs (`pr_calibration.py tally`) check the prediction. Read only arms
measured with `--repeats` epochs per worker (the saved verdicts do not record it).

    python benchmarks/live_design.py benchmarks/results/pr-calibration-2026-12-05.json \\
        --arm k3-noop --arm mx-noop --design 3x3 --design 4x2 --design 5x2 --design 6x1
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from pr_calibration import read_gates

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pytest_rnnbench.verdicts.worker_level import compare_workers, drift_removed  # noqa: E402


def components(reference: list[list[float]], candidate: list[list[float]]) -> tuple[float, float]:
    """One case's (process variance, noise variance of a worker's summary), log scale, both sides
    pooled. The plugin's own comparison gives the variance of the per-worker summaries (its
    pooled standard error, unscaled); resampling each worker's turns says how much of that
    their noise explains; the rest is the process's own."""
    comparison = compare_workers(reference, candidate)
    summaries = comparison.standard_error**2 / (1 / len(reference) + 1 / len(candidate))
    residuals = [worker for side in drift_removed(reference, candidate) for worker in side]
    # Removing each turn's mean over all workers took that many degrees of freedom more.
    workers = len(residuals)
    noise = statistics.mean(summary_noise(worker) for worker in residuals) * workers / (workers - 1)
    return max(summaries - noise, 0.0), noise


def summary_noise(turns: list[float], draws: int = 200) -> float:
    """The variance of a worker's summary (the plugin's Hodges-Lehmann estimate of its turns)
    that its turns' noise alone makes: its turns resampled with replacement (bootstrap)."""
    import numpy as np

    rng = np.random.default_rng(len(turns))  # the same figures every run
    samples = rng.choice(np.asarray(turns), size=(draws, len(turns)))
    upper = np.triu_indices(len(turns))
    pairwise = (samples[:, :, None] + samples[:, None, :])[:, upper[0], upper[1]] / 2
    return float(np.var(np.median(pairwise, axis=1), ddof=1))


def predicted(
    process: float, noise: float, workers: int, repeats: int, r0: int, alpha: float
) -> float:
    """The resolution of a design with `workers` per side and `repeats` epochs each."""
    from scipy.stats import t

    variance = 2 / workers * (process + noise * r0 / repeats)
    return math.exp(t.ppf(1 - alpha, 2 * workers - 2) * math.sqrt(variance)) - 1


def power(
    process: float, noise: float, workers: int, repeats: int, r0: int, alpha: float, change: float
) -> float:
    """The chance that a design calls a real `change` on one case significant: Student's t with
    a noncentral shift (the tolerance is left aside: a change well beyond it passes that too)."""
    from scipy.stats import nct, t

    variance = 2 / workers * (process + noise * r0 / repeats)
    df = 2 * workers - 2
    return float(nct.sf(t.ppf(1 - alpha, df), df, math.log1p(change) / math.sqrt(variance)))


def _alpha(found: dict) -> float:
    """The case's own level: its run's false-alarm rate over the run's cases (its family)."""
    family = found.get("family") or {}
    return float(family.get("false_alarm_rate", 0.01)) / max(int(family.get("cases", 1)), 1)


def parse_design(text: str) -> tuple[int, int]:
    workers, sep, repeats = text.partition("x")
    if not sep or not workers.isdigit() or not repeats.isdigit() or int(workers) < 2:
        raise argparse.ArgumentTypeError(
            f"a design is WORKERSxREPEATS (workers >= 2), got {text!r}"
        )
    return int(workers), int(repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", type=Path, nargs="+", help="pr_calibration runs or saved files")
    parser.add_argument("--arm", action="append", help="arms to read (default: all)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed epochs per worker in the arms read (all alike)",
    )
    parser.add_argument("--design", type=parse_design, action="append", default=[])
    parser.add_argument(
        "--power",
        type=float,
        action="append",
        default=[],
        help="also predict how often each design calls a real change of this size (0.10: +10%%)",
    )
    args = parser.parse_args()
    designs = args.design or [(3, 3), (4, 2), (5, 2), (6, 1)]

    cases: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for source in args.sources:
        for arm, gates in read_gates(source).items():
            if args.arm and arm not in args.arm:
                continue
            for gate in gates:
                for name, found in gate["cases"].items():
                    workers = found.get("workers") or {}
                    if workers.get("reference") and workers.get("candidate"):
                        process, noise = components(workers["reference"], workers["candidate"])
                        cases[name.split("-")[0]].append((process, noise, _alpha(found)))
    if not cases:
        sys.exit("no cases with per-worker turn times in the sources")

    print(
        f"per backend, medians over cases: spread between processes, noise in one worker's summary "
        f"({args.repeats} epochs); predicted resolution at each case's own level (its gate's 1% "
        "over its cases)"
    )
    header = "".join(f"  {n}x{r:<8}" for n, r in designs)
    print(f"{'backend':<11} {'cases':>5} {'process':>8} {'noise':>7} {header}")
    for backend, pairs in sorted(cases.items()):
        process = statistics.median(p for p, _, _ in pairs)
        noise = statistics.median(n for _, n, _ in pairs)
        row = ""
        for workers, repeats in designs:
            resolutions = [predicted(p, n, workers, repeats, args.repeats, a) for p, n, a in pairs]
            row += f"  {100 * statistics.median(resolutions):>9.1f}%"
        print(
            f"{backend:<11} {len(pairs):>5} {100 * math.sqrt(process):>7.2f}% "
            f"{100 * math.sqrt(noise):>6.2f}% {row}"
        )
    costs = ", ".join(f"{n}x{r}: {2 * n} starts, {2 * n * r} epochs" for n, r in designs)
    print(f"per case (both sides): {costs}")
    for change in args.power:
        print(
            f"\npredicted power against +{change:.0%} on every case of a backend: one case, the "
            "mean over cases (what the share of injected cases caught measures) and the median; "
            "a gate whose 4 cases of that backend all slow down, from the mean (independent "
            "cases; a prediction, not a count)"
        )
        for backend, pairs in sorted(cases.items()):
            row = ""
            for workers, repeats in designs:
                each = [power(p, n, workers, repeats, args.repeats, a, change) for p, n, a in pairs]
                one = statistics.mean(each)
                row += (
                    f"  {100 * one:>4.0f}% ({100 * statistics.median(each):>3.0f}%) "
                    f"{100 * (1 - (1 - one) ** 4):>4.0f}%"
                )
            print(f"{backend:<11} {row}")


if __name__ == "__main__":
    main()
