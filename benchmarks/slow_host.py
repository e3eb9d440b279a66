"""A host that slows unseen, on purpose: run a command in a cgroup whose CPU quota drops on a
schedule (Linux, as root).

On a shared VM the host can slow every core by 10-30% while the guest sees no other process and
no steal time (docs/calibration.md, stored baselines). A cgroup's CPU bandwidth limit does the
same to the processes in it: they run slower, and /proc/stat shows idle time, not another
process, so the plugin's busy check cannot see it either. The command (say a
stored_calibration.py series) and every process it starts run in the group; the schedule
alternates --steady seconds at full speed with --slow seconds at each of --shares in turn
(the fraction of the machine's CPUs the group may use), starting steady. Each switch is printed
with its time, so a series' cycles can be matched with the schedule.

    sudo .venv/bin/python benchmarks/slow_host.py --steady 1200 --slow 600 --shares 0.88,0.8 \\
        -- .venv/bin/python benchmarks/stored_calibration.py --cycles 45 --save s.json

Exits with the command's status; the group is removed at the end, after SIGTERM too (which stops
the command).
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

PERIOD_US = 10_000  # short next to a training step, so a slow stretch slows every step alike
CGROUP_V1 = Path("/sys/fs/cgroup/cpu")
CGROUP_V2 = Path("/sys/fs/cgroup")


class CpuGroup:
    """A cgroup (v1 cpu controller or v2) whose CPU bandwidth can be limited and restored."""

    def __init__(self, name: str) -> None:
        self.v2 = (CGROUP_V2 / "cgroup.controllers").exists()
        self.path = (CGROUP_V2 if self.v2 else CGROUP_V1) / name
        if self.v2:  # the cpu controller must be on for the root's children to have cpu.max
            (CGROUP_V2 / "cgroup.subtree_control").write_text("+cpu")
        self.path.mkdir(exist_ok=True)
        if not self.v2:
            (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))

    def limit(self, share: float) -> None:
        """Let the group use `share` of the machine's CPUs (1 or more: no limit)."""
        quota = int(share * (os.cpu_count() or 1) * PERIOD_US) if share < 1 else -1
        if self.v2:
            (self.path / "cpu.max").write_text(f"{quota if quota > 0 else 'max'} {PERIOD_US}")
        else:
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))

    def join(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def remove(self) -> None:
        """Back to full speed, this process back to the parent group, the group removed."""
        self.limit(1.0)
        (self.path.parent / "cgroup.procs").write_text(str(os.getpid()))
        try:
            self.path.rmdir()
        except OSError as exc:  # a process still in it: say so, leave it
            print(f"slow_host: could not remove {self.path}: {exc}", file=sys.stderr)


def stop_on_sigterm() -> None:
    """SIGTERM ends this script through its `finally` (the command stopped, the group removed),
    not at once: left to the default, it would leave both behind."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def run(command: list[str], steady: float, slow: float, shares: list[float]) -> int:
    stop_on_sigterm()
    group = CpuGroup(f"rnnbench-slow-host-{os.getpid()}")
    child: Optional[subprocess.Popen] = None
    try:
        group.join(os.getpid())  # before the command starts: it and its children inherit the group
        # Its own session: a stop reaches every process it started (workers too), whose leaving
        # the group is what lets the group be removed.
        child = subprocess.Popen(command, start_new_session=True)
        for share in itertools.cycle(shares):
            for phase_share, seconds in ((1.0, steady), (share, slow)):
                group.limit(phase_share)
                stamp = time.strftime("%H:%M:%S")
                print(f"slow_host: {stamp} CPU share {phase_share:.0%}", file=sys.stderr)
                try:
                    return child.wait(timeout=seconds)
                except subprocess.TimeoutExpired:
                    continue
        return 0  # unreachable: cycle() never ends
    finally:
        if child is not None:
            stop_all(child)
        group.remove()


def stop_all(child: subprocess.Popen) -> None:
    """SIGTERM to the command's whole process group, SIGKILL after 30 s; reaped."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=30)
            return
        except subprocess.TimeoutExpired:
            continue


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steady", type=float, default=1200, help="seconds at full speed")
    parser.add_argument("--slow", type=float, default=600, help="seconds at each share")
    parser.add_argument(
        "--shares", default="0.85", help="comma-separated CPU shares of the slow stretches"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the command to run")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    shares = [float(s) for s in args.shares.split(",")]
    if not all(0 < s < 1 for s in shares):
        parser.error("--shares must be fractions between 0 and 1")
    try:
        return run(command, args.steady, args.slow, shares)
    except OSError as exc:  # no cgroup file system, not root, or no such command
        print(f"slow_host: {exc}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main())
