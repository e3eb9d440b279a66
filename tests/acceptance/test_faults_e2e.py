"""Fault injection (issue 6): every failure is a clear message, and no result or baseline is lost.

Everything here is provoked for real: real pytest processes (pytester), real worker processes
(the TensorFlow backend from .venv where the fault needs a real framework, the stand-ins of
tests/fakes/ where the kind of worker does not matter), real signals, real files. What other
modules already prove is not repeated here; docs/failure-modes.md lists both.

No orphan check trusts the product: each session gets a marker in its environment, which every
worker and every process a worker starts inherits, and the test scans /proc for live processes
that still carry it.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from helpers import (
    DATA_DIR_GIVEN,
    FAKES,
    NIETZSCHE,
    NIETZSCHE_MISSING,
    NIETZSCHE_REAL,
    PYTHON,
    REPO,
    failure_sections,
    make_fake_interpreter,
    start_as_a_foreground_job,
    write_executable,
)
from pytest_rnnbench.run import datasets
from pytest_rnnbench.verdicts import baseline

pytestmark = pytest.mark.slow


MARK = "RNNBENCH_FAULTS_TEST_MARK"


# -- helpers ---------------------------------------------------------------------------------------


def live_processes_marked(marker: str) -> list[int]:
    """Live (not zombie) processes whose environment carries MARK=marker."""
    wanted = f"{MARK}={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        if wanted in environ.split(b"\0") and not re.search(r"^State:\s+Z", status, re.M):
            found.append(int(entry))
    return found


def wait_no_process_marked(marker: str, within_s: float = 10.0) -> list[int]:
    deadline = time.monotonic() + within_s
    while True:
        left = live_processes_marked(marker)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def process_with_cmdline(marker: str, fragment: str) -> list[int]:
    pids = []
    for pid in live_processes_marked(marker):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if fragment in cmdline:
            pids.append(pid)
    return pids


def start_pytest(directory: Path, args: list[str], env: dict, log: Path) -> subprocess.Popen:
    """pytest in a child process whose output the test can watch while it runs. SIGINT is reset
    to its default first, so Python turns it into KeyboardInterrupt even where this test suite
    itself was started with SIGINT ignored (a background job of a non-interactive shell)."""
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [PYTHON, "-m", "pytest", "-p", "no:cacheprovider", *args],
            cwd=directory,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


def wait_for_line(log: Path, pattern: str, proc: subprocess.Popen, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if re.search(pattern, log.read_text(errors="replace"), re.M):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"never saw {pattern!r}:\n{log.read_text(errors='replace')[-3000:]}")


def outcomes(text: str) -> dict[str, int]:
    last = [line for line in text.splitlines() if re.match(r"^=+ .* in [\d.]+s", line)][-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", last)}


@pytest.fixture
def marker(monkeypatch: pytest.MonkeyPatch) -> str:
    """A mark in the environment of every process the test starts (and theirs)."""
    value = uuid.uuid4().hex
    monkeypatch.setenv(MARK, value)
    return value


TF = ["--rnnbench", "--rnnbench-backends=tensorflow", "--rnnbench-datasets=synthetic"]


# -- workers: killed mid-epoch, raising in model build, out of memory ------------------------------


def test_real_worker_killed_mid_epoch_or_failing_in_build_fails_only_its_case(
    plain: pytest.Pytester, marker: str, tmp_path: Path
) -> None:
    """Real TensorFlow workers: b16 raises while Keras builds the model, b32 is SIGKILLed from
    outside during its first timed epoch, b64 trains; the session goes on and nothing is left."""
    python = make_fake_interpreter(tmp_path, FAKES / "build_fault_worker.py")
    log, temp = tmp_path / "pytest.log", tmp_path / "tmp"
    temp.mkdir()
    env = dict(os.environ, FAULT_BUILD_BATCH="16", PYTHONUNBUFFERED="1", TMPDIR=str(temp))
    proc = start_pytest(
        plain.path,
        [
            *TF,
            "--rnnbench-batch-sizes=16,32,64",
            "--rnnbench-unroll=false",
            "--rnnbench-samples=2048",
            "--rnnbench-repeats=2",
            "--rnnbench-save-baseline",
            "--rnnbench-workers=1",  # one worker per case: the one that is killed
            "--rnnbench-json=results.json",
            f"--rnnbench-python=tensorflow={python}",
        ],
        env,
        log,
    )
    try:
        wait_for_line(log, r"tensorflow-gpu0-b32-nounroll-synthetic: epoch 1 of 2", proc, 240)
        time.sleep(0.3)
        (victim,) = process_with_cmdline(marker, "--result-fd")
        os.kill(victim, signal.SIGKILL)
        assert proc.wait(timeout=240) == pytest.ExitCode.TESTS_FAILED
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    # (A save on a loaded machine also warns that its session is left out of judgements.)
    counted = {k: v for k, v in outcomes(text).items() if not k.startswith("warning")}
    assert counted == {"failed": 2, "passed": 1}, text
    sections = failure_sections(text)

    killed = sections["test_lstm[tensorflow-gpu0-b32-nounroll-synthetic]"]
    assert (
        "tensorflow-gpu0-b32-nounroll-synthetic: worker was killed by SIGKILL (the kernel's "
        "out-of-memory killer sends SIGKILL)"
    ) in killed
    assert "--- last lines of the worker's output ---" in killed
    assert "Traceback" not in killed  # a message, not the plugin's own stack

    broken = sections["test_lstm[tensorflow-gpu0-b16-nounroll-synthetic]"]
    assert (
        "tensorflow-gpu0-b16-nounroll-synthetic: worker failed: ValueError: injected fault: "
        "this LSTM refuses to be built"
    ) in broken
    assert "in build_model" in broken  # the worker's traceback is the tail

    document = json.loads((plain.path / "results.json").read_text())
    assert set(document["results"]) == {"tensorflow-gpu0-b64-nounroll-synthetic"}
    assert document["failures"]["tensorflow-gpu0-b32-nounroll-synthetic"].startswith(
        "worker was killed by SIGKILL"
    )
    assert document["failures"]["tensorflow-gpu0-b16-nounroll-synthetic"].startswith(
        "worker failed: ValueError: injected fault"
    )
    assert wait_no_process_marked(marker) == []
    # The full logs of the failed workers are kept, and the summary says where.
    (logs,) = temp.glob("rnnbench-logs-*")
    assert f"rnnbench: the full output of each failed worker is in {logs}" in text
    assert (logs / "tensorflow-gpu0-b32-nounroll-synthetic.log").exists()


def test_memory_cap_from_the_ini_kills_a_real_worker_and_only_fails_its_case(
    plain: pytest.Pytester, fake_python: Path, marker: str
) -> None:
    """Out of memory, provoked safely: a 300 MiB cap (ini key) is far below what TensorFlow
    needs, so the guard kills that worker long before the machine would notice. The jax case
    (tests/fakes/fake_worker.py) stays under the cap and runs."""
    plain.makeini("[pytest]\nrnnbench_max_rss = 300M\n")
    result = plain.runpytest_subprocess(
        "--rnnbench",
        "--rnnbench-backends=tensorflow,jax",
        "--rnnbench-datasets=synthetic",
        "--rnnbench-batch-sizes=1",
        "--rnnbench-samples=256",
        "--rnnbench-save-baseline",
        "--rnnbench-json=results.json",
        f"--rnnbench-python=jax={fake_python}",
    )
    text = result.stdout.str()
    assert result.parseoutcomes() == {"failed": 1, "passed": 1}, text
    section = failure_sections(text)["test_lstm[tensorflow-gpu0-b1-unroll-synthetic]"]
    assert re.search(
        r"tensorflow-gpu0-b1-unroll-synthetic: worker exceeded the memory cap "
        r"--rnnbench-max-rss=300 MiB \(resident [\d,]+ MiB\) and was killed",
        section,
    )
    assert "--- last lines of the worker's output ---" in section
    document = json.loads((plain.path / "results.json").read_text())
    assert set(document["results"]) == {"jax-gpu0-b1-unroll-synthetic"}
    assert "memory cap" in document["failures"]["tensorflow-gpu0-b1-unroll-synthetic"]
    assert wait_no_process_marked(marker) == []


# -- interpreters that cannot run a backend --------------------------------------------------------


def test_broken_interpreters_skip_their_backend_with_one_folded_line_each(
    plain: pytest.Pytester, tmp_path: Path
) -> None:
    """Does not exist, is not Python (asked once: it counts its calls), lacks Keras: each
    backend's three cases skip with the same reason, which -rs folds into one line."""
    calls = tmp_path / "calls"
    not_python = write_executable(
        tmp_path / "not-python",
        f'#!/bin/sh\necho called >> "{calls}"\necho "this is not python" >&2\nexit 1\n',
    )
    no_keras = write_executable(
        tmp_path / "bare-python", '#!/bin/sh\nexec /usr/bin/env python3 -S "$@"\n'
    )
    missing = tmp_path / "no-such-python"
    result = plain.runpytest_subprocess(
        "-rs",
        "--rnnbench",
        "--rnnbench-backends=tensorflow,jax,torch",
        "--rnnbench-datasets=synthetic",
        "--rnnbench-batch-sizes=1,2,3",
        f"--rnnbench-python=tensorflow={no_keras}",
        f"--rnnbench-python=jax={missing}",
        f"--rnnbench-python=torch={not_python}",
    )
    text = result.stdout.str()
    assert result.parseoutcomes() == {"skipped": 9}, text
    skipped = [line for line in text.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 3, text
    assert all(line.startswith("SKIPPED [3] ") for line in skipped), skipped
    result.stdout.fnmatch_lines_random(
        [
            f"SKIPPED [[]3[]] *: tensorflow is not installed in {no_keras}; install it with*",
            f"SKIPPED [[]3[]] *: interpreter '{missing}' for the jax backend does not exist",
            f"SKIPPED [[]3[]] *: '{not_python}' is not a working Python interpreter "
            "(this is not python)",
        ]
    )
    assert "Traceback" not in text and "Error" not in text
    assert calls.read_text().splitlines() == ["called"]  # asked once, not once per case


# -- Ctrl-C ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_kills_the_worker_and_keeps_results_and_baselines(
    plain: pytest.Pytester, fake_python: Path, marker: str, tmp_path: Path, signum: int
) -> None:
    """SIGINT to pytest while the second case's worker (and a child it started) hangs; SIGTERM
    (a cancelled CI job) the same: Python's default would end pytest with no cleanup at all."""
    common = [*TF, f"--rnnbench-python=tensorflow={fake_python}", "--rnnbench-save-baseline"]
    plain.runpytest_subprocess(
        *common, "--rnnbench-batch-sizes=1", "--rnnbench-unroll=false"
    ).assert_outcomes(passed=1)
    (path,) = (plain.path / "baselines").glob("*.json")
    old_entries = by_case(baseline.load(path))
    assert set(old_entries) == {"tensorflow-gpu0-b1-nounroll-synthetic"}

    pidfile, log, temp = tmp_path / "hang-pids.json", tmp_path / "pytest.log", tmp_path / "tmp"
    temp.mkdir()
    env = dict(os.environ, FAKE_PIDFILE=str(pidfile), PYTHONUNBUFFERED="1", TMPDIR=str(temp))
    proc = start_pytest(
        plain.path,
        [*common, "--rnnbench-batch-sizes=1,6,2", "--rnnbench-json=results.json"],
        env,
        log,
    )
    try:
        deadline = time.monotonic() + 60
        while not pidfile.exists() or not pidfile.read_text().endswith("]"):
            assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
            time.sleep(0.05)
        hung = json.loads(pidfile.read_text())
        proc.send_signal(signum)
        assert proc.wait(timeout=60) == pytest.ExitCode.INTERRUPTED
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert "KeyboardInterrupt" in text
    # The hung worker and the child it started carry the mark, as every process of the run.
    assert len(hung) == 2
    assert wait_no_process_marked(marker) == [], "a worker or its child outlived Ctrl-C"
    # What was measured before the interrupt is in the results file; nothing after it ran.
    document = json.loads((plain.path / "results.json").read_text())
    assert set(document["results"]) == {"tensorflow-gpu0-b1-unroll-synthetic"}
    # The baseline file holds the old entry and the one saved before the interrupt.
    entries = by_case(baseline.load(path))
    assert set(entries) == {
        "tensorflow-gpu0-b1-nounroll-synthetic",
        "tensorflow-gpu0-b1-unroll-synthetic",
    }
    assert (
        entries["tensorflow-gpu0-b1-nounroll-synthetic"]
        == old_entries["tensorflow-gpu0-b1-nounroll-synthetic"]
    )
    leftovers = [p.name for p in plain.path.rglob("*.tmp")]
    assert leftovers == []
    assert list(temp.iterdir()) == []  # no failed worker: its log directory is gone too


def by_case(entries: dict) -> dict:
    """Baseline entries by case id (the file keys them by case and workload; these tests
    record one workload per case)."""
    return {entry["case"]["id"]: entry for entry in entries.values()}


SAVER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    from pathlib import Path
    from pytest_rnnbench.verdicts import baseline
    profile = baseline.machine_profile("cpu", 2, [], None, None, "3.11")
    entries = {{}}
    for i in range({count}):
        case_id = "tensorflow-gpu0-b%d-unroll-synthetic" % (5000 + i)
        case = {{"id": case_id, "backend": "tensorflow", "gpus": 0, "batch_size": 5000 + i,
                "unroll": True, "dataset": "synthetic"}}
        samples = [float(j % 97) + 0.5 for j in range({samples})]
        entry = baseline.make_entry(case, {{"samples": 1}}, {{"step_time": samples}})
        entries[baseline.key_of(entry)] = entry
    print("saving", flush=True)
    baseline.save(Path({path!r}), profile, entries)
    print("saved", flush=True)
""")


def test_ctrl_c_during_a_baseline_save_leaves_the_old_file_intact(tmp_path: Path) -> None:
    """A big save, interrupted with SIGINT at spread-out moments (while reading the old file,
    merging, writing the new one): afterwards the file is always valid JSON holding every old
    entry, either without the new ones or with all of them. The moments are fractions of how long
    one save takes on this machine (timed first), so a fast machine still interrupts
    most of them."""
    profile = baseline.machine_profile("cpu", 2, [], None, None, "3.11")
    path = baseline.baseline_path(tmp_path / "baselines", profile)
    old = {}
    for i in range(150):
        case_id = f"jax-gpu0-b{i + 1}-unroll-synthetic"
        case = {
            "id": case_id,
            "backend": "jax",
            "gpus": 0,
            "batch_size": i + 1,
            "unroll": True,
            "dataset": "synthetic",
        }
        entry = baseline.make_entry(
            case, {"samples": 1}, {"step_time": [1.0 + j % 13 for j in range(2000)]}
        )
        old[baseline.key_of(entry)] = entry
    baseline.save(path, profile, old)
    script = tmp_path / "saver.py"
    script.write_text(SAVER.format(repo=str(REPO), path=str(path), count=150, samples=2000))
    interrupted = 0
    save_seconds = _timed_save(path, script)
    fractions = (0.0, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 1.5)
    for delay in [*(save_seconds * f for f in fractions), None]:
        with subprocess.Popen(
            [PYTHON, str(script)],
            stdout=subprocess.PIPE,
            text=True,
            stderr=subprocess.DEVNULL,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        ) as proc:
            assert proc.stdout.readline() == "saving\n"
            if delay is not None:
                time.sleep(delay)
                proc.send_signal(signal.SIGINT)
            rest = proc.stdout.read()
            code = proc.wait(timeout=60)
        interrupted += "saved" not in rest
        assert code == 0 or "saved" not in rest or delay is not None
        entries = baseline.load(path, profile)  # valid, or this raises
        new = set(entries) - set(old)
        assert set(old) <= set(entries)
        assert {entries[key]["case"]["id"] for key in new} in (
            set(),
            {f"tensorflow-gpu0-b{5000 + i}-unroll-synthetic" for i in range(150)},
        )
        if delay is None:
            assert code == 0 and len(new) == 150
        assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert interrupted >= 4, "too few saves were interrupted to prove anything; slow the saver"


def _timed_save(path: Path, script: Path) -> float:
    """Seconds from the saver's "saving" to its exit, one save run to the end; the file is put
    back as it was, so the interrupted saves start from the same old entries."""
    original = path.read_bytes()
    with subprocess.Popen([PYTHON, str(script)], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout.readline() == "saving\n"
        start = time.monotonic()
        assert "saved" in proc.stdout.read()
        assert proc.wait(timeout=60) == 0
        seconds = time.monotonic() - start
    path.write_bytes(original)
    return seconds


# -- baseline files, end to end --------------------------------------------------------------------


def _break(kind: str, good: str) -> tuple[str, str]:
    """(broken text, what the message must say) from a good baseline file's text."""
    document = json.loads(good)
    (entry,) = document["entries"].values()
    if kind == "empty":
        return "", "empty"
    if kind == "not JSON":
        return "<html>502 Bad Gateway</html>", "truncated or not JSON"
    if kind == "wrong version":
        document["version"] = 0
        problem = "format version 0 is not supported"
    elif kind == "newer version":
        document["version"] = 99
        problem = "format version 99 was written by a newer pytest-rnnbench"
    elif kind == "missing fields":
        del entry["metrics"], entry["recorded"]
        problem = "lacks recorded, metrics"
    elif kind == "non-numeric metric":
        entry["metrics"]["step_time"]["samples"][0] = "fast"
        problem = "has a sample 'fast' that is not a finite number"
    elif kind == "another machine":
        document["profile"]["cpus"] += 62
        problem = "recorded for another machine profile"
    return json.dumps(document, indent=1), problem


def test_a_save_into_a_folder_it_cannot_write_is_refused_before_any_case_runs(
    plain: pytest.Pytester, fake_python: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found after every case's measurement, it failed each case with a traceback. In process,
    so that root (whom permission bits do not stop) can be shown the folder as others see it."""
    folder = plain.path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        real_access = os.access

        def access(path, mode, *args, **kwargs):
            if Path(path) == folder and mode & os.W_OK:
                return False
            return real_access(path, mode, *args, **kwargs)

        monkeypatch.setattr(os, "access", access)
    refused = plain.runpytest(
        *TF,
        "--rnnbench-batch-sizes=1",
        f"--rnnbench-python=tensorflow={fake_python}",
        "--rnnbench-save-baseline",
        f"--rnnbench-baseline-dir={folder}",
    )
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(
        [f"ERROR: --rnnbench-save-baseline: cannot write {folder}/*.json: {folder} is not writable"]
    )
    assert list(folder.iterdir()) == []


def test_an_output_that_fails_at_the_end_keeps_the_others_and_fails_the_run(
    plain: pytest.Pytester, fake_python: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job summary (from the environment, so not checked before the run) is a folder: it
    raised in the terminal summary, a traceback, exit 1, and the comment after it was lost."""
    folder = plain.path / "summary-folder"
    folder.mkdir()
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(folder))
    ran = plain.runpytest_subprocess(
        *TF,
        "--rnnbench-batch-sizes=1",
        "--rnnbench-unroll=true",
        f"--rnnbench-python=tensorflow={fake_python}",
        "--rnnbench-comment=comment.md",
    )
    assert ran.ret == pytest.ExitCode.INTERNAL_ERROR
    ran.stdout.fnmatch_lines(
        [
            "rnnbench: pull-request comment written to *comment.md",
            f"rnnbench: error: job summary not written to {folder} ($GITHUB_STEP_SUMMARY): *",
        ]
    )
    assert (plain.path / "comment.md").read_text().startswith("<!-- ")
    assert "Traceback" not in ran.stdout.str() + ran.stderr.str()


def test_a_case_that_fails_after_its_measurement_is_a_failure_in_the_results_file(
    plain: pytest.Pytester, fake_python: Path
) -> None:
    """Its result was recorded, so its failure was not: the comment then left the case out."""
    common = [*TF, "--rnnbench-batch-sizes=1", f"--rnnbench-python=tensorflow={fake_python}"]
    plain.runpytest_subprocess(*common, "--rnnbench-save-baseline").assert_outcomes(passed=1)
    plain.makepyfile(
        test_bench="import pytest\n\n@pytest.mark.rnnbench(tolerance_speed=0.1)\n"
        "def test_lstm(rnnbench):\n    rnnbench()\n"
    )
    judged = plain.runpytest_subprocess(*common, "--rnnbench-json=r.json", "test_bench.py")
    judged.assert_outcomes(failed=1)
    document = json.loads((plain.path / "r.json").read_text())
    assert "tensorflow-gpu0-b1-unroll-synthetic" in document["results"]
    (cause,) = document["failures"].values()
    assert cause.startswith("@pytest.mark.rnnbench: unknown argument tolerance_speed=0.1")


def test_broken_baseline_files_are_named_never_overwritten_and_kept_aside_when_saving(
    plain: pytest.Pytester, fake_python: Path
) -> None:
    common = [*TF, "--rnnbench-batch-sizes=1", f"--rnnbench-python=tensorflow={fake_python}"]
    plain.runpytest_subprocess(*common, "--rnnbench-save-baseline").assert_outcomes(passed=1)
    (path,) = (plain.path / "baselines").glob("*.json")
    good = path.read_text()
    for kind in (
        "empty",
        "not JSON",
        "wrong version",
        "missing fields",
        "non-numeric metric",
        "another machine",
        "newer version",
    ):
        broken, problem = _break(kind, path.read_text())
        path.write_text(broken)
        checked = plain.runpytest_subprocess(*common)
        assert checked.ret == pytest.ExitCode.USAGE_ERROR, kind
        checked.stderr.fnmatch_lines([f"ERROR: baseline file {path}: *{problem}*"])
        assert "Not replaced" not in checked.stderr.str()  # a judged run replaces nothing
        assert path.read_text() == broken, f"{kind}: a check run changed the file"
        if kind in ("another machine", "newer version"):  # not broken: refused, never set aside
            refused = plain.runpytest_subprocess(*common, "--rnnbench-save-baseline")
            assert refused.ret == pytest.ExitCode.USAGE_ERROR, kind
            refused.stderr.fnmatch_lines([f"ERROR: baseline file {path}: *{problem}*Not replaced*"])
            assert path.read_text() == broken and not list(path.parent.glob("*.broken-*"))
            path.write_text(good)
            continue
        saved = plain.runpytest_subprocess(*common, "--rnnbench-save-baseline")
        saved.assert_outcomes(passed=1, warnings=1)
        saved.stdout.fnmatch_lines(
            [
                f"*the old baseline file was unusable (baseline file {path}:"
                f" *{problem}*); it was renamed to *.broken-*"
            ]
        )
        (aside,) = path.parent.glob(path.name + ".broken-*")
        assert aside.read_text() == broken, kind
        assert set(by_case(baseline.load(path))) == {"tensorflow-gpu0-b1-unroll-synthetic"}
        aside.rename(path.parent / f"kept-{kind}.txt")  # so the next kind's aside is the only one


# -- datasets --------------------------------------------------------------------------------------


@pytest.fixture
def needs_nietzsche() -> None:
    """The published text itself (an offline copy or a verified download), never a made
    stand-in: without it the test skips, but an offline copy handed in through RNNBENCH_DATA_DIR
    that is missing or wrong is a broken setup and fails it (helpers.py)."""
    if NIETZSCHE_REAL is None:
        if DATA_DIR_GIVEN:
            pytest.fail(NIETZSCHE_MISSING)
        pytest.skip(NIETZSCHE_MISSING)


def _snapshot(directory: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.mark.usefixtures("needs_nietzsche")
def test_a_bad_dataset_file_fails_its_cases_clearly_and_good_caches_survive(
    plain: pytest.Pytester, fake_python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong file in the data dir fails the nietzsche cases with one message (no traceback),
    is never used, and the good download and prepared caches are left exactly as they were.
    A data dir that does not exist skips the cases saying which."""
    cache = tmp_path / "cache"
    (cache / "downloads").mkdir(parents=True)
    shutil.copy(NIETZSCHE, cache / "downloads" / "nietzsche.txt")
    datasets.worker_spec("nietzsche", None, cache)  # a good prepared cache
    before = _snapshot(cache)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    bad = data_dir / "nietzsche.txt"
    bad.write_bytes(NIETZSCHE.read_bytes()[:300_000])  # an interrupted copy
    common = [
        "--rnnbench",
        "--rnnbench-backends=tensorflow",
        "--rnnbench-datasets=synthetic,nietzsche",
        "--rnnbench-batch-sizes=1,2",
        f"--rnnbench-cache-dir={cache}",
        "--rnnbench-json=results.json",
        "--rnnbench-save-baseline",
        f"--rnnbench-python=tensorflow={fake_python}",
    ]
    monkeypatch.setenv("FAKE_MODE", "ok")
    result = plain.runpytest_subprocess(*common, f"--rnnbench-data-dir={data_dir}")
    # The results file keeps them as failures, not as cases that never were: a reader
    # (compare, the history) must not take the run for complete.
    failures = json.loads((plain.path / "results.json").read_text())["failures"]
    missing = plain.runpytest_subprocess(
        "-rs", *common, f"--rnnbench-data-dir={tmp_path / 'nowhere'}"
    )
    text = result.stdout.str()
    assert result.parseoutcomes() == {"failed": 2, "passed": 2}, text
    for section in failure_sections(text).values():
        assert f"nietzsche: {bad} has sha256 " in section
        assert "(300,000 of 600,901 bytes: truncated?); the file was not used" in section
        assert "Traceback" not in section
    assert sorted(failures) == [
        "tensorflow-gpu0-b1-unroll-nietzsche",
        "tensorflow-gpu0-b2-unroll-nietzsche",
    ], failures
    assert all(f"nietzsche: {bad} has sha256 " in cause for cause in failures.values()), failures
    assert bad.read_bytes() == NIETZSCHE.read_bytes()[:300_000]
    assert _snapshot(cache) == before, "a good cache was changed"
    # A cache dir that cannot be made (a file is in the way): one clear failure, no traceback.
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("in the way")
    blocked = plain.runpytest_subprocess(
        *common, f"--rnnbench-cache-dir={blocker}", f"--rnnbench-data-dir={NIETZSCHE.parent}"
    )
    blocked.assert_outcomes(passed=2, failed=2)
    for section in failure_sections(blocked.stdout.str()).values():
        assert f"nietzsche: cannot prepare the data in {blocker}: " in section
        assert "Traceback" not in section
    # A data dir that does not exist is no reason to skip: the cache's verified copy serves, and
    # the header says where the file will come from.
    missing.assert_outcomes(passed=4)
    missing.stdout.fnmatch_lines(
        [
            f"rnnbench: the data directory {tmp_path / 'nowhere'} does not exist: nietzsche.txt "
            "will come from the cache or a verified download"
        ]
    )
    assert _snapshot(cache) == before


UNREADABLE_CHILD = textwrap.dedent("""
    import json, os, sys
    sys.path.insert(0, {repo!r})
    from pathlib import Path
    import numpy.lib.format, zipfile  # what np.load needs, imported before the privileges go
    from pytest_rnnbench.run import datasets
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    try:
        spec = datasets.worker_spec("nietzsche", {data_dir}, Path({cache!r}))
        print(json.dumps({{"spec": spec}}))
    except Exception as exc:
        print(json.dumps({{"error": type(exc).__name__, "message": str(exc)}}))
""")


@pytest.mark.usefixtures("needs_nietzsche")
@pytest.mark.parametrize("which", ["prepared cache", "download cache"])
@pytest.mark.parametrize("how", ["no read permission", "a directory"])
def test_an_unreadable_cache_is_reported_left_in_place_and_never_used(which: str, how: str) -> None:
    """Root reads anything, so "no read permission" runs the lookup in a child that drops to
    the nobody user first (root only sets the scene); "a directory" needs no privileges."""
    top = Path(tempfile.mkdtemp(prefix="rnnbench-unreadable-"))
    try:
        top.chmod(0o755)
        cache = top / "cache"
        (cache / "downloads").mkdir(parents=True)
        shutil.copy(NIETZSCHE, cache / "downloads" / "nietzsche.txt")
        prepared = Path(datasets.worker_spec("nietzsche", None, cache)["path"])
        root = os.geteuid() == 0
        if root:  # the child drops to nobody: let it use everything but the target
            for path in [top, *top.rglob("*")]:
                os.chown(path, 65534, 65534)
        target = prepared if which == "prepared cache" else cache / "downloads" / "nietzsche.txt"
        if how == "a directory":
            target.unlink()
            target.mkdir()
            (target / "inside").write_text("kept")
        else:
            if root:
                os.chown(target, 0, 0)
            target.chmod(0)
        before = _snapshot(cache)
        child = UNREADABLE_CHILD.format(repo=str(REPO), cache=str(cache), data_dir=None)
        done = subprocess.run([PYTHON, "-c", child], capture_output=True, text=True, timeout=120)
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        assert answer.get("error") == "DataUnreadable", (answer, done.stderr)
        reason = "Is a directory" if how == "a directory" else "Permission denied"
        assert (
            f"cannot read {'the prepared cache ' if which == 'prepared cache' else ''}"
            f"{target}: {reason}" in answer["message"]
        )
        assert "it was not used and was left in place" in answer["message"]
        assert _snapshot(cache) == before  # nothing moved, replaced, rebuilt or deleted
        assert not list(cache.rglob("*.corrupt"))
    finally:
        shutil.rmtree(top, ignore_errors=True)


# -- concurrency -----------------------------------------------------------------------------------


def test_concurrent_sessions_and_xdist_workers_saving_one_profile_lose_nothing(
    plain: pytest.Pytester, fake_python: Path, tmp_path: Path
) -> None:
    """Per round, two pytest sessions and one pytest-xdist session (2 workers) save 10 cases
    each into the same profile file at the same time; after every round the file is valid and
    holds every case ever saved. (tests/unit/test_baseline.py hammers baseline.save itself: 6
    processes x 25 saves.)"""
    where = tmp_path / "baselines"
    env = dict(os.environ, FAKE_MODE="ok")
    expected: set[str] = set()
    for round_ in range(3):
        procs = []
        for session in range(3):
            sizes = [1000 * (round_ + 1) + 100 * session + i for i in range(10)]
            expected |= {f"tensorflow-gpu0-b{s}-unroll-synthetic" for s in sizes}
            args = [
                *TF,
                "--rnnbench-batch-sizes=" + ",".join(map(str, sizes)),
                f"--rnnbench-python=tensorflow={fake_python}",
                "--rnnbench-save-baseline",
                f"--rnnbench-baseline-dir={where}",
                "-q",
            ]
            if session == 2:
                args += ["-n", "2"]
            log = tmp_path / f"round{round_}-session{session}.log"
            procs.append((start_pytest(plain.path, args, env, log), log))
        for proc, log in procs:
            assert proc.wait(timeout=120) == 0, log.read_text()[-3000:]
        (path,) = where.glob("*.json")
        json.loads(path.read_text())
        assert set(by_case(baseline.load(path))) == expected
        assert [p.name for p in where.iterdir() if p.name.endswith(".tmp")] == []


# Kills its pytest-xdist worker "gw0" (SIGKILL: no hook runs, nothing is handed over) as that
# worker starts its second case; the replacement worker, gw2, runs the rest.
KILL_GW0_AT_SECOND_CASE = textwrap.dedent("""
    import os
    import signal

    started = []

    def pytest_runtest_setup(item):
        started.append(item.nodeid)
        if os.environ.get("PYTEST_XDIST_WORKER") == "gw0" and len(started) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
""")


def _xdist_args(sizes: list[int], fake_python: Path, results: Path) -> list[str]:
    """A session of one fake TensorFlow case per batch size on two pytest-xdist workers."""
    return [
        *TF,
        "--rnnbench-batch-sizes=" + ",".join(map(str, sizes)),
        f"--rnnbench-python=tensorflow={fake_python}",
        f"--rnnbench-json={results}",
        "-n",
        "2",
        "-rA",
    ]


def test_under_xdist_a_failed_case_says_where_its_workers_full_output_is(
    plain: pytest.Pytester, fake_python: Path, tmp_path: Path
) -> None:
    """The controller's summary cannot name an xdist worker's log folder: the failure does."""
    args = _xdist_args([1001, 1002], fake_python, tmp_path / "results.json")
    log = tmp_path / "xdist.log"
    start_pytest(plain.path, args, dict(os.environ, FAKE_MODE="raise"), log).wait(timeout=120)
    # Each case's failure says it (-rA repeats it in the summary): both cases' logs are found.
    folders = set(re.findall(r"^full output: (\S+)$", log.read_text(), re.M))
    assert folders, log.read_text()[-3000:]
    logs = {found.name for folder in folders for found in Path(folder).glob("*.log")}
    assert {f"tensorflow-gpu0-b{size}-unroll-synthetic.log" for size in (1001, 1002)} <= logs


def test_an_xdist_worker_killed_mid_run_keeps_its_finished_cases_in_the_results_file(
    plain: pytest.Pytester, fake_python: Path, tmp_path: Path
) -> None:
    """The controller writes the results file from what each xdist worker hands it at its end;
    a worker killed before then still leaves the cases it finished (its share, kept beside the
    file after every case), and no share file stays behind."""
    plain.makeconftest(KILL_GW0_AT_SECOND_CASE)
    results = tmp_path / "out" / "results.json"
    sizes = [1000 + i for i in range(6)]
    args = _xdist_args(sizes, fake_python, results)
    log = tmp_path / "xdist.log"
    proc = start_pytest(plain.path, args, dict(os.environ, FAKE_MODE="ok"), log)
    proc.wait(timeout=120)
    text = log.read_text()
    assert "node down" in text, text[-3000:]
    passed = set(re.findall(r"^PASSED \S+\[(\S+)\]", text, re.M))
    assert len(passed) == len(sizes) - 1, text[-3000:]  # all but the one gw0 died in
    document = json.loads(results.read_text())
    assert set(document["results"]) == passed
    # Said as xdist says it, not as its report's first line ("in its ???: [gw0] linux -- ...").
    (cause,) = document["failures"].values()
    assert cause.startswith("worker 'gw0' crashed while running "), cause
    assert sorted(p.name for p in results.parent.iterdir()) == ["results.json"]


# Each pytest-xdist worker, at the start of its third case, says so in a file and waits there: two
# cases finished on each, the test then presses Ctrl-C (SIGINT to the whole process group).
HOLD_AT_THIRD_CASE = textwrap.dedent("""
    import os
    import time
    from pathlib import Path

    started = []

    def pytest_runtest_setup(item):
        started.append(item.nodeid)
        if len(started) == 3:
            Path(os.environ["HOLD_DIR"], os.environ["PYTEST_XDIST_WORKER"]).write_text("")
            time.sleep(120)
""")


def test_ctrl_c_under_xdist_keeps_every_workers_finished_cases_in_the_results_file(
    plain: pytest.Pytester, fake_python: Path, tmp_path: Path
) -> None:
    """Ctrl-C stops the controller's loop before it hears its workers end: their shares, kept
    beside the file after every case, are what it writes from; none stays behind."""
    plain.makeconftest(HOLD_AT_THIRD_CASE)
    results, hold = tmp_path / "out" / "results.json", tmp_path / "hold"
    hold.mkdir()
    results.parent.mkdir()
    results.write_text("the previous run's file")
    args = _xdist_args([1000 + i for i in range(8)], fake_python, results)
    log = tmp_path / "xdist.log"
    env = dict(os.environ, FAKE_MODE="ok", HOLD_DIR=str(hold))
    with open(log, "wb") as out:
        proc = start_as_a_foreground_job(
            [PYTHON, "-m", "pytest", "-p", "no:cacheprovider", *args],
            cwd=plain.path, stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    deadline = time.monotonic() + 120
    while len(list(hold.iterdir())) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert len(list(hold.iterdir())) == 2, log.read_text()[-3000:]
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=60)
    text = log.read_text()
    written = json.loads(results.read_text())["results"]
    finished = {f"tensorflow-gpu0-b{size}-unroll-synthetic" for size in range(1000, 1008)}
    assert len(written) == 4 and set(written) <= finished, (sorted(written), text[-3000:])
    assert sorted(p.name for p in results.parent.iterdir()) == ["results.json"]


def test_ctrl_c_under_xdist_before_any_case_ends_is_not_said_to_have_selected_none(
    plain: pytest.Pytester, fake_python: Path, tmp_path: Path
) -> None:
    """The controller collects nothing itself: interrupted before it heard of a case, it said
    "no benchmark case was selected (no test here uses the rnnbench fixture)"."""
    plain.makeconftest(HOLD_AT_THIRD_CASE.replace("len(started) == 3", "len(started) == 1"))
    hold = tmp_path / "hold"
    hold.mkdir()
    args = _xdist_args([1000, 1001, 1002, 1003], fake_python, tmp_path / "results.json")
    log = tmp_path / "xdist.log"
    with open(log, "wb") as out:
        proc = start_as_a_foreground_job(
            [PYTHON, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=plain.path,
            stdout=out, stderr=subprocess.STDOUT,
            env=dict(os.environ, FAKE_MODE="ok", HOLD_DIR=str(hold)),
        )  # fmt: skip
    deadline = time.monotonic() + 120
    while len(list(hold.iterdir())) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=60) == pytest.ExitCode.INTERRUPTED
    text = log.read_text()
    assert "KeyboardInterrupt" in text and "no benchmark case was selected" not in text, text


def test_a_sigterm_to_the_xdist_controller_alone_keeps_what_its_workers_finished(
    plain: pytest.Pytester, fake_python: Path, tmp_path: Path
) -> None:
    """A cancelled job that signals pytest's pid only: the workers go on until torn down, and
    their shares, rewritten meanwhile, were collected before that (cases lost, shares left)."""
    results = tmp_path / "out" / "results.json"
    args = _xdist_args([1000 + i for i in range(12)], fake_python, results)
    log = tmp_path / "xdist.log"
    proc = start_pytest(plain.path, args, dict(os.environ, FAKE_MODE="ok"), log)
    deadline = time.monotonic() + 120
    while not list(results.parent.glob(".results.json.*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == pytest.ExitCode.INTERRUPTED
    text = log.read_text()
    passed = set(re.findall(r"^PASSED \S+\[(\S+)\]", text, re.M))
    assert sorted(p.name for p in results.parent.iterdir()) == ["results.json"], text[-3000:]
    written = set(json.loads(results.read_text())["results"])
    assert written and passed <= written, (sorted(written), sorted(passed), text[-3000:])


def test_a_run_killed_before_its_first_case_leaves_no_earlier_runs_file_as_its_own(
    plain: pytest.Pytester, fake_python: Path, tmp_path: Path
) -> None:
    """The results file is the run's from its start: a reader of a killed run's file (compare,
    the history) sees a run that measured nothing, not yesterday's cases."""
    plain.makeconftest(
        "import os, signal\n"
        "def pytest_runtest_setup(item):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    results = tmp_path / "results.json"
    results.write_text('{"the previous run": true}')
    args = [*TF, f"--rnnbench-python=tensorflow={fake_python}", f"--rnnbench-json={results}"]
    proc = start_pytest(plain.path, args, dict(os.environ, FAKE_MODE="ok"), tmp_path / "log")
    assert proc.wait(timeout=120) == -signal.SIGKILL
    document = json.loads(results.read_text())
    assert document["schema"] == "pytest-rnnbench/results" and document["results"] == {}


# -- security --------------------------------------------------------------------------------------


class _Trap:
    """Unpickling this creates a file: the proof that something unpickled it."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickles_in_baselines_results_and_caches_are_refused_unopened(
    plain: pytest.Pytester, fake_python: Path, tmp_path: Path
) -> None:
    trap = tmp_path / "unpickled"
    payload = pickle.dumps(_Trap(trap), protocol=0)
    # A baseline file holding a pickle.
    plain.runpytest_subprocess(
        *TF,
        "--rnnbench-batch-sizes=1",
        "--rnnbench-save-baseline",
        f"--rnnbench-python=tensorflow={fake_python}",
    ).assert_outcomes(passed=1)
    (path,) = (plain.path / "baselines").glob("*.json")
    path.write_bytes(payload)
    result = plain.runpytest_subprocess(
        *TF, "--rnnbench-batch-sizes=1", f"--rnnbench-python=tensorflow={fake_python}"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: baseline file {path}: truncated or not JSON*"])
    # A results file holding a pickle, given to the offline tools.
    results = tmp_path / "results.json"
    results.write_bytes(payload)
    for command in (["report", str(results)], ["compare", str(results), str(results)]):
        done = subprocess.run(
            [PYTHON, "-m", "pytest_rnnbench", *command],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
        assert done.returncode == 2 and str(results) in done.stderr, done.stderr
        assert "not a JSON file" in done.stderr
    # A prepared dataset cache whose array holds a pickled object: treated as damage, rebuilt.
    archive_cache = tmp_path / "cache"
    sha = "f" * 64
    prepared = archive_cache / "prepared" / f"nietzsche-{sha[:16]}-f{datasets.PREPARED_FORMAT}.npz"
    prepared.parent.mkdir(parents=True)
    with open(prepared, "wb") as handle:
        np.savez(handle, x=np.array([_Trap(trap)], dtype=object), y=np.zeros(1), vocab=np.array(3))
    text_file = tmp_path / "text.txt"
    text_file.write_text("abcdefghijklmnopqrstuvwxyz0123456789 .,;!?xyz" * 4)
    path_, vocab, samples = datasets.prepare_text("nietzsche", text_file, archive_cache, sha)
    assert path_ == prepared and samples > 0
    assert (prepared.parent / (prepared.name + ".corrupt")).exists()
    assert not trap.exists(), "something unpickled a file's content"


def test_paths_in_files_never_escape_their_directory(
    plain: pytest.Pytester, fake_python: Path, tmp_path: Path
) -> None:
    """Case ids and profile fields read from a baseline file, and case names read from a results
    file, are data: saving, renaming aside and drawing charts write only where they should."""
    common = [
        *TF,
        "--rnnbench-batch-sizes=1",
        f"--rnnbench-python=tensorflow={fake_python}",
        "--rnnbench-baseline-dir=deep/er/baselines",
        "--rnnbench-save-baseline",
        "-p",
        "no:cacheprovider",
    ]
    plain.runpytest_subprocess(*common).assert_outcomes(passed=1)
    directory = plain.path / "deep" / "er" / "baselines"
    (path,) = directory.glob("*.json")
    document = json.loads(path.read_text())
    (entry,) = document["entries"].values()
    evil_id = "../../../escaped"
    evil = baseline.entry_key(evil_id, entry["samples"], entry["repeats"])
    document["entries"][evil] = dict(entry, case=dict(entry["case"], id=evil_id))
    path.write_text(json.dumps(document))

    def outside() -> set[Path]:  # (pytester keeps each run's temporary directory, runpytest-N)
        return {
            p
            for p in plain.path.rglob("*")
            if directory not in p.parents
            and not p.relative_to(plain.path).parts[0].startswith("runpytest-")
        }

    before = outside()

    plain.runpytest_subprocess(*common).assert_outcomes(passed=1)  # merges, keeps the odd entry
    assert evil in baseline.load(path)
    document = json.loads(path.read_text())
    document["profile"]["cpu"] = "../../../escaped"
    path.write_text(json.dumps(document))
    # Another profile's file now: refused, left as it is, and nothing written anywhere.
    assert plain.runpytest_subprocess(*common).ret == pytest.ExitCode.USAGE_ERROR
    assert list(directory.glob("*.broken-*")) == []
    assert outside() == before

    # A results file naming a dataset (which becomes part of chart file names) with a path.
    results = tmp_path / "results.json"
    good = {
        "schema": "pytest-rnnbench/results",
        "version": 1,
        "machine": {"cpu": "x", "cpus": 2, "gpus": []},
        "results": {
            "tensorflow-gpu0-b1-unroll-synthetic": {
                "epoch_seconds": 1.0,
                "samples": 8,
                "worker": {
                    "case": {
                        "backend": "tensorflow",
                        "gpus": 0,
                        "batch_size": 1,
                        "unroll": True,
                        "dataset": "../../../escaped",
                    }
                },
            }
        },
    }
    results.write_text(json.dumps(good))
    plots = tmp_path / "a" / "b" / "plots"
    done = subprocess.run(
        [
            PYTHON,
            "-m",
            "pytest_rnnbench",
            "report",
            str(results),
            "--plots",
            str(plots),
            "-o",
            str(tmp_path / "report.md"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert (
        f"{results}: case 'tensorflow-gpu0-b1-unroll-synthetic': dataset "
        "'../../../escaped' is not a plain name"
    ) in done.stderr
    assert not list(tmp_path.rglob("*escaped*"))
