"""A worker's summary of its turns: saved gates re-judged with the mean, the median and the
Hodges-Lehmann estimate of each worker's turns (verdicts/worker_level.py uses the last).

Every verdict that `pr_calibration.py` saved keeps both sides' per-worker turn times, so each case
can be judged again with the plugin's own test (`compare_workers`) and verdict rule
(`time_verdict`, at the case's own level: its gate's 1% over its cases) under each summary. Per arm
and backend it prints the median resolution, the outcomes, and for arms named by `--no-op` the
cases' p-values (uniform if each confidence is true) and the gates that would have called a
regression.

    python benchmarks/worker_summary.py benchmarks/results/pr-calibration-2026-12-06.json \\
        --no-op k3-noop --no-op mx-noop
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path

from pr_calibration import judge_time, read_gates

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pytest_rnnbench.verdicts.worker_level import hodges_lehmann  # noqa: E402

SUMMARIES = {"mean": statistics.fmean, "median": statistics.median, "HL": hodges_lehmann}


def judged(found: dict, summary: str) -> tuple[str, float, float]:
    """(outcome, resolution, one-sided p of a regression) of one saved case under `summary`."""
    outcome, comparison, alpha, _ = judge_time(found, SUMMARIES[summary])
    return outcome, comparison.resolution(alpha), comparison.p_greater


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", type=Path, nargs="+", help="pr_calibration runs or saved files")
    parser.add_argument(
        "--no-op", action="append", default=[], help="arms whose head changes nothing"
    )
    args = parser.parse_args()
    from scipy.stats import kstest

    gates: dict[str, list[dict]] = defaultdict(list)
    for source in args.sources:
        for arm, found in read_gates(source).items():
            gates[arm].extend(found)
    for arm, arm_gates in sorted(gates.items()):
        cases = defaultdict(list)
        for gate in arm_gates:
            for name, found in gate["cases"].items():
                if (found.get("workers") or {}).get("candidate"):
                    cases[name.split("-")[0]].append(found)
        print(f"{arm}: {len(arm_gates)} gates")
        for summary in SUMMARIES:
            red = sum(
                any(
                    judged(found, summary)[0] == "regression"
                    for found in gate["cases"].values()
                    if (found.get("workers") or {}).get("candidate")
                )
                for gate in arm_gates
            )
            print(f"  {summary}: gates calling a regression {red}/{len(arm_gates)}")
            for backend, found in sorted(cases.items()):
                results = [judged(case, summary) for case in found]
                outcomes = dict(sorted(Counter(outcome for outcome, _, _ in results).items()))
                resolution = 100 * statistics.median(r for _, r, _ in results)
                line = (
                    f"      {backend:<10} {len(found):>3} cases, "
                    f"resolution median {resolution:5.1f}%, {outcomes}"
                )
                if arm in args.no_op:
                    p_values = [p for _, _, p in results]
                    below = sum(p < 0.05 for p in p_values), sum(p < 0.5 for p in p_values)
                    line += (
                        f"; p below 0.05: {below[0]}, below 0.5: {below[1]}, uniform by KS "
                        f"p = {kstest(p_values, 'uniform').pvalue:.2f}"
                    )
                print(line)


if __name__ == "__main__":
    main()
