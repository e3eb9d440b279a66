"""A worker killed after sending its result (its exit hung) keeps its result, and the results
file's worker entry says so (`late_exit`), naming the worker where the entry merges several.

Real worker processes: the fake interpreter's worker sends its result and then sleeps.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import tiny_tensorflow_request
from pytest_rnnbench.matrix import Case
from pytest_rnnbench.run import process
from pytest_rnnbench.run.devices import GpuMemoryMonitor, Slot
from pytest_rnnbench.session.display import Silent
from pytest_rnnbench.session.runner import CaseRunner
from pytest_rnnbench.settings import Settings

KILLED = "did not exit within 0.5 s after sending its result and was killed"


@pytest.mark.parametrize("workers", [1, 2])
def test_the_worker_entry_says_a_worker_was_killed_after_its_result(
    fake_python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(process, "EXIT_GRACE_S", 0.5)
    settings = Settings(pythons={"tensorflow": str(fake_python)}, workers=workers, timeout_s=20)
    runner = CaseRunner(settings, Slot((), ()), {}, None, tmp_path)  # type: ignore[arg-type]
    env = dict(os.environ, FAKE_MODE="ok", FAKE_EXIT_DELAY_S="60", FAKE_EXITLOG="/dev/null")
    case = Case("tensorflow", 0, 8, True, "synthetic")
    entry = runner._run_fresh(
        case, tiny_tensorflow_request(True), env, GpuMemoryMonitor([]), Silent()
    )
    assert entry is not None and entry["final_loss"] == 1.5  # kept
    if workers == 1:
        assert entry["late_exit"] == f"worker {KILLED}"
    else:
        assert entry["late_exit"] == f"worker 0 {KILLED}; worker 1 {KILLED}"


def test_a_worker_that_exits_has_no_late_exit(fake_python: Path, tmp_path: Path) -> None:
    settings = Settings(pythons={"tensorflow": str(fake_python)}, workers=2)
    runner = CaseRunner(settings, Slot((), ()), {}, None, tmp_path)  # type: ignore[arg-type]
    env = dict(os.environ, FAKE_MODE="ok")
    case = Case("tensorflow", 0, 8, True, "synthetic")
    entry = runner._run_fresh(
        case, tiny_tensorflow_request(True), env, GpuMemoryMonitor([]), Silent()
    )
    assert entry is not None and "late_exit" not in entry
