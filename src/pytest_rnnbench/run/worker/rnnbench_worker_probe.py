"""The machine-speed probe: how fast this machine runs a fixed piece of work right now.

A stored baseline compares a run with sessions recorded minutes or days before, so it assumes the
machine's speed held in between. On a shared host it may not: a VM's neighbours can slow every
core by 10-30% while the guest sees no other process and no steal time (docs/calibration.md,
stored baselines). The probe measures it: one child process per CPU runs the same pure-Python loop
at once, before the warm-up and after the last timed epoch, and each reports how long its loop
took. The same instructions, no library and no framework, on every core the case uses.

Only calibration scripts ask for it (`machine_probe` in the request: benchmarks/
stored_calibration.py; stored_at_speed.py replays what it saved). Judging stored runs at their own
machine speed was tried and not adopted: before any slowdown, 9 of 30 runs' probes strayed over
5% from the session measured minutes before, and what a slowdown does to the probe and to
training differs with its kind (docs/calibration.md).

(Named rnnbench_worker_*: this directory is first on sys.path, see __main__.py.)
"""

import os
import statistics
import subprocess
import sys

# The loop each child runs and times (perf_counter around it only: no interpreter start-up).
# About 0.13 s on this project's AMD EPYC: long next to a scheduler's time slice (and a cgroup's
# quota period), short next to a case.
LOOP = (
    "import time\n"
    "t = time.perf_counter()\n"
    "x = 0\n"
    "for i in range(%d):\n"
    "    x = (x * 31 + i) & 0xFFFFFF\n"
    "print(time.perf_counter() - t)\n"
)
ITERATIONS = 2000000
ROUNDS = 5  # per probe; the probe's time is their median


def probe_once(processes, iterations=ITERATIONS):
    """Each of `processes` children's loop time (seconds), all run at once."""
    code = LOOP % iterations
    children = [
        # -S -E: no site packages, no PYTHON* variables: the same loop whatever the environment.
        subprocess.Popen(
            [sys.executable, "-S", "-E", "-c", code],
            stdout=subprocess.PIPE,
            universal_newlines=True,
        )
        for _ in range(processes)
    ]
    try:
        times = []
        for child in children:
            out, _ = child.communicate()
            if child.returncode != 0:
                raise RuntimeError("the machine-speed probe's child exited %d" % child.returncode)
            times.append(float(out))
        return times
    finally:  # none left running after a failed one
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()


def probe(processes=None, rounds=ROUNDS):
    """The probe's record: the median over `rounds` of the mean loop time of `processes` children
    run at once (default: one per CPU this process may use), in ms, with every round's."""
    if processes is None:
        processes = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        processes = processes or os.cpu_count() or 1
    means = []
    for _ in range(rounds):
        times = probe_once(processes)
        means.append(1000.0 * sum(times) / len(times))
    return {"ms": statistics.median(means), "rounds_ms": means, "processes": processes}
