"""End to end, real TensorFlow workers: a saved session is several fresh worker processes, and so
is a judged run (one with nothing to judge needs one), and the thread-pool setting a CPU case ran
with is recorded as the controller set it (the workers record the setting handed to them, not
pools they observed), so a baseline is never compared with a run set up otherwise."""

from __future__ import annotations

import json

import pytest

from helpers import require_framework

pytestmark = pytest.mark.slow

CASE = "tensorflow-gpu0-b32-unroll-synthetic"
TINY = [
    "--rnnbench",
    "--rnnbench-backends=tensorflow",
    "--rnnbench-datasets=synthetic",
    "--rnnbench-batch-sizes=32",
    "--rnnbench-samples=128",
    "--rnnbench-repeats=1",
    "-p",
    "no:cacheprovider",
    # One stored session resolves little: the verdict is inconclusive, and says why.
    "-W",
    "default::pytest_rnnbench.verdicts.RnnbenchInconclusiveWarning",
    "-W",
    "default::pytest_rnnbench.verdicts.RnnbenchBaselineWarning",
    # The machine may be busy (a CI job beside): this test is about the sessions, not the load.
    "--rnnbench-busy-limit=100%",
]


def entry_of(bench: pytest.Pytester) -> dict:
    (path,) = (bench.path / "baselines").glob("*.json")
    (entry,) = json.loads(path.read_text())["entries"].values()
    return entry


def test_sessions_of_several_workers_and_the_thread_pools_they_ran_with(
    bench: pytest.Pytester, heavy_modules
) -> None:
    require_framework("tensorflow")
    unjudged = bench.runpytest_subprocess(*TINY, "--rnnbench-json=first.json")
    assert unjudged.ret == 0
    first = json.loads((bench.path / "first.json").read_text())["results"][CASE]["worker"]
    assert "live_workers" not in first  # no baseline to judge: one process measures it
    saved = bench.runpytest_subprocess(*TINY, "--rnnbench-save-baseline", "--rnnbench-workers=2")
    saved.assert_outcomes(passed=1)
    (session,) = entry_of(bench)["sessions"]
    # Two worker processes, a step time from each.
    assert session["workers"] == 2 and len(session["worker_step_ms"]) == 2
    assert entry_of(bench)["thread_pools"] == "steady"  # the setting, as the controller set it
    assert heavy_modules() == []

    judged = bench.runpytest_subprocess(*TINY, "--rnnbench-json=results.json")
    assert judged.ret == 0
    judged.stdout.fnmatch_lines(
        [f"*{CASE}*2 worker process(es) per stored session, 3 in this one*"]
    )
    worker = json.loads((bench.path / "results.json").read_text())["results"][CASE]["worker"]
    assert worker["live_workers"] == 3  # a judged run is a session: 3 fresh workers by default
    run = worker["run"]
    assert run["thread_pools"] == "steady"  # the setting the controller handed the workers
    assert run["threads"] == {}  # TensorFlow's own report would say "default": none is kept

    # Every stored session saved on a busy machine: none is fit to judge against, and the
    # steps inside its processes are no substitute.
    (path,) = (bench.path / "baselines").glob("*.json")
    document = json.loads(path.read_text())
    for stored in document["entries"].values():
        for saved_session in stored["sessions"]:
            saved_session["busy_share"] = 0.9
    path.write_text(json.dumps(document))
    busy = bench.runpytest_subprocess(*TINY[:-1], "--rnnbench-busy-limit=50%")
    assert busy.ret == 0
    busy.stdout.fnmatch_lines(
        [f"*{CASE}: inconclusive*every stored session (1) was saved while other processes*"]
    )

    other = bench.runpytest_subprocess(
        *TINY, "--rnnbench-thread-pools=default", "--rnnbench-workers=1"
    )
    assert other.ret == 0
    other.stdout.fnmatch_lines(
        [f"*{CASE}*recorded with steady thread pools, this run has default*"]
    )
