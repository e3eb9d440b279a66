"""A real nightly history on this machine: runs of one small case across real Keras commits.

Builds a git repository from an installed `keras` package (benchmarks/keras_trees.py), then walks
a linear history of commits on top of it, the way a Keras fork's master moves from night to night,
and at each commit runs the benchmark a few times from inside that checkout, as a nightly job in a
Keras checkout does:

    cd REPO && git checkout -q COMMIT && PYTHONPATH=REPO python -m pytest -c .../suite/gate.ini \\
        --rootdir=REPO --noconftest --pyargs pytest_rnnbench.suite --rnnbench ... \\
        --rnnbench-json=OUT/run-NN.json

Each run's results file records the commit of the checkout it was started in (its "source"
section); the worker imports keras from the checkout (PYTHONPATH), so each run measures the code
of its commit. Then `python -m pytest_rnnbench history` runs on the files.

    python benchmarks/history_real_series.py \\
        --keras .venv-mxnet/lib/python3.11/site-packages/keras \\
        --out "$(mktemp -d)/history-real" base:4 docs:3 rnn-work=16:7 -- \\
        --rnnbench-backends=mxnet --rnnbench-datasets=synthetic --rnnbench-samples=2048 \\
        --rnnbench-repeats=2 --rnnbench-python mxnet=.venv-mxnet/bin/python

Steps are EDIT[=N]:RUNS; the first must be `base` (the released package as it is), and each later
step commits its edit (see keras_trees.py: docs, rnn-work N, cell-work N) on top of the previous
one. Arguments after `--` go to pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from keras_trees import apply_edit, git, make_repo

REPO_ROOT = Path(__file__).resolve().parent.parent
GATE_INI = REPO_ROOT / "src" / "pytest_rnnbench" / "suite" / "gate.ini"


def parse_step(text: str) -> tuple[str, int, int]:
    """ "rnn-work=16:7" -> ("rnn-work", 16, 7)."""
    spec, _, runs = text.rpartition(":")
    if not spec or not runs.isdigit() or int(runs) < 1:
        raise SystemExit(f"bad step {text!r}: expected EDIT[=N]:RUNS, e.g. rnn-work=16:7")
    name, _, amount = spec.partition("=")
    return name, int(amount or 1), int(runs)


def pytest_command(repo: Path, results: Path, extra: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(GATE_INI),
        f"--rootdir={repo}",
        "--noconftest",
        "--pyargs",
        "pytest_rnnbench.suite",
        "--rnnbench",
        "-p",
        "no:cacheprovider",
        "-q",
        f"--rnnbench-json={results}",
        *extra,
    ]


def main() -> None:
    argv = sys.argv[1:]
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keras", type=Path, required=True, help="an installed keras package")
    parser.add_argument("--out", type=Path, required=True, help="a new directory")
    parser.add_argument("steps", nargs="+", help="EDIT[=N]:RUNS, the first one base:RUNS")
    args = parser.parse_args(argv)
    steps = [parse_step(step) for step in args.steps]
    if steps[0][0] != "base":
        raise SystemExit("the first step must be base:RUNS (the released package)")
    # Interpreter paths in the pytest arguments are relative to this repository, but the runs
    # start in the Keras checkout.
    extra = [
        f"{arg.split('=', 1)[0]}={(REPO_ROOT / arg.split('=', 1)[1]).absolute()}"
        if arg.startswith("mxnet=.") or arg.startswith("tensorflow=.")
        else arg
        for arg in extra
    ]
    repo = args.out / "repo"
    results_dir = args.out / "results"
    results_dir.mkdir(parents=True)
    make_repo(args.keras, repo)
    env = dict(os.environ, PYTHONPATH=str(repo))
    number = 0
    for name, amount, runs in steps:
        if name != "base":
            apply_edit(repo, name, amount)
            git(repo, "commit", "-q", "-am", f"{name} {amount}")
        commit = git(repo, "rev-parse", "HEAD")
        for _ in range(runs):
            number += 1
            results = results_dir / f"run-{number:02d}.json"
            command = pytest_command(repo, results, extra)
            started = time.monotonic()
            done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True)
            took = time.monotonic() - started
            tail = (done.stdout.strip().splitlines() or [""])[-1]
            label = name if name == "base" else f"{name}-{amount}"
            print(
                f"run {number:02d} {label:<12} {commit[:12]} exit {done.returncode} "
                f"{took:5.0f} s  {tail}",
                flush=True,
            )
            measured = results.is_file() and json.loads(results.read_text())["results"]
            if done.returncode != 0 or not measured:
                print(done.stdout[-3000:] + done.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"run {number} failed")
    print(
        f"commands: cd {repo} && PYTHONPATH={repo} "
        + " ".join(pytest_command(repo, Path("OUT"), extra))
    )


if __name__ == "__main__":
    main()
