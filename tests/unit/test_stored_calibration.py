"""benchmarks/stored_calibration.py: cycles resumed on another day are counted apart."""

from __future__ import annotations

import argparse
import json

import pytest

from helpers import REPO, benchmark_script

SAVED = REPO / "benchmarks" / "results" / "stored-calibration-tensorflow-2026-12-05.json"


@pytest.fixture(scope="module")
def calibration():
    # The script imports its neighbour (bounds) as `python benchmarks/...` would.
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(REPO / "benchmarks"))
        yield benchmark_script("stored_calibration")


def test_runs_judged_against_an_earlier_days_sessions_are_marked(calibration) -> None:
    data = json.loads(SAVED.read_text())
    # As if the last five cycles had been added by --resume the next day.
    for index, cycle in enumerate(data["cycles"]):
        cycle["day"] = "2026-12-05" if index < 5 else "2026-12-06"
    found = calibration.judge_all(data, 0.01)
    arms = len(calibration.ARMS)
    judged_cycles = [c for c in data["cycles"] if c["judged"]]
    assert len(found) == arms * len(judged_cycles)
    # Cycles 4 and 5 (indexes 3, 4) were judged on the first day; 6 to 10 against its sessions.
    assert [j.across_days for j in found[::arms]] == [False, False, True, True, True, True, True]


def test_a_run_without_days_is_never_across_days(calibration) -> None:
    found = calibration.judge_all(json.loads(SAVED.read_text()), 0.01)
    assert found and not any(j.across_days for j in found)


def test_resuming_needs_the_same_case_settings_and_machine(calibration, tmp_path) -> None:
    args = argparse.Namespace(
        backend="torch",
        batch=128,
        samples=4096,
        repeats=3,
        save_workers=3,
        judge_workers=1,
        thread_pools="steady",
    )
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(calibration.new_run(args)))
    assert calibration.resumed_run(saved, args)["case"]["backend"] == "torch"
    args.samples = 8192
    with pytest.raises(SystemExit, match="cannot resume: samples differ"):
        calibration.resumed_run(saved, args)
    args.samples, args.backend = 4096, "tensorflow"
    with pytest.raises(SystemExit, match="cannot resume: case differ"):
        calibration.resumed_run(saved, args)
