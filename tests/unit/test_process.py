"""The worker runner (run/process.py): workers that fail, hang or are missing, with real
subprocesses (issue 2).

The interpreters handed to the runner are small wrapper scripts running a stand-in from
tests/fakes/ (mostly fake_worker.py): they run the product's own worker module with `train`
replaced by a behaviour picked per case.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import FAKES, wait_gone, write_executable
from pytest_rnnbench.run import process
from pytest_rnnbench.run.probe import probe_backend
from pytest_rnnbench.run.process import Worker, WorkerError, WorkerUnsupported, run_worker


def request_for(backend: str = "tensorflow", batch_size: int = 1, protocol: int = 1) -> dict:
    case = {
        "id": f"{backend}-gpu0-b{batch_size}-unroll-synthetic",
        "backend": backend,
        "gpus": 0,
        "batch_size": batch_size,
        "unroll": True,
        "dataset": "synthetic",
    }
    return {
        "protocol": protocol,
        "case": case,
        "repeats": 1,
        "seed": 1234,
        "data": {
            "kind": "synthetic",
            "samples": 64,
            "cap": 64,
            "timesteps": 40,
            "features": 60,
            "seed": 1234,
        },
    }


@pytest.fixture
def call(fake_python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """run_worker on the fake interpreter in one mode."""

    def run(mode: str, timeout_s: float = 60.0, **kwargs):
        env = dict(os.environ, FAKE_MODE=mode, FAKE_PIDFILE=str(tmp_path / "pids.json"))
        return run_worker(
            str(fake_python),
            request_for(),
            env,
            timeout_s,
            tmp_path / "logs" / f"{mode}.log",
            **kwargs,
        )

    return run


# -- run_worker, directly --------------------------------------------------------------------------


def test_a_good_worker_returns_its_result_and_messages(call) -> None:
    seen: list[dict] = []
    run = call("ok", on_message=seen.append)
    assert run.returncode == 0
    assert run.result["final_loss"] == 1.5
    assert [m["type"] for m in run.messages] == ["started", "result"]
    assert seen == run.messages
    assert run.messages[0]["pid"] > 0


def test_a_display_that_raises_does_not_fail_the_case(call) -> None:
    """The progress display runs on the reply reader's thread: its error (a closed terminal)
    must not end the reader, whose closed pipe would then kill the worker mid-case."""

    def broken_display(message: dict) -> None:
        raise OSError("the terminal is gone")

    run = call("ok", on_message=broken_display)
    assert run.returncode == 0 and run.result["final_loss"] == 1.5


@pytest.mark.parametrize(
    "mode, cause",
    [
        (
            "sigkill",
            "worker was killed by SIGKILL (the kernel's out-of-memory killer sends SIGKILL)",
        ),
        ("exit", "worker exited with code 7"),
        ("silent", "worker exited without sending a result"),
        ("garbage", "worker broke the protocol: unreadable reply 'this is not json\\n'"),
        ("unknown-type", "worker broke the protocol: unknown reply"),
        # An unhashable type and a nesting too deep to decode: a protocol error, not a reader
        # thread that dies and closes the pipe (the worker then kills itself: "SIGKILL").
        (
            "malformed",
            'worker broke the protocol: unknown reply \'{"v": 1, "type": []}\\n\'; '
            "unreadable reply '[[[",
        ),
    ],
)
def test_a_failing_worker_raises_with_the_cause_and_its_output(call, mode: str, cause: str) -> None:
    with pytest.raises(WorkerError) as excinfo:
        call(mode)
    assert excinfo.value.cause.startswith(cause)
    assert (
        f"fake worker output: case tensorflow-gpu0-b1-unroll-synthetic mode {mode}"
        in excinfo.value.tail
    )
    assert "--- last lines of the worker's output ---" in str(excinfo.value)


def test_an_exception_in_the_worker_comes_back_with_its_traceback(call) -> None:
    with pytest.raises(WorkerError) as excinfo:
        call("raise")
    assert excinfo.value.cause == (
        "worker failed: RuntimeError: fake failure in tensorflow-gpu0-b1-unroll-synthetic"
    )
    assert "Traceback (most recent call last)" in excinfo.value.tail
    assert "in fake_train" in excinfo.value.tail


@pytest.mark.slow  # waits out a 2 s timeout
def test_a_hanging_worker_is_killed_at_the_timeout_with_its_children(call, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(WorkerError) as excinfo:
        call("hang", timeout_s=2)
    elapsed = time.monotonic() - started
    assert excinfo.value.cause == "worker timed out after 2 s and was killed"
    assert "mode hang" in excinfo.value.tail
    assert elapsed < 10, f"run_worker returned {elapsed:.1f} s after starting a 2 s case"
    pids = json.loads((tmp_path / "pids.json").read_text())
    assert wait_gone(pids) == [], f"left running: {pids}"


def test_a_worker_that_hangs_after_its_result_is_killed_by_us_and_its_result_kept(
    fake_python: Path, tmp_path: Path
) -> None:
    """finish()'s grace (a live A/B's workers): the SIGKILL is ours, not the out-of-memory
    killer's, and the result, which arrived whole before the exit hung, is kept."""
    exits = tmp_path / "exits"
    env = dict(os.environ, FAKE_MODE="ok", FAKE_EXIT_DELAY_S="60", FAKE_EXITLOG=str(exits))
    worker = Worker(str(fake_python), env, tmp_path / "w.log", None, None)
    worker.send(request_for())
    deadline = time.monotonic() + 30
    while not any(message["type"] == "result" for message in worker.run.messages):
        assert time.monotonic() < deadline, "the fake worker sent no result"
        time.sleep(0.05)
    run = worker.finish(grace_s=0.5)
    assert run.result["final_loss"] == 1.5 and run.returncode == -9
    assert run.late_exit == (
        "worker did not exit within 0.5 s after sending its result and was killed"
    )
    assert not exits.exists(), "it was to be killed in its slow exit"


def test_a_single_worker_that_hangs_after_its_result_is_killed_with_its_result_kept(
    fake_python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_worker, as finish() for live A/B: not timed out (hours later, at the default timeout)
    and its result dropped, but given the exit grace after its result, then killed, saying so."""
    monkeypatch.setattr(process, "EXIT_GRACE_S", 0.5)
    exits = tmp_path / "exits"
    env = dict(os.environ, FAKE_MODE="ok", FAKE_EXIT_DELAY_S="60", FAKE_EXITLOG=str(exits))
    started = time.monotonic()
    run = run_worker(str(fake_python), request_for(), env, 20, tmp_path / "w.log")
    assert time.monotonic() - started < 15, "it waited for the timeout"
    assert run.result["final_loss"] == 1.5 and run.returncode == -9
    assert run.late_exit == (
        "worker did not exit within 0.5 s after sending its result and was killed"
    )
    assert not exits.exists(), "it was to be killed in its slow exit"


def test_a_worker_that_hangs_without_a_result_is_killed_by_us_saying_so(tmp_path: Path) -> None:
    # Closes its reply pipe (the runner's last word from it) and stays on.
    python = write_executable(
        tmp_path / "python",
        f"#!{sys.executable}\nimport os, sys, time\nos.close(int(sys.argv[3]))\ntime.sleep(60)\n",
    )
    worker = Worker(str(python), dict(os.environ), tmp_path / "w.log", None, None)
    worker.send(request_for())
    with pytest.raises(WorkerError) as raised:
        worker.finish(grace_s=0.5)
    assert (
        raised.value.cause == "worker sent no result and did not exit within 0.5 s; it was killed"
    )


def test_the_real_worker_refuses_another_protocol(tmp_path: Path) -> None:
    with pytest.raises(WorkerError) as excinfo:
        run_worker(
            sys.executable, request_for(protocol=99), dict(os.environ), 60, tmp_path / "w.log"
        )
    assert excinfo.value.cause == (
        "worker failed: ValueError: controller speaks protocol 99, worker speaks 1"
    )


def test_a_worker_that_says_unsupported_becomes_worker_unsupported(tmp_path: Path) -> None:
    """The runner's side: a case the worker says it cannot run here becomes WorkerUnsupported."""
    wrapper = FAKES / "unsupported_worker.py"
    script = tmp_path / "python"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{wrapper}" "$@"\n')
    script.chmod(0o755)
    with pytest.raises(WorkerUnsupported, match="needs 4 GPU"):
        run_worker(str(script), request_for(), dict(os.environ), 60, tmp_path / "w.log")


def test_the_real_worker_reports_unsupported_cases_as_such(tmp_path: Path) -> None:
    """The real worker's side: Keras 3 has no data-parallel fit for torch, so a torch case of 2
    GPUs is unsupported (on 2 simulated devices: this machine has no GPU)."""
    request = request_for("torch")
    request["case"].update(gpus=2, id="torch-gpu2-b1-unroll-synthetic")
    env = dict(os.environ, RNNBENCH_SIMULATE_DEVICES="2")
    with pytest.raises(WorkerUnsupported, match="no data-parallel fit for the torch backend"):
        run_worker(sys.executable, request, env, 120, tmp_path / "w.log")


def test_a_gpu_case_whose_framework_sees_no_gpu_fails_saying_why(tmp_path: Path) -> None:
    """The controller starts a GPU case only where NVML shows its GPUs; a framework that then sees
    none (here: a real TensorFlow on a machine without one) is a broken install, never a skip."""
    request = request_for()
    request["case"].update(gpus=1, id="tensorflow-gpu1-b1-unroll-synthetic")
    with pytest.raises(WorkerError) as caught:
        run_worker(sys.executable, request, dict(os.environ), 120, tmp_path / "w.log")
    assert "the case needs 1 GPU(s), which NVML shows, but tensorflow sees 0: " in str(caught.value)
    assert "TF_CPP_MIN_LOG_LEVEL=0" in str(caught.value)


def test_an_interpreter_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(WorkerError, match="could not start interpreter '/nonexistent/python'"):
        run_worker("/nonexistent/python", request_for(), dict(os.environ), 60, tmp_path / "w.log")


@pytest.mark.parametrize("where", ["a directory", "under a file"])
def test_a_log_file_that_cannot_be_written_is_named_as_such(
    fake_python: Path, tmp_path: Path, where: str
) -> None:
    """Not read as the interpreter's failure, nor left as a bare OSError: the log is named."""
    log = tmp_path / "x.log"
    if where == "a directory":
        log.mkdir()
    else:
        (tmp_path / "file").write_text("")
        log = tmp_path / "file" / "x.log"
    with pytest.raises(WorkerError) as raised:
        run_worker(str(fake_python), request_for(), dict(os.environ), 60, log)
    assert raised.value.cause.startswith(f"could not create the worker's log file {log}: ")
    assert "the worker was not started" in raised.value.cause
    assert "interpreter" not in raised.value.cause


def test_interpreter_paths_are_never_given_to_a_shell(tmp_path: Path) -> None:
    """An interpreter "path" with shell syntax is just a file that does not exist."""
    pwned = tmp_path / "pwned"
    python = f"{tmp_path}/python; touch {pwned} $(touch {pwned}) `touch {pwned}`"
    assert "does not exist" in probe_backend("jax", python)
    request = {"protocol": 1, "case": {"id": "jax-gpu0-b1-unroll-synthetic"}}
    with pytest.raises(WorkerError, match="could not start interpreter"):
        run_worker(python, request, dict(os.environ), 10, tmp_path / "w.log")
    assert not pwned.exists()


def test_a_worker_that_dies_without_a_word_says_so(tmp_path: Path) -> None:
    silent = write_executable(tmp_path / "python", "#!/bin/sh\nkill -9 $$\n")
    request = {"protocol": 1, "case": {"id": "jax-gpu0-b1-unroll-synthetic"}}
    with pytest.raises(WorkerError) as raised:
        run_worker(str(silent), request, dict(os.environ), 10, tmp_path / "w.log")
    assert raised.value.cause.startswith("worker was killed by SIGKILL")
    assert str(raised.value).endswith(
        "--- last lines of the worker's output ---\n(the worker wrote no output)"
    )


@pytest.mark.parametrize("wrapper", ["exec", "no exec"])
def test_a_worker_whose_controller_is_killed_stops_with_its_children(
    fake_python: Path, tmp_path: Path, wrapper: str
) -> None:
    # SIGKILL (the out-of-memory killer, `kill -9`, a CI runner's last resort) gives the controller
    # no chance to kill its workers; left running, one would hold its GPU and CPUs and slow the
    # next benchmark on that machine. An interpreter may be a wrapper script that does not exec
    # (the worker is then the child of a shell that leads its session).
    if wrapper == "no exec":
        script = fake_python.read_text().replace('\nexec "', '\n"')
        assert script != fake_python.read_text()
        fake_python = write_executable(tmp_path / "python-no-exec", script)
    pidfile = tmp_path / "pids.json"
    controller = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import json, os, sys\n"
            "from pathlib import Path\n"
            "from pytest_rnnbench.run.process import run_worker\n"
            "run_worker(sys.argv[1], json.loads(sys.argv[2]), dict(os.environ), 300, "
            "Path(sys.argv[3]))\n",
            str(fake_python),
            json.dumps(request_for()),
            str(tmp_path / "w.log"),
        ],
        env=dict(os.environ, FAKE_MODE="hang", FAKE_PIDFILE=str(pidfile)),
    )
    try:
        deadline = time.monotonic() + 60
        while not pidfile.exists() or not pidfile.read_text():
            assert controller.poll() is None, "the controller ended before its worker hung"
            assert time.monotonic() < deadline, "the worker never hung"
            time.sleep(0.05)
        pids = json.loads(pidfile.read_text())
        controller.kill()
        controller.wait()
        left = wait_gone(pids)
        for pid in left:  # not to outlive a failed test either
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert left == [], f"left running after their controller was killed: {pids}"
    finally:
        controller.kill()


@pytest.mark.parametrize("reaped_by", ["finish", "exited"])
def test_a_reaped_worker_is_never_signalled_again(
    fake_python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reaped_by: str
) -> None:
    # Its process group's id is its process id, which the system may give to another process
    # once the group is empty: a later kill (live A/B kills every worker when one fails, minutes
    # after others exited) must not reach that process.
    env = dict(os.environ, FAKE_MODE="ok")
    worker = Worker(str(fake_python), env, tmp_path / "w.log", None, None)
    worker.send(request_for())
    if reaped_by == "finish":
        worker.finish()
    else:  # as live A/B sees a worker that sent its result exit
        deadline = time.monotonic() + 30
        while not worker.exited(0.05):
            assert time.monotonic() < deadline, "the worker never exited"
    signalled: list[int] = []
    monkeypatch.setattr(process.os, "killpg", lambda pgid, sig: signalled.append(pgid))
    worker.kill()
    assert signalled == []
