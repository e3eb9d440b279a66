"""How much does measuring through the plugin add to a training epoch?

Trains the same case through `pytest --rnnbench` and through benchmarks/plain_fit.py (a plain
`model.fit` in its own process), alternating, several rounds, and prints the timed epochs and
the plugin/plain ratio (median of the per-round ratios, and ratio of the medians). Both sides run
in fresh processes one after the other on the same machine, so slow drift hits both alike.

    .venv/bin/python benchmarks/overhead.py --backend jax --dataset synthetic --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def plugin_epoch(args: argparse.Namespace, gpus: int, workdir: Path) -> dict:
    out = workdir / "plugin.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(ROOT / "src" / "pytest_rnnbench" / "suite" / "test_seed_lstm.py"),
        "-q",
        "-p",
        "no:cacheprovider",
        "--rnnbench",
        f"--rnnbench-gpus={gpus}",
        f"--rnnbench-backends={args.backend}",
        f"--rnnbench-datasets={args.dataset}",
        f"--rnnbench-batch-sizes={args.batch}",
        f"--rnnbench-unroll={'true' if args.unroll else 'false'}",
        f"--rnnbench-json={out}",
        f"--rnnbench-repeats={args.repeats}",
    ] + [f"--rnnbench-samples={args.samples or 'full'}"]  # full: as plain_fit.py, never the CPU cap
    # Where the plugin is not pip-installed (the GPU machine), gpu_check.sh loads it with -p.
    command += os.environ.get("RNNBENCH_PYTEST_ARGS", "").split()
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if completed.returncode != 0:
        raise SystemExit(
            f"plugin run failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-2000:]}"
        )
    (result,) = json.loads(out.read_text())["results"].values()
    return result


def plain_epoch(args: argparse.Namespace, gpus: int, workdir: Path) -> dict:
    out = workdir / "plain.json"
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "plain_fit.py"),
        "--backend",
        args.backend,
        "--dataset",
        args.dataset,
        "--batch",
        str(args.batch),
        "--out",
        str(out),
        "--epochs",
        str(args.repeats),
    ]
    if os.environ.get("RNNBENCH_DATA_DIR"):
        command += ["--data-dir", os.environ["RNNBENCH_DATA_DIR"]]
    command += ["--unroll"] if args.unroll else []
    command += ["--samples", str(args.samples)] if args.samples else []
    env = dict(os.environ, CUDA_VISIBLE_DEVICES=",".join(str(i) for i in range(gpus)))
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    if completed.returncode != 0:
        raise SystemExit(f"plain run failed:\n{completed.stderr[-3000:]}")
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="jax", choices=["tensorflow", "jax", "torch"])
    parser.add_argument("--dataset", default="synthetic", choices=["synthetic", "nietzsche"])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--no-unroll", dest="unroll", action="store_false")
    parser.add_argument("--samples", type=int, default=0, help="cap samples (0: the full dataset)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--gpus", type=int, default=0)
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="timed epochs per run on both sides (their median is compared)",
    )
    args = parser.parse_args()

    case = (
        f"{args.backend}-gpu{args.gpus}-b{args.batch}-{'unroll' if args.unroll else 'nounroll'}"
        f"-{args.dataset}"
    )
    print(f"overhead: {case}, {args.rounds} rounds, plugin and plain fit alternating", flush=True)
    ratios, plugin_s, plain_s = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(1, args.rounds + 1):
            # Alternate which side goes first so neither always runs on a warmer machine.
            order = ("plugin", "plain") if round_ % 2 else ("plain", "plugin")
            got, memory = {}, {}
            for side in order:
                run = plugin_epoch if side == "plugin" else plain_epoch
                result = run(args, args.gpus, Path(tmp))
                got[side] = result["epoch_seconds"]
                if side == "plugin":
                    memory = {
                        "framework peak": result.get("gpu_framework_peak_bytes"),
                        "NVML process peak": result.get("gpu_nvml_process_peak_bytes"),
                        "NVML device used peak": result["worker"]
                        .get("gpu_memory", {})
                        .get("nvml_device_used_peak_bytes"),
                        "host peak RSS": result.get("host_peak_rss_bytes"),
                    }
                else:
                    memory["plain framework peak"] = result.get("gpu_framework_peak_bytes")
            plugin_s.append(got["plugin"])
            plain_s.append(got["plain"])
            ratios.append(got["plugin"] / got["plain"])
            print(
                f"round {round_}: plugin {got['plugin']:.3f} s  plain {got['plain']:.3f} s  "
                f"ratio {ratios[-1]:.3f}",
                flush=True,
            )
            print(
                "  memory MiB: "
                + ", ".join(
                    f"{name} {value / 2**20:,.0f}" if value is not None else f"{name} n/a"
                    for name, value in memory.items()
                ),
                flush=True,
            )
    print(
        f"plugin epoch s: median {statistics.median(plugin_s):.3f} "
        f"(min {min(plugin_s):.3f}, max {max(plugin_s):.3f})"
    )
    print(
        f"plain  epoch s: median {statistics.median(plain_s):.3f} "
        f"(min {min(plain_s):.3f}, max {max(plain_s):.3f})"
    )
    print(
        f"ratio plugin/plain: median of per-round ratios {statistics.median(ratios):.3f}; "
        f"ratio of medians {statistics.median(plugin_s) / statistics.median(plain_s):.3f}; "
        f"ratio of minima {min(plugin_s) / min(plain_s):.3f}"
    )


if __name__ == "__main__":
    main()
