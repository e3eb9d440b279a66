"""How much of the machine other processes took during each live A/B turn, as the controller saw.

During a turn one worker trains and every other worker of the case waits on its control pipe
(run/turns.py), though a waiting worker may still be finishing its last turn's work (freeing
buffers, a framework's background threads). CPU time that the machine spent beyond the case's own
workers' and the controller's went to other processes (a CI job beside the gate, a neighbour VM's
steal time). The case's own spill-over is not counted as load: in short turns it is a large share,
and a larger one in the faster side's shorter turns, so that a real slowdown would read as load
that fell on the other side.
The turns' drift removal cancels load that both sides' turns share; load that falls on one side's
turns more than on the other's does not, and the verdict distrusts it (verdicts/distrust.py).

Linux only (/proc); elsewhere nothing is measured and nothing is distrusted for it.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from .process import CLOSED


@dataclass(frozen=True)
class Snapshot:
    """CPU seconds spent so far: by the whole machine (steal included), by each of the case's
    worker processes that /proc could read (by pid), and by this controller process; and the
    monotonic clock."""

    machine: float
    workers: Mapping[int, float]
    controller: float
    clock: float


def machine_seconds(stat: str = "/proc/stat") -> Optional[float]:
    """CPU seconds the machine spent busy (user, nice, system, irq, softirq, steal) since boot,
    over all its CPUs; None where /proc/stat cannot be read."""
    try:
        with open(stat) as handle:
            fields = [int(v) for v in handle.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / _ticks_per_second()


def process_seconds(pid: int) -> Optional[float]:
    """CPU seconds (user + system, every thread) process `pid` spent; None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from its closing one.
    fields = text[text.rfind(")") + 2 :].split()
    try:
        utime, stime = int(fields[11]), int(fields[12])
    except (IndexError, ValueError):
        return None
    return (utime + stime) / _ticks_per_second()


def _ticks_per_second() -> float:
    return float(os.sysconf("SC_CLK_TCK"))


def _controller_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def workers_seconds(pids: Iterable[int]) -> dict[int, float]:
    """CPU seconds of each of `pids` that /proc can read (a worker that has exited is left out)."""
    found = {pid: process_seconds(pid) for pid in pids}
    return {pid: seconds for pid, seconds in found.items() if seconds is not None}


def snapshot(pids: Iterable[int]) -> Optional[Snapshot]:
    """Now, for the case's worker processes `pids`; None where /proc/stat cannot be read."""
    machine = machine_seconds()
    if machine is None:
        return None
    return Snapshot(machine, workers_seconds(pids), _controller_seconds(), time.monotonic())


def others_share(before: Snapshot, after: Snapshot, cpus: int) -> Optional[float]:
    """The share of the machine's CPU capacity (0..1) that neither the case's workers (those read
    at both ends: one that exited meanwhile is left out) nor the controller used between two
    snapshots: other processes' load. None for an empty interval."""
    wall = after.clock - before.clock
    if wall <= 0 or cpus <= 0:
        return None
    both = before.workers.keys() & after.workers.keys()
    others = (
        (after.machine - before.machine)
        - sum(after.workers[pid] - before.workers[pid] for pid in both)
        - (after.controller - before.controller)
    )
    # Clock ticks are coarse (10 ms): a short turn can read slightly below zero or above one.
    return min(1.0, max(0.0, others / (wall * cpus)))


class TurnLoads:
    """Per worker index, the other processes' share of the machine during each of its turns.

    The turn-taking loop tells it every message it hears from a worker (`heard`: a "started"
    message gives the worker's pid, a "turn", "result" or "error" ends its turn) and every turn
    it grants (`granted`).
    """

    TURN_ENDS = frozenset({"turn", "result", "error", CLOSED})

    def __init__(self, cpus: Optional[int] = None) -> None:
        self.cpus = cpus or os.cpu_count() or 1
        self.shares: dict[int, list[float]] = {}
        self._pids: dict[int, int] = {}
        self._open: Optional[tuple[int, int, Snapshot]] = None  # index, pid, at the grant

    def heard(self, index: int, message: Mapping[str, Any]) -> None:
        kind = message.get("type")
        if kind == "started" and isinstance(message.get("pid"), int):
            self._pids[index] = message["pid"]
        elif kind in self.TURN_ENDS:
            self._end(index)

    def granted(self, index: int) -> None:
        """Worker `index` is about to get a turn (unmeasured if its pid or /proc is unknown)."""
        pid = self._pids.get(index)
        taken = snapshot(self._pids.values())
        self._open = None
        if pid is not None and taken is not None and pid in taken.workers:
            self._open = (index, pid, taken)

    def _end(self, index: int) -> None:
        if self._open is None or self._open[0] != index:
            return
        _, pid, before = self._open
        self._open = None
        after = snapshot(before.workers)
        if after is None or pid not in after.workers:
            return
        share = others_share(before, after, self.cpus)
        if share is not None:
            self.shares.setdefault(index, []).append(share)
