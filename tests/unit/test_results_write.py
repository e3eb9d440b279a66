"""The results document a run writes (results/write.py), read back by results/read.py: what the
writer records is what the reader and the history find."""

from __future__ import annotations

import json

import pytest

from pytest_rnnbench.atomic import write_json
from pytest_rnnbench.history.runs import run_of
from pytest_rnnbench.matrix import Case
from pytest_rnnbench.results.read import load, rows_of
from pytest_rnnbench.results.schema import RESULTS_SCHEMA, RESULTS_VERSION
from pytest_rnnbench.results.write import results_document
from pytest_rnnbench.run.devices import GpuInventory
from pytest_rnnbench.run.summary import summarize
from pytest_rnnbench.settings import Settings

CASE = Case("jax", 0, 32, False, "nietzsche")


def worker_result(case: Case) -> dict:
    epochs = [{"seconds": 0.5, "step_seconds": [0.05] * 10, "loss": 2.0} for _ in range(2)]
    return {
        "case": case.to_dict(),
        "samples": 320,
        "steps_per_epoch": 10,
        "epochs": epochs,
        "final_loss": 2.0,
        "host_peak_rss_bytes": 600 * 2**20,
        "gpu_framework_peak_bytes": None,
        "versions": {"keras": "3.15.1"},
        "repeats": 2,
        "warmup_seconds": 0.1,
    }


def test_a_written_document_reads_back_as_its_cases(tmp_path):
    failed = Case("torch", 0, 32, True, "synthetic")
    document = results_document(
        {CASE.id: summarize(CASE.id, worker_result(CASE))},
        {failed.id: "worker was killed by SIGKILL"},
        Settings(),
        GpuInventory(),
        started_in=tmp_path,
        run_id="r1",
    )
    path = tmp_path / "results.json"
    write_json(path, document)
    read = load(path)
    assert (read["schema"], read["version"], read["run_id"]) == (
        RESULTS_SCHEMA,
        RESULTS_VERSION,
        "r1",
    )
    rows = rows_of(read, str(path))
    assert [(row.case, row.status) for row in rows] == [(CASE, "passed"), (failed, "failed")]
    assert [row.case_id for row in rows] == [CASE.id, failed.id]
    assert rows[0].epoch_seconds is not None and rows[0].steps_per_epoch == 10
    assert run_of(read, str(path)).run_id == "r1"


def test_every_document_gets_a_run_id_of_its_own_unless_the_run_gives_one(tmp_path):
    made = [results_document({}, {}, Settings(), GpuInventory(), started_in=tmp_path) for _ in "ab"]
    ids = [document["run_id"] for document in made]
    assert ids[0] != ids[1] and all(len(run_id) == 32 for run_id in ids)
    int(ids[0], 16)  # uuid4 hex
    kept = results_document({}, {}, Settings(), GpuInventory(), started_in=tmp_path, run_id="x1")
    assert kept["run_id"] == "x1"
    json.dumps(kept)  # plain JSON


def test_one_run_at_a_time_writes_a_results_file(tmp_path, pytester):
    """Each run rewrites its whole results file after every case: a second run on the same file
    would replace the first one's cases. It is refused before any test; a file of its own is not."""
    from pytest_rnnbench.atomic import claim
    from pytest_rnnbench.settings import default_cache_dir

    results = tmp_path / "out" / "results.json"
    held = claim(results, default_cache_dir())
    assert held is not None and claim(results, default_cache_dir()) is None
    assert not results.parent.exists()  # nothing among the user's files
    pytester.makepyfile("def test_x(rnnbench):\n    rnnbench()\n")

    def run(path):  # one case, skipped before any worker: 1 device of the 2 it needs
        return pytester.runpytest_inprocess(*NO_WORKER_RUN, f"--rnnbench-json={path}")

    refused = run(results)
    assert refused.ret == 4  # usage error
    refused.stderr.fnmatch_lines(["*another pytest run is writing it now*"])
    other = tmp_path / "out" / "other.json"
    assert run(other).ret == 0
    held.close()
    assert run(results).ret == 0


NO_WORKER_RUN = (
    "--rnnbench",
    "--rnnbench-backends=tensorflow",
    "--rnnbench-datasets=synthetic",
    "--rnnbench-gpus=2",
    "--rnnbench-simulate-devices=1",
)


def test_a_collect_only_run_writes_no_output_and_holds_no_results_file(
    tmp_path, pytester, monkeypatch
):
    """`pytest --co --rnnbench` lists the cases: the last run's results file, comment and report
    stay as they were, no job summary is added, and a run writing that results file now does
    not stop the listing."""
    from pytest_rnnbench.atomic import claim
    from pytest_rnnbench.settings import default_cache_dir

    outputs = {name: tmp_path / name for name in ("results.json", "comment.md", "report.md")}
    for path in outputs.values():
        path.write_text("the last run's")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "step-summary.md"))
    held = claim(outputs["results.json"], default_cache_dir())  # another run writing it
    pytester.makepyfile("def test_x(rnnbench):\n    rnnbench()\n")
    listed = pytester.runpytest_inprocess(
        "--co",
        *NO_WORKER_RUN,
        f"--rnnbench-json={outputs['results.json']}",
        f"--rnnbench-comment={outputs['comment.md']}",
        f"--rnnbench-report={outputs['report.md']}",
    )
    held.close()
    assert listed.ret == 0, listed.stderr.str()
    listed.stdout.fnmatch_lines(["*test_x[[]tensorflow-gpu2-*-synthetic[]]*"])
    assert [path.read_text() for path in outputs.values()] == ["the last run's"] * 3
    assert not (tmp_path / "step-summary.md").exists()
    assert "written to" not in listed.stdout.str()


def test_a_results_file_the_disk_refuses_is_said_never_a_traceback(tmp_path, pytester, monkeypatch):
    """A folder that passed the check up front can still refuse the file (a full disk, a quota,
    /proc): the first write raised an INTERNALERROR. Refused before any case, it is a usage
    error; refused later, the run says so, writes its other outputs and does not pass."""
    import errno

    from pytest_rnnbench.session import results_file

    real = results_file.write_json
    refuse_from = {"call": 1}
    calls = {"n": 0}

    def full_disk(path, document):
        calls["n"] += 1
        if calls["n"] >= refuse_from["call"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, document)

    monkeypatch.setattr(results_file, "write_json", full_disk)
    pytester.makepyfile("def test_x(rnnbench):\n    rnnbench()\n")
    results, comment = tmp_path / "results.json", tmp_path / "comment.md"
    skipped_all = ["--rnnbench-backends=torch", "--rnnbench-datasets=synthetic",
                   "--rnnbench-python=torch=/no/such/python"]  # fmt: skip
    args = ["-p", "no:cacheprovider", *skipped_all, f"--rnnbench-json={results}"]
    result = pytester.runpytest_inprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: the results file {results} could not be written: No space left on device"]
    )
    refuse_from["call"], calls["n"] = 2, 0  # the start's write goes through, the end's not
    result = pytester.runpytest_inprocess(*args, f"--rnnbench-comment={comment}")
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR  # it must not pass
    result.stdout.fnmatch_lines(
        [f"rnnbench: error: the results file {results} could not be written: No space left*"]
    )
    assert "results written to" not in result.stdout.str() and comment.exists()
