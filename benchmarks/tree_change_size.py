"""How much slower is a Keras tree than another, measured without the plugin?

The independent size of a real code change, for the gate's calibration: plain `model.fit`
(benchmarks/plain_fit.py, which shares no code with the plugin) in fresh processes, each importing
Keras from one tree (first on PYTHONPATH), the trees alternated round by round in a rotating order
so that drift favours none. Prints, per tree, the median epoch time and its ratio to the base
tree's, with the spread of the per-round ratios.

    python benchmarks/tree_change_size.py --python .venv-mxnet/bin/python --backend mxnet \
        --base "$TREES/base" "$TREES/rnn-work-7" "$TREES/rnn-work-16" --rounds 6
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def one_fit(args: argparse.Namespace, tree: Path, out: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONWARNINGS="ignore")
    command = [
        args.python, str(HERE / "plain_fit.py"), "--backend", args.backend,
        "--dataset", "synthetic", "--batch", str(args.batch), "--samples", str(args.samples),
        "--epochs", str(args.epochs), "--out", str(out),
    ] + (["--unroll"] if args.unroll else [])  # fmt: skip
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=1800)
    result = json.loads(out.read_text())
    if not result["keras_file"].startswith(str(tree)):
        raise SystemExit(f"{tree}: keras came from {result['keras_file']}, not from the tree")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--backend", default="mxnet")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per process")
    parser.add_argument("--no-unroll", dest="unroll", action="store_false")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("trees", type=Path, nargs="+")
    args = parser.parse_args()
    trees = [args.base, *args.trees]
    seconds: dict[Path, list[float]] = {tree: [] for tree in trees}
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            order = trees[round_ % len(trees) :] + trees[: round_ % len(trees)]
            for tree in order:
                result = one_fit(args, tree, Path(tmp) / "fit.json")
                seconds[tree].append(result["epoch_seconds"])
            print(f"  round {round_ + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(
        f"plain model.fit, {args.backend}, synthetic, batch {args.batch}, "
        f"{'unroll' if args.unroll else 'no unroll'}, {args.samples} samples, median of "
        f"{args.epochs} epochs per process, {args.rounds} rounds, trees alternated; "
        f"{time.monotonic() - started:.0f} s"
    )
    base = seconds[args.base]
    for tree in trees:
        ratios = sorted(s / b - 1 for s, b in zip(seconds[tree], base))
        print(
            f"  {tree.name:<14} median epoch {statistics.median(seconds[tree]):6.2f} s  "
            f"change {statistics.median(ratios) * 100:+6.1f}% "
            f"(per round {ratios[0] * 100:+.1f}% .. {ratios[-1] * 100:+.1f}%)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
