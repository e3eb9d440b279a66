"""What running the step clock inline (as live A/B turns need it) costs a backend's training step.

Keras 3 runs batch-end callbacks on a thread of their own when every callback is `async_safe`
and the backend is thread-safe (JAX, torch); otherwise it runs them inline and first turns the
step's logs into Python floats, which waits for the step's device work: one host sync per step
that a plain `model.fit` does not have. The plugin's fresh workers keep the clock async; live
A/B turns (and calibration's slowdown schedules) make it inline. This script runs fresh workers
of one case, alternating the async clock with the inline one (a slowdown schedule of factor 1.0,
which stretches nothing), and prints each worker's median step time and the inline/async ratio
per round; both sides share the machine's drift.

    .venv/bin/python benchmarks/callback_sync.py --backend jax --rounds 4
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pytest_rnnbench.matrix import Case  # noqa: E402
from pytest_rnnbench.run import datasets  # noqa: E402
from pytest_rnnbench.run.process import run_worker  # noqa: E402
from pytest_rnnbench.run.protocol import build_request, worker_env  # noqa: E402
from pytest_rnnbench.settings import DEFAULT_THREAD_POOLS  # noqa: E402


def step_ms(python: str, request: dict, env: dict, log: Path) -> float:
    """One fresh worker's median step time over its timed epochs (ms)."""
    result = run_worker(python, request, env, 1800, log).result
    steps = [seconds for epoch in result["epochs"] for seconds in epoch["step_seconds"]]
    return 1000.0 * statistics.median(steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="jax", choices=["tensorflow", "jax", "torch"])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--nounroll", action="store_true")
    args = parser.parse_args()
    case = Case(args.backend, 0, args.batch, not args.nounroll, "synthetic")
    work = Path(tempfile.mkdtemp(prefix="callback-sync-"))
    spec = datasets.worker_spec("synthetic", None, work / "cache", args.samples)
    asynchronous = build_request(case.to_dict(), spec, args.repeats)
    inline = dict(asynchronous, inject_slowdown_schedule=[1.0])
    env = worker_env(args.backend, [], thread_pools=DEFAULT_THREAD_POOLS)  # the plugin's default
    print(f"{case.id}, {args.samples} samples, {args.repeats} timed epochs, {args.rounds} rounds")
    ratios = []
    for round_ in range(args.rounds):
        first, second = (asynchronous, inline) if round_ % 2 == 0 else (inline, asynchronous)
        found = {}
        for request in (first, second):
            name = "async" if request is asynchronous else "inline"
            found[name] = step_ms(sys.executable, request, env, work / f"{round_}-{name}.log")
        ratios.append(found["inline"] / found["async"])
        print(
            f"round {round_ + 1}: async {found['async']:.1f} ms/step, inline "
            f"{found['inline']:.1f} ms/step, inline/async {ratios[-1]:.3f}",
            flush=True,
        )
    print(
        f"inline/async: median {statistics.median(ratios):.3f} (rounds {min(ratios):.3f}.."
        f"{max(ratios):.3f})"
    )


if __name__ == "__main__":
    main()
