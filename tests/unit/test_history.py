"""Series over many runs (history/runs.py, history/series.py), what changed between two runs
(history/suspects.py) and what a results file records to place its run (results/write.py's
"source" section and run id), on the real results files of tests/data/ made into runs."""

from __future__ import annotations

import copy
import datetime
import json
import subprocess
from pathlib import Path

import pytest

from helpers import P3_MACHINE as P3
from helpers import documents
from pytest_rnnbench.history import runs
from pytest_rnnbench.history import series as history
from pytest_rnnbench.history import suspects as history_suspects
from pytest_rnnbench.results.schema import ResultsError
from pytest_rnnbench.results.write import results_document, source_section

SYNTHETIC, NIETZSCHE = (document for _, document in documents())
CASE = "mxnet-gpu0-b128-unroll-synthetic"


def run_document(template, day, commit=None, committed_day=None, machine=None, **changes):
    """`template` as the run of day `day` (2026-11-`day` 02:00 UTC), optionally with a commit and
    another machine; `changes`: case id -> factor on its epoch seconds."""
    document = copy.deepcopy(template)
    document["written"] = f"2026-11-{day:02d}T02:00:00+00:00"
    if commit is not None:
        committed = committed_day if committed_day is not None else day
        document["source"] = {
            "commit": commit * 40 if len(commit) == 1 else commit,
            "committed": f"2026-11-{committed:02d}T01:00:00+00:00",
            "subject": f"change {commit}",
            "branch": "master",
            "dirty": False,
        }
    if machine is not None:
        document["machine"] = dict(machine)
    for case_id, factor in changes.items():
        entry = document["results"][case_id]
        entry["epoch_seconds"] *= factor
        entry["epoch_seconds_all"] = [s * factor for s in entry["epoch_seconds_all"]]
    return document


def nightly(days=range(1, 6), template=SYNTHETIC, **kwargs):
    return [(f"night-{day:02d}.json", run_document(template, day, **kwargs)) for day in days]


# -- series ----------------------------------------------------------------------------------------


def test_each_case_is_a_series_with_a_point_per_run_in_time_order():
    runs = nightly()
    built = history.build_history(reversed(runs))  # the order of the files does not matter
    (profile,) = built.profiles
    assert profile.label == "Intel Xeon, 2 CPUs"
    assert [run.source for run in built.runs[profile]] == [name for name, _ in runs]
    assert {s.key.case_id for s in built.series} == set(SYNTHETIC["results"])
    for series in built.series:
        assert [p.run.source for p in series.points] == [name for name, _ in runs]
        assert series.key.workload == "256 samples/epoch"
    first = built.series[0]
    assert (first.key.dataset, first.key.batch_size, first.key.unroll) == ("synthetic", 32, True)
    assert first.key.backend == "tensorflow"  # the seed's column order


def test_shards_of_one_night_join_the_series_of_their_cases():
    runs = nightly(range(1, 4)) + nightly(range(1, 4), template=NIETZSCHE)
    built = history.build_history(runs)
    assert len(built.series) == len(SYNTHETIC["results"]) + len(NIETZSCHE["results"])
    assert all(len(series.points) == 3 for series in built.series)


def shard_document(template, day, k, n, hour=2, commit="a"):
    """Part K of N of the run of day `day`: the cases of `template` that --rnnbench-shard=K/N
    would give it (round-robin), written at `hour`."""
    document = run_document(template, day, commit=commit)
    document["written"] = f"2026-11-{day:02d}T{hour:02d}:00:00+00:00"
    document["settings"]["shard"] = [k, n]
    for index, case_id in enumerate(sorted(document["results"])):
        if index % n != k - 1:
            del document["results"][case_id]
    return document


def test_the_shards_of_one_run_are_joined_into_one_run():
    files = [
        (f"night-{day}-shard-{k}.json", shard_document(SYNTHETIC, day, k, 2, hour=2 + k))
        for day in (1, 2, 3)
        for k in (1, 2)
    ]
    built = history.build_history(files)
    (profile,) = built.profiles
    runs = built.runs[profile]
    assert [run.source for run in runs] == [
        f"night-{day}-shard-1.json + night-{day}-shard-2.json" for day in (1, 2, 3)
    ]
    # Every case has one point per night, on the night's one run.
    assert {s.key.case_id for s in built.series} == set(SYNTHETIC["results"])
    for series in built.series:
        assert [built.position(p.run) for p in series.points] == [1, 2, 3]


def test_a_shard_seen_again_or_written_much_later_starts_another_run():
    # The same part twice on one day (a rerun), and a part written 13 hours after the first.
    files = [
        ("a.json", shard_document(SYNTHETIC, 1, 1, 2, hour=1)),
        ("b.json", shard_document(SYNTHETIC, 1, 1, 2, hour=3)),
        ("c.json", shard_document(SYNTHETIC, 1, 2, 2, hour=4)),
        ("d.json", shard_document(SYNTHETIC, 2, 2, 2, hour=5)),
    ]
    built = history.build_history(files)
    (profile,) = built.profiles
    # b repeats a's part: another run. c joins the earliest run that lacks its part (a); d, the
    # next day, is a run of its own.
    assert [run.source for run in built.runs[profile]] == ["a.json + c.json", "b.json", "d.json"]


def test_interleaved_parts_of_two_runs_of_one_commit_join_their_own_runs():
    files = [
        ("a1.json", shard_document(SYNTHETIC, 1, 1, 2, hour=1)),
        ("b1.json", shard_document(SYNTHETIC, 1, 1, 2, hour=2)),
        ("a2.json", shard_document(SYNTHETIC, 1, 2, 2, hour=3)),
        ("b2.json", shard_document(SYNTHETIC, 1, 2, 2, hour=4)),
    ]
    built = history.build_history(files)
    (profile,) = built.profiles
    assert [run.source for run in built.runs[profile]] == ["a1.json + a2.json", "b1.json + b2.json"]


def test_simulated_devices_are_no_sign_of_a_file_that_mixes_machines():
    document = run_document(SYNTHETIC, 1)
    (case_id,) = [c for c in document["results"] if "-gpu0-" in c][:1]
    entry = document["results"].pop(case_id)
    simulated = case_id.replace("-gpu0-", "-gpu2-")
    entry["worker"]["case"]["gpus"] = 2
    entry["worker"]["case"]["id"] = simulated
    document["results"][simulated] = entry
    with pytest.raises(runs.HistoryError, match="mixes results of several machines"):
        history.build_history([("real.json", copy.deepcopy(document))])
    document["settings"]["simulate_devices"] = 2
    built = history.build_history([("simulated.json", document)])
    assert simulated in {series.key.case_id for series in built.series}


def test_a_malformed_shard_is_refused_by_name():
    document = shard_document(SYNTHETIC, 1, 1, 2)
    document["settings"]["shard"] = [3, 2]
    with pytest.raises(runs.HistoryError, match=r"x.json: 'settings.shard' \[3, 2\]"):
        history.build_history([("x.json", document)])


def test_machines_are_never_mixed_and_each_has_its_own_runs():
    runs = nightly() + nightly(machine=P3)
    built = history.build_history(runs)
    labels = [profile.label for profile in built.profiles]
    assert sorted(labels) == [
        "4x Tesla V100-SXM2-16GB (Intel Xeon E5-2686 v4, 32 CPUs)",
        "Intel Xeon, 2 CPUs",
    ]
    assert len(built.series) == 2 * len(SYNTHETIC["results"])
    for series in built.series:
        assert {p.run.profile for p in series.points} == {series.key.profile}
        assert len(series.points) == 5


def test_a_driver_update_is_not_a_new_machine():
    old, new = dict(P3), dict(P3, driver="550.54")
    built = history.build_history(
        nightly(range(1, 3), machine=old) + nightly(range(3, 5), machine=new)
    )
    assert len(built.profiles) == 1


def test_other_samples_per_epoch_are_another_series():
    quick = run_document(SYNTHETIC, 3)
    quick["settings"]["samples_cap"] = 4096
    built = history.build_history([*nightly(range(1, 3)), ("quick.json", quick)])
    workloads = {s.key.workload for s in built.series if s.key.case_id == CASE}
    assert workloads == {"256 samples/epoch", "4,096 samples/epoch"}


def test_runs_follow_their_commits_when_every_run_records_one():
    # Night 3 measured an older commit again (a bisection): it belongs between nights 1 and 2.
    runs = [
        ("night-01.json", run_document(SYNTHETIC, 1, commit="a", committed_day=1)),
        ("night-02.json", run_document(SYNTHETIC, 2, commit="c", committed_day=2)),
        ("night-03.json", run_document(SYNTHETIC, 3, commit="b", committed_day=1)),
    ]
    built = history.build_history(runs)
    order = [run.source for run in built.runs[built.profiles[0]]]
    assert order == ["night-01.json", "night-03.json", "night-02.json"]
    # Without a commit in every run, the time each file was written decides.
    del runs[2][1]["source"]
    built = history.build_history(runs)
    assert [run.source for run in built.runs[built.profiles[0]]] == [
        "night-01.json",
        "night-02.json",
        "night-03.json",
    ]


def test_a_failed_case_stays_in_its_series_without_a_value():
    failed = run_document(SYNTHETIC, 3)
    del failed["results"][CASE]
    failed["failures"] = {CASE: "worker was killed by SIGKILL (out of memory?)\nmore detail"}
    built = history.build_history([*nightly(range(1, 3)), ("night-03.json", failed)])
    (series,) = [s for s in built.series if s.key.case_id == CASE]
    assert [p.row.status for p in series.points] == ["passed", "passed", "failed"]
    assert series.values(runs.METRICS["time"])[2] is None
    assert [p.run.source for p in series.failures] == ["night-03.json"]


def test_the_metrics_read_time_memory_and_loss():
    (name, document), *_ = nightly(range(1, 2))
    entry = document["results"][CASE]
    built = history.build_history([(name, document)])
    point = next(s for s in built.series if s.key.case_id == CASE).points[0]
    assert point.value(runs.METRICS["time"]) == entry["epoch_seconds"]
    assert point.value(runs.METRICS["rss"]) == entry["host_peak_rss_bytes"] / 2**20
    assert point.value(runs.METRICS["loss"]) == entry["final_loss"]
    assert point.value(runs.METRICS["gpu-memory"]) is None  # a CPU machine


def test_the_same_run_given_twice_counts_once_and_says_so(tmp_path):
    path = tmp_path / "night-01.json"
    path.write_text(json.dumps(run_document(SYNTHETIC, 1)))
    copy_path = tmp_path / "copy.json"
    copy_path.write_text(path.read_text())
    built = history.load_history([path, path, copy_path])
    assert all(len(series.points) == 1 for series in built.series)
    assert built.notes[0] == f"{path}: given more than once; read once"
    assert any(
        note.startswith(f"{copy_path}: {CASE} is the same run as in {path}") for note in built.notes
    )


def test_the_same_run_id_given_twice_counts_once_and_says_so():
    document = dict(run_document(SYNTHETIC, 1), run_id="0f" * 16)
    later = dict(copy.deepcopy(document), written="2026-11-02T02:00:00+00:00")
    built = history.build_history([("a.json", document), ("b.json", later)])
    assert all(len(series.points) == 1 for series in built.series)
    assert f"b.json: {CASE} is the same run as in a.json (same run id); counted once" in built.notes


def test_a_run_read_from_two_files_of_different_cases_is_one_run():
    """A results file is rewritten after every case: an early copy holds some cases, the last
    all of them. One run, its cases at one position, whichever file comes first."""
    full = dict(run_document(SYNTHETIC, 1), run_id="0f" * 16)
    early = copy.deepcopy(full)
    early["results"] = {CASE: early["results"][CASE]}
    for order in (
        [("early.json", early), ("full.json", full)],
        [("full.json", full), ("early.json", early)],
    ):
        built = history.build_history(order)
        assert len(built.runs[built.profiles[0]]) == 1, order
        assert all(len(series.points) == 1 for series in built.series)
        assert {series.key.case_id for series in built.series} == set(full["results"])


def test_two_runs_of_one_commit_written_in_the_same_second_are_two_runs():
    """What `written` (whole seconds) cannot tell apart, the run id does: the nightly test of
    tests/unit/test_history_cli.py wrote two such files when its machine was fast."""
    first, second = (
        dict(run_document(SYNTHETIC, 1, commit="a"), run_id=run_id)
        for run_id in ("1" * 32, "2" * 32)
    )
    built = history.build_history([("night-0.json", first), ("night-1.json", second)])
    assert built.notes == []
    assert all(len(series.points) == 2 for series in built.series)
    assert [run.run_id for run in built.runs[built.profiles[0]]] == ["1" * 32, "2" * 32]
    # Files written before the run id was: the same machine, time and commit are one run.
    del first["run_id"], second["run_id"]
    old = history.build_history([("night-0.json", first), ("night-1.json", second)])
    assert all(len(series.points) == 1 for series in old.series)
    assert (
        f"night-1.json: {CASE} is the same run as in night-0.json "
        "(same machine, time and commit); counted once"
    ) in old.notes


# -- bad input -------------------------------------------------------------------------------------


def write(tmp_path, name, document):
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def test_a_file_of_another_schema_version_or_cut_short_is_refused_by_name(tmp_path):
    good = write(tmp_path, "good.json", run_document(SYNTHETIC, 1))
    other = write(tmp_path, "bench.json", {"schema": "pytest-benchmark", "benchmarks": []})
    newer = write(tmp_path, "newer.json", dict(run_document(SYNTHETIC, 2), version=9))
    truncated = write(tmp_path, "cut.json", good.read_text()[:500])
    for path, message in (
        (other, "not a pytest-rnnbench results file"),
        (newer, "results format version 9 is not supported"),
        (truncated, "not a JSON file"),
    ):
        with pytest.raises(ResultsError, match=message) as caught:
            history.load_history([good, path])
        assert str(caught.value).startswith(str(path))


def test_a_file_that_mixes_machines_is_refused_by_name(tmp_path):
    document = run_document(SYNTHETIC, 1)
    entry = copy.deepcopy(document["results"][CASE])
    entry["worker"]["case"] = dict(
        entry["worker"]["case"], gpus=4, id="mxnet-gpu4-b128-unroll-synthetic"
    )
    document["results"]["mxnet-gpu4-b128-unroll-synthetic"] = entry
    path = write(tmp_path, "merged.json", document)
    with pytest.raises(runs.HistoryError) as caught:
        history.load_history([path])
    assert str(caught.value) == (
        f"{path}: case mxnet-gpu4-b128-unroll-synthetic used 4 GPU(s) but the file's machine "
        "(Intel Xeon, 2 CPUs) has 0: the file mixes results of several machines; keep one "
        "results file per machine"
    )


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("written"), "no 'written' time"),
        (
            lambda d: d.update(written="last night"),
            "'written' 'last night' is not an ISO 8601 time",
        ),
        (lambda d: d["machine"].pop("cpus"), "the machine section needs cpu"),
        (lambda d: d.update(source=["abc"]), "malformed source: list, expected an object"),
        (
            lambda d: d["results"][CASE].update(epoch_seconds=None),
            f"case {CASE} has no epoch_seconds",
        ),
    ],
)
def test_a_results_file_a_history_cannot_place_is_refused_by_name(tmp_path, change, message):
    document = run_document(SYNTHETIC, 1)
    change(document)
    path = write(tmp_path, "night.json", document)
    # The shape of a section is the reader's to check (results/schema.py), the rest the history's.
    with pytest.raises((runs.HistoryError, ResultsError), match=message) as caught:
        history.load_history([path])
    assert str(caught.value).startswith(f"{path}: ")


# -- suspects --------------------------------------------------------------------------------------


def points_around(before_document, after_document):
    built = history.build_history(
        [("before.json", before_document), ("after.json", after_document)]
    )
    (series,) = [s for s in built.series if s.key.case_id == CASE]
    return series.points


def test_suspects_name_the_commit_range_and_the_versions_that_moved():
    before = run_document(SYNTHETIC, 1, commit="1234567aaaa")
    after = run_document(SYNTHETIC, 2, commit="89abcdeffff")
    after["results"][CASE]["versions"] = dict(after["results"][CASE]["versions"], mxnet="1.9.2")
    after["results"][CASE]["worker"]["python"]["version"] = "3.11.9"
    assert history_suspects.suspects(*points_around(before, after)) == [
        'commits 1234567..89abcde (latest: "change 89abcdeffff")',
        "mxnet 1.9.1 -> 1.9.2",
        "worker Python 3.11.7 -> 3.11.9",
    ]


def test_suspects_name_the_driver_and_the_gate_tree_and_say_when_nothing_moved():
    before = run_document(SYNTHETIC, 1, machine=P3)
    after = run_document(SYNTHETIC, 2, machine=dict(P3, driver="550.54"))
    after["gate"] = {"head": {"side": "head", "commit": "feedface" * 5}}
    assert history_suspects.suspects(*points_around(before, after)) == [
        "Keras tree commit not recorded -> feedfac",
        "NVIDIA driver 535.104 -> 550.54",
    ]
    same = points_around(run_document(SYNTHETIC, 1), run_document(SYNTHETIC, 2))
    assert history_suspects.suspects(*same) == [history_suspects.NOTHING_RECORDED]


def test_suspects_name_a_change_in_how_the_case_was_measured():
    """0.2.0 made steady thread pools the default: a history across the upgrade must say so,
    not "nothing that the results files record changed"."""
    before = run_document(SYNTHETIC, 1)
    after = run_document(SYNTHETIC, 2)
    worker = after["results"][CASE]["worker"]
    worker["run"] = dict(worker.get("run") or {}, thread_pools="steady")
    worker["inject_slowdown"] = 1.25
    lines = history_suspects.suspects(*points_around(before, after))
    assert "injected slowdown 1.0 -> 1.25" in lines
    assert any(line.startswith("thread pools ") and line.endswith("-> steady") for line in lines)


# -- the commit a run records ----------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_source_section_records_the_checkout_the_run_started_in(tmp_path):
    repo = tmp_path / "keras"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "master")
    git(repo, "config", "user.email", "nightly@example.invalid")
    git(repo, "config", "user.name", "nightly")
    (repo / "rnn.py").write_text("x = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "rnn: faster | unrolled loop")
    section = source_section(repo)
    assert section["commit"] == git(repo, "rev-parse", "HEAD")
    assert section["subject"] == "rnn: faster | unrolled loop"
    assert section["branch"] == "master" and section["dirty"] is False
    committed = datetime.datetime.fromisoformat(section["committed"])
    assert committed.utcoffset() == datetime.timedelta(0)
    (repo / "rnn.py").write_text("x = 2\n")
    source_section.cache_clear()  # asked once per directory and process
    assert source_section(repo)["dirty"] is True
    outside = tmp_path / "plain"
    outside.mkdir()
    assert source_section(outside) == {
        "commit": None,
        "committed": None,
        "subject": None,
        "branch": None,
        "dirty": False,
    }


def test_a_results_document_carries_the_source_and_older_files_are_still_read(tmp_path):
    from pytest_rnnbench.run.devices import GpuInventory
    from pytest_rnnbench.settings import Settings

    document = results_document({}, {}, Settings(), GpuInventory(), started_in=tmp_path)
    assert document["source"]["commit"] is None
    old = run_document(SYNTHETIC, 1)
    assert "source" not in old  # the files in tests/data predate the section
    built = history.build_history([("old.json", old)])
    assert built.runs[built.profiles[0]][0].commit is None
