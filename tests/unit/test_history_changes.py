"""Change points (report/history_changes.py, Apache Otava) on series with known changes.

The series are made from real results: the real results files of tests/data/ as templates, and
the run-to-run noise of this project's 2-CPU development machine as measured by real runs (the
runs of one unchanged Keras commit in tests/data/history/, each value against the median of its
commit's runs). A shift applied from a known run on must be found at that run, and pure noise
must give no change point. The rates over many generated series are measured by
benchmarks/history_detection.py (docs/tracking.md); these tests pin the method's behaviour on
fixed seeds. The real series with a real code change are tested here too.
"""

from __future__ import annotations

import copy
import random
import statistics
import sys
from pathlib import Path

import pytest

from helpers import DATA, documents
from pytest_rnnbench.history import runs
from pytest_rnnbench.history import series as history
from pytest_rnnbench.history.changes import (
    OTAVA_INSTALL,
    Detection,
    HistoryUnavailable,
    analyse,
    analyse_all,
    find_changes,
)

pytest.importorskip("otava.analysis", reason=f"the change-point tests need Otava: {OTAVA_INSTALL}")

REAL_CHANGE = DATA / "history" / "rnn-work-16"  # 15 runs of two commits, then 12 of rnn-work 16
BUSY = DATA / "history" / "rnn-work-16-busy"  # the same, 7 + 7 runs, while other jobs ran
NO_CHANGE = DATA / "history" / "no-change"  # 24 runs of one commit
CASE = "mxnet-gpu0-b128-unroll-synthetic"
TIME = runs.METRICS["time"]
DEFAULT = Detection()


def real_series(directory: Path, metric: runs.Metric = TIME) -> tuple[list[float], list[str]]:
    """The real series' values and the commit subject of each run."""
    built = history.load_history(sorted(directory.glob("run-*.json")))
    (series,) = built.series
    return [v for v in series.values(metric) if v is not None], [
        point.run.subject or "" for point in series.points
    ]


def measured_noise(directory: Path) -> list[float]:
    """Each run's relative deviation from the median of the runs of its code (the "docs" commit
    changes no code, so it counts with the base)."""
    values, subjects = real_series(directory)
    code = ["rnn-work" in subject for subject in subjects]
    deviations = []
    for changed in (False, True):
        runs = [v for v, c in zip(values, code) if c == changed]
        if runs:
            median = statistics.median(runs)
            deviations += [v / median - 1 for v in runs]
    return deviations


QUIET_NOISE = measured_noise(REAL_CHANGE) + measured_noise(NO_CHANGE)
BUSY_NOISE = measured_noise(BUSY)


def noisy(base: float, runs: int, rng: random.Random, noise=QUIET_NOISE, scale=1.0) -> list[float]:
    return [base * (1 + scale * rng.choice(noise)) for _ in range(runs)]


def shifted(values: list[float], at: int, shift: float) -> list[float]:
    return [v * (1 + shift) if i >= at else v for i, v in enumerate(values)]


# -- generated series ------------------------------------------------------------------------------


def test_the_measured_noise_is_what_the_tests_claim():
    # The quiet machine: 6.4% from run to run; the busy one: 20%, with runs up to 56% slower.
    assert len(QUIET_NOISE) == 51 and 0.06 < statistics.pstdev(QUIET_NOISE) < 0.07
    assert len(BUSY_NOISE) == 14 and 0.19 < statistics.pstdev(BUSY_NOISE) < 0.2


def found_near(values: list[float], at: int) -> bool:
    return any(abs(c.position - at) <= 1 for c in find_changes(values, DEFAULT))


@pytest.mark.parametrize("shift, at_least", [(0.20, 0.85), (-0.20, 0.90), (0.40, 0.97)])
def test_shifts_are_found_at_their_run_in_most_series(shift, at_least):
    """100 series of 30 runs with the quiet machine's noise, the change at a random run. The
    rates over 500 series (benchmarks/history_detection.py): 85%, 95% and 99.4%."""
    rng = random.Random(f"shift {shift}")
    found = 0
    for _ in range(100):
        at = rng.randint(5, 25)
        found += found_near(shifted(noisy(3.2, 30, rng), at, shift), at)
    assert found >= at_least * 100, found


def test_pure_noise_rarely_has_a_change_point():
    """200 series of 30 runs of measured noise, quiet and busy; over 500 series each the rates
    are 0.2% and 0.4%."""
    rng = random.Random("noise")
    alarms = sum(
        bool(find_changes(noisy(3.2, 30, rng, noise=noise), DEFAULT))
        for noise in (QUIET_NOISE, BUSY_NOISE)
        for _ in range(100)
    )
    assert alarms <= 4, alarms


def test_a_regression_undone_ten_runs_later_is_found_at_both_edges():
    """+50% from run 10 to run 19 of 30, then back: Otava's split alone stopped at its weak
    best single split and found neither edge in 98 of 100 series; over 500, both edges are now
    found in 97.6%."""
    rng = random.Random("undone")
    both = 0
    for _ in range(50):
        values = [v * (1.5 if 10 <= i < 20 else 1.0) for i, v in enumerate(noisy(3.2, 30, rng))]
        positions = [c.position for c in find_changes(values, DEFAULT)]
        both += all(any(abs(p - edge) <= 1 for p in positions) for edge in (10, 20))
    assert both >= 45, both


def test_one_slow_night_is_no_change_point():
    """One run +50% (a slow night, anywhere: the newest or the one before it too) is no level:
    Otava's t-test, a one- or two-run segment's spread taken without its degree of freedom,
    called it a change point in 10% of series, "at p = 1e-7"."""
    rng = random.Random("slow night")
    alarms = 0
    for night in [*range(30), 28, 29, 28, 29]:
        values = noisy(3.2, 30, rng)
        values[night] *= 1.5
        alarms += bool(find_changes(values, DEFAULT))
    assert alarms == 0, alarms


def test_noise_that_grows_without_the_level_moving_is_rarely_a_change_point():
    """Quiet for 15 runs, then busy (the spread triples, the level stays): over 500 series the
    rate is 0.8%; with Otava's own threshold (p < 0.001) it is 1%."""
    rng = random.Random("grows")
    alarms = sum(
        bool(find_changes(noisy(3.2, 15, rng) + noisy(3.2, 15, rng, noise=BUSY_NOISE), DEFAULT))
        for _ in range(100)
    )
    assert alarms <= 10, alarms


def test_a_shift_in_real_results_files_is_found_in_its_case_only():
    """30 nightly runs of the real synthetic results file, every case with the machine's noise;
    one case 40% slower from run 13 on."""
    rng = random.Random(13)
    (_, template), _ = documents()
    runs = []
    for night in range(30):
        document = copy.deepcopy(template)
        document["written"] = f"2026-10-{night + 1:02d}T02:00:00+00:00"
        for case_id, entry in document["results"].items():
            factor = 1 + rng.choice(QUIET_NOISE)
            entry["epoch_seconds"] *= factor * (1.4 if case_id == CASE and night >= 12 else 1.0)
        runs.append((f"night-{night + 1:02d}.json", document))
    analyses = analyse_all(history.build_history(runs), TIME, DEFAULT)
    found = {a.series.key.case_id: a.changes for a in analyses if a.changes}
    (change,) = found.pop(CASE)
    assert change.position == 12 and change.change == pytest.approx(0.4, abs=0.06)
    # The levels either side are those of the final segments (Otava 0.8.0 alone can leave a
    # point with the statistics of a segment its merge step has since joined to the next).
    (analysis,) = [a for a in analyses if a.series.key.case_id == CASE]
    assert [level.mean for level in analysis.levels] == pytest.approx([change.before, change.after])
    assert change.pvalue < 0.0001
    assert found == {}  # the 15 other cases stayed within their noise


def test_a_change_smaller_than_the_minimum_is_not_reported():
    rng = random.Random(3)
    values = shifted(noisy(3.2, 40, rng, scale=0.1), 20, 0.03)  # 3% on a very quiet machine
    assert [c.position for c in find_changes(values, Detection(min_change=0.0))] == [20]
    assert find_changes(values, DEFAULT) == []  # the default asks for 5%


def test_the_minimum_is_the_forward_change_the_page_states():
    """Otava measures the larger of the forward and backward change: a drop to 95.2 (-4.8%) is
    +5.04% backwards, and passed a 5% minimum."""
    values = [100.0 + 0.01 * (i % 3) for i in range(20)] + [
        95.2 + 0.01 * (i % 3) for i in range(20)
    ]
    assert [c.change for c in find_changes(values, Detection(min_change=0.04))] == [
        pytest.approx(-0.048, abs=0.001)
    ]
    assert find_changes(values, Detection(min_change=0.05)) == []


def test_short_series_have_no_change_point():
    assert find_changes([], DEFAULT) == []
    assert find_changes([3.0], DEFAULT) == []
    assert find_changes([3.0, 9.0], DEFAULT) == []


def test_failed_runs_are_left_out_and_change_points_keep_their_run():
    rng = random.Random(5)
    values = shifted(noisy(3.2, 24, rng), 12, 0.3)
    (_, template), _ = documents()
    runs = []
    for night, value in enumerate(values):
        document = copy.deepcopy(template)
        document["written"] = f"2026-10-{night + 1:02d}T02:00:00+00:00"
        if night in (3, 12):  # the first run of the new level failed
            del document["results"][CASE]
            document["failures"] = {CASE: "worker timed out"}
        else:
            document["results"][CASE]["epoch_seconds"] = value
        runs.append((f"night-{night:02d}.json", document))
    (series,) = [s for s in history.build_history(runs).series if s.key.case_id == CASE]
    analysis = analyse(series, TIME, DEFAULT)
    assert [c.position for c in analysis.changes] == [13]
    assert [(level.start, level.stop) for level in analysis.levels] == [(0, 13), (13, 24)]
    assert analysis.latest_value() == values[-1] and analysis.previous_value() == values[-2]


def test_without_otava_the_message_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "otava.analysis", None)  # as if it were not installed
    with pytest.raises(HistoryUnavailable) as caught:
        find_changes([1.0, 2.0, 3.0], DEFAULT)
    assert "pip install --no-deps 'apache-otava==0.8.0'" in str(caught.value)


# -- real series -----------------------------------------------------------------------------------


def test_the_real_code_change_is_found_at_the_switch():
    values, subjects = real_series(REAL_CHANGE)
    switch = subjects.index("rnn-work 16")
    assert switch == 15 and subjects[10] == "docs 1"  # a docs-only commit before it
    (change,) = find_changes(values, DEFAULT)
    assert change.position == switch
    assert 0.10 < change.change < 0.30


def test_the_real_runs_of_one_commit_have_no_change_point():
    values, subjects = real_series(NO_CHANGE)
    assert len(values) == 24 and len(set(subjects)) == 1
    assert find_changes(values, DEFAULT) == []


def test_on_a_busy_machine_the_time_change_drowns_but_the_memory_change_is_found():
    values, subjects = real_series(BUSY)
    switch = subjects.index("rnn-work 16")
    assert find_changes(values, DEFAULT) == []  # seconds per epoch moved by up to 90% run to run
    rss, _ = real_series(BUSY, runs.METRICS["rss"])
    (change,) = find_changes(rss, DEFAULT)
    assert change.position == switch and 0.05 < change.change < 0.10
