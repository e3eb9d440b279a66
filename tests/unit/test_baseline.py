"""Baseline files on disk (gate/baseline.py): profile names, merge-save, concurrent writers,
broken files."""

import json
import subprocess
import sys
import textwrap

import pytest

from helpers import REPO
from pytest_rnnbench.gate import baseline

PROFILE = baseline.machine_profile(
    "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", 2, [], "580.1", "13.0", "3.11.9"
)


GPU_PROFILE = baseline.machine_profile(
    "AMD EPYC 9654", 16, ["NVIDIA H200"], "580.65", "13.0", "3.12.3"
)


def entry(case_id="tensorflow-gpu0-b32-unroll-synthetic", step_ms=10.0, **extra):
    case = {
        "id": case_id,
        "backend": case_id.split("-")[0],
        "gpus": 0,
        "batch_size": 32,
        "unroll": True,
        "dataset": "synthetic",
    }
    result = {
        "samples": 256,
        "steps_per_epoch": 8,
        "repeats": 1,
        "versions": {"keras": "3.15.1"},
        "python": {"version": "3.11.9"},
        "epochs": [{"seconds": 0.08}],
    }
    made = baseline.make_entry(
        case,
        result,
        {"epoch_time": [step_ms] * 8, "final_loss": [1.5], "host_peak_rss": [900.0]},
        commit="abc",
    )
    made.update(extra)
    return made


def test_profile_names_are_readable_stable_and_leave_out_drifting_fields():
    assert PROFILE.name == "intel-xeon-platinum-8375c-2cpu_nogpu_py3.11"
    assert GPU_PROFILE.name == "amd-epyc-9654-16cpu_1x-nvidia-h200_driver580.65-cuda13.0_py3.12"
    # Driver and CUDA do not matter without a GPU; the clock speed in the CPU name never does.
    again = baseline.machine_profile(
        "Intel(R) Xeon(R) Platinum 8375C CPU @ 3.50GHz", 2, [], None, None, "3.11.4"
    )
    assert again == PROFILE


def test_save_creates_a_sorted_human_diffable_file(tmp_path):
    path = baseline.baseline_path(tmp_path, PROFILE)
    report = baseline.save(path, PROFILE, {GOOD_CASE: entry(GOOD_CASE)})
    assert report.added == [GOOD_CASE]
    assert report.lines() == [f"added {GOOD_CASE}"]
    text = path.read_text()
    document = json.loads(text)
    assert document["schema"] == baseline.SCHEMA and document["version"] == baseline.VERSION
    assert text == json.dumps(document, indent=1, sort_keys=True) + "\n"
    assert document["profile"] == PROFILE.to_dict()


def test_save_merges_keeps_other_cases_and_reports_what_changed(tmp_path):
    path = baseline.baseline_path(tmp_path, PROFILE)
    a, b = "tensorflow-gpu0-b32-unroll-synthetic", "jax-gpu0-b32-unroll-synthetic"
    first = baseline.save(path, PROFILE, {a: entry(a, 10.0), b: entry(b, 20.0)})
    assert sorted(first.added) == sorted([a, b]) and first.updated == []
    # A hand-reviewed tolerance survives a refresh.
    doc = json.loads(path.read_text())
    doc["entries"][a]["tolerances"] = {"tolerance_time": 0.2}
    path.write_text(json.dumps(doc))
    second = baseline.save(path, PROFILE, {a: entry(a, 11.0)})
    assert second.added == [] and second.kept == 1
    (line,) = second.updated
    assert a in line and "10 -> 11 ms (+10.0%)" in line
    entries = baseline.load(path, PROFILE)
    assert set(entries) == {a, b}
    assert entries[a]["metrics"]["epoch_time"]["median"] == 11.0
    assert entries[b]["metrics"]["epoch_time"]["median"] == 20.0
    assert entries[a]["tolerances"] == {"tolerance_time": 0.2}
    assert baseline.entry_tolerances(entries[a]) == {"epoch_time": 0.2}


def test_missing_file_loads_as_none(tmp_path):
    assert baseline.load(tmp_path / "nothing.json") is None


GOOD_CASE = "tensorflow-gpu0-b32-unroll-synthetic"


def good_document():
    return {
        "schema": baseline.SCHEMA,
        "version": 1,
        "profile": PROFILE.to_dict(),
        "entries": {GOOD_CASE: entry(GOOD_CASE)},
    }


def _broken(document_change):
    document = good_document()
    document_change(document)
    return json.dumps(document)


BROKEN = {
    "empty": ("", "empty"),
    "truncated": (json.dumps(good_document())[:-40], "truncated or not JSON"),
    "not json": ("<html>", "truncated or not JSON"),
    "other schema": (json.dumps({"schema": "x", "version": 1}), "not a pytest-rnnbench baseline"),
    "wrong version": (
        _broken(lambda d: d.update(version=99)),
        "format version 99 is not supported",
    ),
    "no entries": (_broken(lambda d: d.pop("entries")), 'malformed "entries"'),
    "missing field": (_broken(lambda d: d["entries"][GOOD_CASE].pop("metrics")), "lacks metrics"),
    "wrong case": (
        _broken(lambda d: d["entries"][GOOD_CASE]["case"].update(id="x")),
        "does not describe case",
    ),
    "text sample": (
        _broken(
            lambda d: d["entries"][GOOD_CASE]["metrics"]["epoch_time"]["samples"].append("fast")
        ),
        "not a finite number",
    ),
    "nan sample": (
        _broken(
            lambda d: d["entries"][GOOD_CASE]["metrics"]["final_loss"].update(
                samples=[float("nan")]
            )
        ),
        "NaN is not a number",
    ),
    "unknown metric": (
        _broken(lambda d: d["entries"][GOOD_CASE]["metrics"].update(speed={})),
        "unknown metric 'speed'",
    ),
    "bad tolerance": (
        _broken(lambda d: d["entries"][GOOD_CASE].update(tolerances={"tolerance_time": -1})),
        "not a fraction",
    ),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_files_raise_an_error_naming_the_file_and_problem(tmp_path, kind):
    text, problem = BROKEN[kind]
    path = tmp_path / "profile.json"
    path.write_text(text)
    with pytest.raises(baseline.BaselineError) as raised:
        baseline.load(path, PROFILE)
    assert str(path) in str(raised.value)
    assert problem in str(raised.value)


def test_a_file_of_another_profile_is_refused(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps(good_document()))
    with pytest.raises(
        baseline.BaselineError, match="another machine profile .*cpus: 2 there, 16 here"
    ):
        baseline.load(path, GPU_PROFILE)


def test_saving_over_a_broken_file_renames_it_aside_and_never_loses_it(tmp_path):
    path = baseline.baseline_path(tmp_path, PROFILE)
    path.write_text('{"schema": "pytest-rnnbench/baseline", "vers')
    report = baseline.save(path, PROFILE, {GOOD_CASE: entry(GOOD_CASE)})
    assert report.moved_aside is not None and report.moved_aside.exists()
    assert report.moved_aside.read_text() == '{"schema": "pytest-rnnbench/baseline", "vers'
    assert "truncated" in report.lines()[0] and str(report.moved_aside) in report.lines()[0]
    assert set(baseline.load(path, PROFILE)) == {GOOD_CASE}


WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    from pytest_rnnbench.gate import baseline
    profile = baseline.machine_profile("cpu", 2, [], None, None, "3.11")
    path = baseline.baseline_path({directory!r}, profile)
    writer, count = int(sys.argv[1]), int(sys.argv[2])
    for i in range(count):
        case_id = "tensorflow-gpu0-b%d-unroll-synthetic" % (1000 * writer + i)
        case = {{"id": case_id, "backend": "tensorflow", "gpus": 0, "batch_size": 1000 * writer + i,
                "unroll": True, "dataset": "synthetic"}}
        entry = baseline.make_entry(case, {{"samples": 1}}, {{"epoch_time": [float(i + 1)]}})
        baseline.save(path, profile, {{case_id: entry}})
""")


@pytest.mark.slow  # 6 processes x 25 saves: about 2.5 s
def test_concurrent_writers_lose_nothing(tmp_path):
    repo = str(REPO)
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(repo=repo, directory=str(tmp_path / "baselines")))
    writers, saves = 6, 25
    procs = [
        subprocess.Popen([sys.executable, str(script), str(w), str(saves)])
        for w in range(1, writers + 1)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * writers
    profile = baseline.machine_profile("cpu", 2, [], None, None, "3.11")
    entries = baseline.load(baseline.baseline_path(tmp_path / "baselines", profile), profile)
    assert len(entries) == writers * saves
    leftovers = [p.name for p in (tmp_path / "baselines").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
