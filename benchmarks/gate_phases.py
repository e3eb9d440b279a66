"""Where a gate's minutes go: per case, the seconds until its workers' first timed epoch (start:
import, data, model, warm-up of every worker) and in all, read from gate outputs that
`pr_calibration.py run` kept (the progress lines of one worker per case), summed per backend.
Where a case's first worker of each side warms up alone (JAX, run/turns.py's `first_alone`),
that worker reaches its first epoch before the others start: its start reads low, its total
is right.

    python benchmarks/gate_phases.py OUT/01-k3-noop.txt OUT/02-k3-noop.txt
"""

from __future__ import annotations

import argparse
import re
import statistics
from collections import defaultdict
from pathlib import Path

PROGRESS = re.compile(r"rnnbench: case \d+ of \d+: (\S+): (.*?) \[(\d+) s")


def phases(text: str) -> dict[str, tuple[int, int]]:
    """Per case of one gate's output: (seconds to its first timed epoch, seconds in all)."""
    start: dict[str, int] = {}
    total: dict[str, int] = {}
    for match in PROGRESS.finditer(text):
        case, what, seconds = match.group(1), match.group(2), int(match.group(3))
        if what.startswith("epoch 1 of") and case not in start:
            start[case] = seconds
        elif what.startswith("worker finished"):
            total[case] = seconds
    return {case: (start[case], total[case]) for case in total if case in start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outputs", type=Path, nargs="+", help="gate outputs (pr_calibration's)")
    args = parser.parse_args()
    per_case: dict[str, list[tuple[int, int]]] = defaultdict(list)
    gates = 0
    for path in args.outputs:
        found = phases(path.read_text())
        gates += bool(found)
        for case, pair in found.items():
            per_case[case].append(pair)
    if not per_case:
        raise SystemExit("no case progress lines in the outputs")
    print(
        f"{gates} gate(s); per case, medians over the gates: seconds to the first timed epoch, "
        "in all"
    )
    backends: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for case, pairs in sorted(per_case.items()):
        start = statistics.median(s for s, _ in pairs)
        total = statistics.median(t for _, t in pairs)
        backends[case.split("-")[0]][0] += start
        backends[case.split("-")[0]][1] += total
        print(f"  {case:<45} {start:>6.0f} {total:>6.0f}  ({len(pairs)} gates)")
    print("per backend, summed over its cases:")
    for backend, (start, total) in sorted(backends.items()):
        print(f"  {backend:<12} start {start:>6.0f} s of {total:>6.0f} s ({start / total:.0%})")


if __name__ == "__main__":
    main()
