"""Baseline files on disk (gate/baseline.py): profile names, merge-save, concurrent writers,
broken files."""

import json
import subprocess
import sys
import textwrap

import pytest

from helpers import REPO
from pytest_rnnbench.verdicts import baseline

PROFILE = baseline.machine_profile(
    "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", 2, [], "580.1", "13.0", "3.11.9"
)


GPU_PROFILE = baseline.machine_profile(
    "AMD EPYC 9654", 16, ["NVIDIA H200"], "580.65", "13.0", "3.12.3"
)


def entry(case_id="tensorflow-gpu0-b32-unroll-synthetic", step_ms=10.0, samples=256, **extra):
    case = {
        "id": case_id,
        "backend": case_id.split("-")[0],
        "gpus": 0,
        "batch_size": 32,
        "unroll": True,
        "dataset": "synthetic",
    }
    result = {
        "samples": samples,
        "steps_per_epoch": -(-samples // 32),
        "repeats": 1,
        "versions": {"keras": "3.15.1"},
        "python": {"version": "3.11.9"},
        "epochs": [{"seconds": 0.08, "step_seconds": [step_ms / 1000] * 8}],
    }
    made = baseline.make_entry(
        case,
        result,
        {"step_time": [step_ms] * 8, "final_loss": [1.5], "host_peak_rss": [900.0]},
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


def keyed(*entries):
    """{key: entry}, as the gate hands entries to save()."""
    return {baseline.key_of(e): e for e in entries}


def test_save_creates_a_sorted_human_diffable_file(tmp_path):
    path = baseline.baseline_path(tmp_path, PROFILE)
    report = baseline.save(path, PROFILE, keyed(entry(GOOD_CASE)))
    assert report.lines() == [f"added {GOOD_CASE} (256 samples x 1 epochs)"]
    text = path.read_text()
    document = json.loads(text)
    assert document["schema"] == baseline.SCHEMA and document["version"] == baseline.VERSION
    assert text == json.dumps(document, indent=1, sort_keys=True) + "\n"
    assert document["profile"] == PROFILE.to_dict()


def test_save_merges_keeps_other_cases_and_reports_what_changed(tmp_path):
    path = baseline.baseline_path(tmp_path, PROFILE)
    a, b = "tensorflow-gpu0-b32-unroll-synthetic", "jax-gpu0-b32-unroll-synthetic"
    ka, kb = baseline.entry_key(a, 256, 1), baseline.entry_key(b, 256, 1)
    first = baseline.save(path, PROFILE, keyed(entry(a, 10.0), entry(b, 20.0)))
    assert len(first.added) == 2 and first.updated == []
    # A hand-reviewed tolerance survives a refresh.
    doc = json.loads(path.read_text())
    doc["entries"][ka]["tolerances"] = {"tolerance_time": 0.2}
    path.write_text(json.dumps(doc))
    second = baseline.save(path, PROFILE, keyed(entry(a, 11.0)))
    assert second.added == [] and second.kept == 1
    (line,) = second.updated
    assert a in line and "10 -> 11 ms (+10.0%)" in line
    entries = baseline.load(path, PROFILE)
    assert set(entries) == {ka, kb}
    assert entries[ka]["metrics"]["step_time"]["median"] == 11.0
    assert entries[kb]["metrics"]["step_time"]["median"] == 20.0
    assert entries[ka]["tolerances"] == {"tolerance_time": 0.2}
    assert baseline.entry_tolerances(entries[ka]) == {"step_time": 0.2}


def test_a_quick_run_and_a_full_epoch_run_of_one_case_keep_separate_baselines(tmp_path):
    path = baseline.baseline_path(tmp_path, PROFILE)
    quick, full = entry(GOOD_CASE, 10.0, samples=4096), entry(GOOD_CASE, 12.0, samples=50_000)
    baseline.save(path, PROFILE, keyed(quick))
    report = baseline.save(path, PROFILE, keyed(full))
    assert report.added == [f"{GOOD_CASE} (50,000 samples x 1 epochs)"] and report.kept == 1
    entries = baseline.load(path, PROFILE)
    assert baseline.find(entries, GOOD_CASE, 4096, 1)["metrics"] == quick["metrics"]
    assert baseline.find(entries, GOOD_CASE, 50_000, 1)["metrics"] == full["metrics"]
    assert baseline.find(entries, GOOD_CASE, 50_000, 3) is None  # other repeats: not this one
    assert [e["samples"] for e in baseline.entries_of_case(entries, GOOD_CASE)] == [4096, 50_000]


def test_a_version_1_file_is_read_rekeyed_and_upgraded_at_the_next_save(tmp_path):
    path = baseline.baseline_path(tmp_path, PROFILE)
    old = entry(GOOD_CASE, 10.0)
    path.write_text(json.dumps({**good_document(), "version": 1, "entries": {GOOD_CASE: old}}))
    assert baseline.load(path, PROFILE) == keyed(old)
    other = "jax-gpu0-b32-unroll-synthetic"
    baseline.save(path, PROFILE, keyed(entry(other, 20.0)))
    document = json.loads(path.read_text())
    assert document["version"] == baseline.VERSION == 3
    # Nothing lost: the version-1 entry is kept, under its workload key.
    assert set(document["entries"]) == {
        baseline.entry_key(GOOD_CASE, 256, 1),
        baseline.entry_key(other, 256, 1),
    }


def test_an_entry_under_the_key_of_another_case_or_workload_is_refused(tmp_path):
    path = tmp_path / "x.json"
    document = good_document()
    document["entries"] = {baseline.entry_key(GOOD_CASE, 4096, 1): entry(GOOD_CASE)}
    path.write_text(json.dumps(document))
    with pytest.raises(baseline.BaselineError, match="belong under .*samples=256.repeats=1"):
        baseline.load(path, PROFILE)


def test_missing_file_loads_as_none(tmp_path):
    assert baseline.load(tmp_path / "nothing.json") is None


GOOD_CASE = "tensorflow-gpu0-b32-unroll-synthetic"
GOOD_KEY = baseline.entry_key(GOOD_CASE, 256, 1)


def good_document():
    return {
        "schema": baseline.SCHEMA,
        "version": baseline.VERSION,
        "profile": PROFILE.to_dict(),
        "entries": keyed(entry(GOOD_CASE)),
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
        _broken(lambda d: d.update(version=0)),
        "format version 0 is not supported",
    ),
    "newer version": (
        _broken(lambda d: d.update(version=99)),
        "format version 99 was written by a newer pytest-rnnbench",
    ),
    "no entries": (_broken(lambda d: d.pop("entries")), 'malformed "entries"'),
    "missing field": (_broken(lambda d: d["entries"][GOOD_KEY].pop("metrics")), "lacks metrics"),
    "wrong case": (
        _broken(lambda d: d["entries"][GOOD_KEY]["case"].update(id="x")),
        "belong under",
    ),
    "text sample": (
        _broken(lambda d: d["entries"][GOOD_KEY]["metrics"]["step_time"]["samples"].append("fast")),
        "not a finite number",
    ),
    "nan sample": (
        _broken(
            lambda d: d["entries"][GOOD_KEY]["metrics"]["final_loss"].update(samples=[float("nan")])
        ),
        "NaN is not a number",
    ),
    "workers in text": (
        _broken(lambda d: d["entries"][GOOD_KEY]["sessions"][0].update(workers="three")),
        '"workers" must be a positive whole number',
    ),
    "versions in text": (
        _broken(lambda d: d["entries"][GOOD_KEY].update(versions="3.15")),
        '"versions" must be an object',
    ),
    "busy shares in text": (
        _broken(lambda d: d["entries"][GOOD_KEY].update(cpu_busy_shares=["x"])),
        '"cpu_busy_shares" must be a list of finite numbers',
    ),
    "a zero step time": (  # a format-2 entry is one session: its median step time
        _broken(lambda d: d["entries"][GOOD_KEY]["metrics"]["step_time"].update(samples=[0.0])),
        "a step time of 0.0 ms is not positive",
    ),
    "samples in text": (
        _broken(lambda d: d["entries"][GOOD_KEY].update(samples="256")),
        "\"samples\" must be a positive number, not '256'",
    ),
    "bad tolerance": (
        _broken(lambda d: d["entries"][GOOD_KEY].update(tolerances={"tolerance_time": -1})),
        "tolerance_time=-1: expected a fraction >= 0",
    ),
    "a bare 5 as a number": (
        _broken(lambda d: d["entries"][GOOD_KEY].update(tolerances={"tolerance_time": 5})),
        "did you mean 5%?",
    ),
    "a bare 20 as tolerance": (
        _broken(lambda d: d["entries"][GOOD_KEY].update(tolerances={"tolerance_time": "20"})),
        "did you mean 20%?",
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


def test_a_later_plugin_s_metric_is_ignored_and_a_tolerance_may_be_a_percentage(tmp_path):
    """Readers ignore what a later version adds (formats.md): refused, the file was called
    broken, and the next save set every entry aside. Tolerances read as the options read them."""
    document = good_document()
    stored = document["entries"][GOOD_KEY]
    stored["metrics"]["gpu_utilization"] = {"samples": [0.9], "n": 1}
    stored["tolerances"] = {"tolerance_time": "20%", "tolerance_rss": 0.3}
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(document))
    (loaded,) = baseline.load(path, PROFILE).values()
    assert "gpu_utilization" not in baseline.entry_samples(loaded)
    assert "step_time" in baseline.entry_samples(loaded)
    assert baseline.entry_tolerances(loaded) == {"step_time": 0.2, "host_peak_rss": 0.3}


def test_a_file_of_another_profile_is_refused(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps(good_document()))
    with pytest.raises(
        baseline.BaselineError, match="another machine profile .*cpus: 2 there, 16 here"
    ):
        baseline.load(path, GPU_PROFILE)


def test_a_save_of_another_setup_starts_the_sessions_afresh(tmp_path):
    """Sessions with the frameworks' own thread pools are not a history for steady ones: kept,
    the entry would pass the workload check and mix the two setups' speeds."""
    path = baseline.baseline_path(tmp_path, PROFILE)
    for ms in (50.0, 50.5, 49.8):
        baseline.save(path, PROFILE, keyed(entry(GOOD_CASE, ms, thread_pools="default")))
    report = baseline.save(path, PROFILE, keyed(entry(GOOD_CASE, 40.0, thread_pools="steady")))
    (saved,) = baseline.load(path, PROFILE).values()
    assert [s["step_ms"] for s in saved["sessions"]] == [40.0]
    assert (
        "sessions started afresh: the baseline was recorded with default thread pools"
        in (report.updated[0])
    )
    baseline.save(path, PROFILE, keyed(entry(GOOD_CASE, 41.0, thread_pools="steady")))
    (saved,) = baseline.load(path, PROFILE).values()
    assert [s["step_ms"] for s in saved["sessions"]] == [40.0, 41.0]  # the same setup: added


def test_saving_over_a_broken_file_renames_it_aside_and_never_loses_it(tmp_path):
    path = baseline.baseline_path(tmp_path, PROFILE)
    path.write_text('{"schema": "pytest-rnnbench/baseline", "vers')
    report = baseline.save(path, PROFILE, keyed(entry(GOOD_CASE)))
    assert report.moved_aside is not None and report.moved_aside.exists()
    assert report.moved_aside.read_text() == '{"schema": "pytest-rnnbench/baseline", "vers'
    assert "truncated" in report.lines()[0] and str(report.moved_aside) in report.lines()[0]
    assert set(baseline.load(path, PROFILE)) == {GOOD_KEY}


@pytest.mark.parametrize("kind", ["newer version", "another profile", "a directory"])
def test_saving_over_a_file_that_is_not_ours_refuses_and_leaves_it(tmp_path, kind):
    """Not broken, so not set aside: its sessions serve a newer plugin or another machine (and
    in CI an aside file is lost with the workspace)."""
    path = baseline.baseline_path(tmp_path, PROFILE)
    if kind == "a directory":
        path.mkdir(parents=True)
    else:
        text = _broken(lambda d: d.update(version=99)) if kind == "newer version" else None
        path.write_text(text or json.dumps(good_document()))

    def files() -> list[str]:
        return sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock"))

    before = files()
    profile = PROFILE if kind != "another profile" else GPU_PROFILE
    with pytest.raises(baseline.BaselineNotOurs, match=str(path)):
        baseline.save(path, profile, keyed(entry(GOOD_CASE)))
    assert files() == before
    assert path.is_dir() if kind == "a directory" else json.loads(path.read_text())


WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    from pytest_rnnbench.verdicts import baseline
    profile = baseline.machine_profile("cpu", 2, [], None, None, "3.11")
    path = baseline.baseline_path({directory!r}, profile)
    writer, count = int(sys.argv[1]), int(sys.argv[2])
    for i in range(count):
        case_id = "tensorflow-gpu0-b%d-unroll-synthetic" % (1000 * writer + i)
        case = {{"id": case_id, "backend": "tensorflow", "gpus": 0, "batch_size": 1000 * writer + i,
                "unroll": True, "dataset": "synthetic"}}
        entry = baseline.make_entry(
            case, {{"samples": 1, "repeats": 1}}, {{"step_time": [float(i + 1)]}}
        )
        baseline.save(path, profile, {{baseline.key_of(entry): entry}})
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


def test_a_file_of_0_1_names_the_step_time_epoch_time_and_is_read_under_the_new_name(tmp_path):
    path = baseline.baseline_path(tmp_path, PROFILE)
    old = entry(GOOD_CASE, 10.0)
    old["metrics"] = {"epoch_time": old["metrics"]["step_time"]}
    path.write_text(json.dumps({**good_document(), "entries": {GOOD_KEY: old}}))
    loaded = baseline.load(path, PROFILE)
    assert loaded is not None and list(loaded[GOOD_KEY]["metrics"]) == ["step_time"]


def test_each_save_adds_a_session_to_the_entry_within_a_window(tmp_path):
    from pytest_rnnbench.verdicts.session_level import WINDOW

    path = baseline.baseline_path(tmp_path, PROFILE)
    for step_ms in range(10, 10 + WINDOW + 3):
        baseline.save(path, PROFILE, keyed(entry(GOOD_CASE, float(step_ms))))
    sessions = baseline.load(path, PROFILE)[GOOD_KEY]["sessions"]
    assert [s["step_ms"] for s in sessions] == [float(v) for v in range(13, 13 + WINDOW)]
    assert all(s["commit"] == "abc" and s["versions"] == {"keras": "3.15.1"} for s in sessions)


def test_reset_starts_the_sessions_afresh(tmp_path):
    path = baseline.baseline_path(tmp_path, PROFILE)
    baseline.save(path, PROFILE, keyed(entry(GOOD_CASE, 10.0)))
    baseline.save(path, PROFILE, keyed(entry(GOOD_CASE, 11.0)))
    report = baseline.save(path, PROFILE, keyed(entry(GOOD_CASE, 20.0)), reset=True)
    sessions = baseline.load(path, PROFILE)[GOOD_KEY]["sessions"]
    assert [s["step_ms"] for s in sessions] == [20.0]
    (said,) = report.lines()  # the dropped history is said, not just a new median
    assert said.endswith("; sessions started afresh (reset): 2 stored dropped")


def test_an_entry_of_format_2_is_one_session_and_keeps_it_when_saved_again(tmp_path):
    path = baseline.baseline_path(tmp_path, PROFILE)
    old = entry(GOOD_CASE, 10.0)
    del old["sessions"]
    path.write_text(json.dumps({**good_document(), "version": 2, "entries": {GOOD_KEY: old}}))
    assert [s["step_ms"] for s in baseline.entry_sessions(old)] == [10.0]
    baseline.save(path, PROFILE, keyed(entry(GOOD_CASE, 12.0)))
    document = json.loads(path.read_text())
    assert document["version"] == 3
    assert [s["step_ms"] for s in document["entries"][GOOD_KEY]["sessions"]] == [10.0, 12.0]


def test_a_session_without_a_positive_step_time_is_refused(tmp_path):
    path = baseline.baseline_path(tmp_path, PROFILE)
    bad = entry(GOOD_CASE)
    bad["sessions"] = [{"step_ms": 0}]
    path.write_text(json.dumps({**good_document(), "entries": {GOOD_KEY: bad}}))
    with pytest.raises(baseline.BaselineError, match="positive"):
        baseline.load(path, PROFILE)


def test_a_session_of_several_workers_stores_each_and_their_geometric_mean(tmp_path):
    case = entry(GOOD_CASE)["case"]
    merged = {
        "samples": 256,
        "steps_per_epoch": 8,
        "repeats": 1,
        "versions": {"keras": "3.15.1"},
        "epochs": [
            {"seconds": 0.08, "worker": index, "step_seconds": [ms / 1000] * 8}
            for index, ms in enumerate((10.0, 40.0, 20.0))
        ],
    }
    made = baseline.make_entry(case, merged, {"step_time": [10.0] * 24})
    (session,) = made["sessions"]
    assert session["workers"] == 3
    assert session["worker_step_ms"] == [10.0, 40.0, 20.0]
    assert session["step_ms"] == pytest.approx(20.0)  # (10 * 40 * 20) ** (1/3)
    path = baseline.baseline_path(tmp_path, PROFILE)
    baseline.save(path, PROFILE, keyed(made))
    assert baseline.load(path, PROFILE)[GOOD_KEY]["sessions"] == [session]
