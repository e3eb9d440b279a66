"""run/turn_load.py: the other processes' share of the machine during a live A/B turn."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_rnnbench.run import turn_load
from pytest_rnnbench.run.turn_load import Snapshot, TurnLoads, others_share

LINUX = pytest.mark.skipif(not Path("/proc/stat").exists(), reason="reads /proc")


def test_others_are_the_machine_less_the_cases_workers_and_the_controller() -> None:
    before = Snapshot(machine=100.0, workers={7: 10.0, 8: 3.0}, controller=1.0, clock=50.0)
    # 2 s on 2 CPUs (4 CPU-seconds): the machine spent 3.5, the turn's worker 1.5, a waiting one
    # 0.5, the controller 0.5.
    after = Snapshot(machine=103.5, workers={7: 11.5, 8: 3.5}, controller=1.5, clock=52.0)
    assert others_share(before, after, cpus=2) == pytest.approx(0.25)
    # A worker that exited meanwhile (unreadable at the end) is left out, not counted as -3 s.
    gone = Snapshot(machine=103.5, workers={7: 11.5}, controller=1.5, clock=52.0)
    assert others_share(before, gone, cpus=2) == pytest.approx(0.375)


def test_coarse_ticks_are_clamped_and_an_empty_interval_says_nothing() -> None:
    before = Snapshot(100.0, {7: 10.0}, 1.0, 50.0)
    assert others_share(before, Snapshot(100.01, {7: 10.02}, 1.0, 50.01), cpus=2) == 0.0
    assert others_share(before, Snapshot(110.0, {7: 10.0}, 1.0, 51.0), cpus=2) == 1.0
    assert others_share(before, before, cpus=2) is None


def test_machine_seconds_count_steal_but_not_idle_or_iowait(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    tick = os.sysconf("SC_CLK_TCK")
    #                 user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text(f"cpu  {tick} 0 {tick} 900000 5000 0 0 {tick} 0 0\ncpu0 1 2 3\n")
    assert turn_load.machine_seconds(str(stat)) == pytest.approx(3.0)
    stat.write_text("not a stat file\n")
    assert turn_load.machine_seconds(str(stat)) is None
    assert turn_load.machine_seconds(str(tmp_path / "missing")) is None


@LINUX
def test_a_process_cpu_time_is_read_whatever_its_name(tmp_path: Path) -> None:
    # A command name with spaces and a parenthesis must not shift the fields.
    odd = tmp_path / "odd) (name"
    odd.symlink_to(sys.executable)
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    child = subprocess.Popen(
        [str(odd), "-c", burn + "\nimport sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        seconds = None
        for _ in range(200):  # until it has burnt its 0.3 s (or 20 s passed)
            seconds = turn_load.process_seconds(child.pid)
            if seconds is not None and seconds >= 0.3:
                break
            time.sleep(0.1)
        assert seconds is not None and 0.3 <= seconds < 5
    finally:
        child.communicate(b"")
    assert turn_load.process_seconds(child.pid) is None  # gone


def test_a_turn_of_a_process_that_cannot_be_read_is_not_recorded() -> None:
    loads = TurnLoads(cpus=2)
    loads.granted(0)  # never said its pid
    loads.heard(0, {"type": "turn"})
    loads.heard(1, {"type": "started", "pid": 2**30})  # no such process
    loads.granted(1)
    loads.heard(1, {"type": "turn"})
    loads.heard(5, {"type": "result"})  # never granted
    assert loads.shares == {}


@LINUX
def test_a_turn_is_measured_from_its_grant_to_the_workers_next_message() -> None:
    loads = TurnLoads()
    loads.heard(0, {"type": "started", "pid": os.getpid()})
    loads.granted(0)
    loads.heard(0, {"type": "progress"})  # the turn goes on
    time.sleep(0.05)
    loads.heard(0, {"type": "turn"})
    loads.heard(0, {"type": "result"})  # no turn was granted since: nothing more recorded
    assert len(loads.shares[0]) == 1 and 0.0 <= loads.shares[0][0] <= 1.0


@LINUX
def test_the_cases_own_waiting_workers_are_not_counted_as_other_processes_load() -> None:
    """A waiting worker still finishing its last turn's work (here: one that never stops) is the
    case's own; the same process outside the case is another process's load."""
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    shares, burned = {}, {}
    try:
        time.sleep(0.2)  # started and busy
        for ours in (False, True):
            loads = TurnLoads()
            loads.heard(0, {"type": "started", "pid": os.getpid()})  # the turn's worker: asleep
            if ours:
                loads.heard(1, {"type": "started", "pid": burner.pid})
            start, clock = turn_load.process_seconds(burner.pid), time.monotonic()
            loads.granted(0)
            time.sleep(0.5)
            loads.heard(0, {"type": "turn"})
            used = turn_load.process_seconds(burner.pid)
            assert start is not None and used is not None
            burned[ours] = (used - start) / ((time.monotonic() - clock) * loads.cpus)
            shares[ours] = loads.shares[0][0]
    finally:
        burner.kill()
        burner.wait()
    assert shares[False] >= 0.7 * burned[False] > 0  # someone else's: load
    assert shares[True] <= shares[False] - 0.7 * burned[True]  # the case's own: not load
