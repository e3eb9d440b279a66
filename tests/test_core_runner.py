"""Workers that fail, hang or are missing, with real subprocesses (issue 2).

The interpreters handed to the runner are small wrapper scripts (see conftest.FAKE_WORKER): they
run the product's own worker module with `train` replaced by a behaviour picked per case.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import alive, failure_sections
from pytest_rnnbench.run.probe import probe_backend
from pytest_rnnbench.run.process import WorkerError, WorkerUnsupported, run_worker

REPO = Path(__file__).resolve().parent.parent
MXNET_PYTHON = REPO / ".venv-mxnet" / "bin" / "python"


def request_for(backend: str = "tensorflow", batch_size: int = 1, protocol: int = 1) -> dict:
    case = {"id": f"{backend}-gpu0-b{batch_size}-unroll-synthetic", "backend": backend, "gpus": 0,
            "batch_size": batch_size, "unroll": True, "dataset": "synthetic"}
    return {"protocol": protocol, "case": case, "repeats": 1, "seed": 1234,
            "data": {"kind": "synthetic", "samples": 64, "cap": 64, "timesteps": 40,
                     "features": 60, "seed": 1234}}


def wait_gone(pids: list[int], within_s: float = 5.0) -> list[int]:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        left = [pid for pid in pids if alive(pid)]
        if not left:
            return []
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


@pytest.fixture
def call(fake_python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """run_worker on the fake interpreter in one mode."""

    def run(mode: str, timeout_s: float = 60.0, **kwargs):
        env = dict(os.environ, FAKE_MODE=mode, FAKE_PIDFILE=str(tmp_path / "pids.json"))
        return run_worker(str(fake_python), request_for(), env, timeout_s,
                          tmp_path / "logs" / f"{mode}.log", **kwargs)

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


@pytest.mark.parametrize("mode, cause", [
    ("sigkill", "worker was killed by SIGKILL (the kernel's out-of-memory killer sends SIGKILL)"),
    ("exit", "worker exited with code 7"),
    ("silent", "worker exited without sending a result"),
    ("garbage", "worker broke the protocol: unreadable reply 'this is not json\\n'"),
    ("unknown-type", "worker broke the protocol: unknown reply"),
])
def test_a_failing_worker_raises_with_the_cause_and_its_output(call, mode: str, cause: str) -> None:
    with pytest.raises(WorkerError) as excinfo:
        call(mode)
    assert excinfo.value.cause.startswith(cause)
    assert f"fake worker output: case tensorflow-gpu0-b1-unroll-synthetic mode {mode}" in \
        excinfo.value.tail
    assert "--- last lines of the worker's output ---" in str(excinfo.value)


def test_an_exception_in_the_worker_comes_back_with_its_traceback(call) -> None:
    with pytest.raises(WorkerError) as excinfo:
        call("raise")
    assert excinfo.value.cause == ("worker failed: RuntimeError: fake failure in "
                                   "tensorflow-gpu0-b1-unroll-synthetic")
    assert "Traceback (most recent call last)" in excinfo.value.tail
    assert "in fake_train" in excinfo.value.tail


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


def test_the_real_worker_refuses_another_protocol(tmp_path: Path) -> None:
    with pytest.raises(WorkerError) as excinfo:
        run_worker(sys.executable, request_for(protocol=99), dict(os.environ), 60,
                   tmp_path / "w.log")
    assert excinfo.value.cause == ("worker failed: ValueError: controller speaks protocol 99, "
                                   "worker speaks 1")


def test_the_real_worker_reports_unsupported_cases_as_such(tmp_path: Path) -> None:
    """A case the worker cannot run here (e.g. more GPUs than it sees) becomes WorkerUnsupported."""
    wrapper = tmp_path / "unsupported.py"
    wrapper.write_text(textwrap.dedent("""\
        import importlib.util, os, sys
        spec = importlib.util.spec_from_file_location("w", sys.argv[1])
        worker = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(worker)
        def train(request, channel, control_fd=None):
            raise worker.Unsupported("the case needs 4 GPU(s) but tensorflow sees 0")
        worker.train = train
        os._exit(worker.main(sys.argv))
        """))
    script = tmp_path / "python"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{wrapper}" "$@"\n')
    script.chmod(0o755)
    with pytest.raises(WorkerUnsupported, match="needs 4 GPU"):
        run_worker(str(script), request_for(), dict(os.environ), 60, tmp_path / "w.log")


def test_an_interpreter_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(WorkerError, match="could not start interpreter '/nonexistent/python'"):
        run_worker("/nonexistent/python", request_for(), dict(os.environ), 60, tmp_path / "w.log")


# -- the backend probe -----------------------------------------------------------------------------


@pytest.fixture
def bare_python(tmp_path: Path) -> Path:
    """An interpreter with no Keras and no framework: the system Python without site-packages."""
    script = tmp_path / "bare-python"
    script.write_text('#!/bin/sh\nexec /usr/bin/env python3 -S "$@"\n')
    script.chmod(0o755)
    return script


@pytest.mark.parametrize("backend, hint", [
    ("tensorflow", "pip install 'pytest-rnnbench[tensorflow]'"),
    ("jax", "pip install 'pytest-rnnbench[jax]'"),
    ("torch", "pip install 'pytest-rnnbench[torch]'"),
    ("mxnet", "python -m venv .venv-mxnet && .venv-mxnet/bin/pip install keras-mxnet==2.2.4.3"),
])
def test_probe_says_how_to_install_a_missing_backend(bare_python: Path, backend: str,
                                                     hint: str) -> None:
    problem = probe_backend(backend, str(bare_python))
    assert problem is not None
    assert str(bare_python) in problem
    assert hint in problem


def test_probe_accepts_the_installed_backends() -> None:
    for backend in ("tensorflow", "jax", "torch"):
        assert probe_backend(backend, sys.executable) is None
    problem = probe_backend("mxnet", sys.executable)
    assert problem is not None and "Keras-MXNet is not installed" in problem


def test_probe_of_the_mxnet_environment() -> None:
    assert MXNET_PYTHON.exists(), f"{MXNET_PYTHON} is missing: run `make setup`"
    assert probe_backend("mxnet", str(MXNET_PYTHON)) is None
    problem = probe_backend("jax", str(MXNET_PYTHON))
    assert problem is not None
    # Keras-MXNet is also a package named keras: either jax is absent or Keras is the wrong one.
    assert "jax is not installed" in problem or "needs Keras 3" in problem


def test_probe_of_things_that_are_not_interpreters(tmp_path: Path) -> None:
    assert "does not exist" in probe_backend("jax", str(tmp_path / "nope"))
    not_executable = tmp_path / "python"
    not_executable.write_text("")
    assert "not executable" in probe_backend("jax", str(not_executable))
    quiet = tmp_path / "quiet"
    quiet.write_text("#!/bin/sh\necho no such thing >&2\nexit 1\n")
    quiet.chmod(0o755)
    assert "is not a working Python interpreter (no such thing)" in probe_backend("jax", str(quiet))


# -- end to end: failures fail their own case, the session goes on ---------------------------------

FAILURES = {
    2: "worker was killed by SIGKILL",
    3: "worker exited with code 7",
    4: "worker failed: RuntimeError: fake failure in tensorflow-gpu0-b4-unroll-synthetic",
    5: "worker broke the protocol: unreadable reply",
    6: "worker timed out after 3 s and was killed",
    7: "worker broke the protocol: unknown reply",
    8: "worker exited without sending a result",
}


def test_each_kind_of_worker_failure_fails_only_its_case(bench: pytest.Pytester, fake_python: Path,
                                                         tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pidfile = tmp_path / "hang-pids.json"
    monkeypatch.setenv("FAKE_PIDFILE", str(pidfile))
    started = time.monotonic()
    result = bench.runpytest_subprocess(
        "--rnnbench", "--rnnbench-backends=tensorflow", "--rnnbench-datasets=synthetic",
        "--rnnbench-batch-sizes=1,2,3,4,5,6,7,8", "--rnnbench-timeout=3",
        "--rnnbench-json=results.json", f"--rnnbench-python=tensorflow={fake_python}")
    elapsed = time.monotonic() - started
    text = result.stdout.str()
    assert result.parseoutcomes().get("failed") == len(FAILURES), text
    sections = failure_sections(text)
    for batch, cause in FAILURES.items():
        case_id = f"tensorflow-gpu0-b{batch}-unroll-synthetic"
        section = sections[f"test_lstm[{case_id}]"]
        assert f"{case_id}: {cause}" in section
        # The output tail: the worker's own stderr, or the traceback it sent.
        assert (f"fake worker output: case {case_id}" in section
                or "in fake_train" in section), section
    # The good case ran after and between the failures, and the results file knows it all.
    document = json.loads((bench.path / "results.json").read_text())
    assert set(document["results"]) == {"tensorflow-gpu0-b1-unroll-synthetic"}
    assert set(document["failures"]) == {f"tensorflow-gpu0-b{b}-unroll-synthetic" for b in FAILURES}
    for batch, cause in FAILURES.items():
        assert document["failures"][f"tensorflow-gpu0-b{batch}-unroll-synthetic"].startswith(cause)
    # The hung worker and the child it started are gone.
    assert wait_gone(json.loads(pidfile.read_text())) == []
    assert elapsed < 30


def test_missing_backends_are_skipped_with_how_to_install_them(bench: pytest.Pytester,
                                                               fake_python: Path,
                                                               bare_python: Path,
                                                               tmp_path: Path) -> None:
    result = bench.runpytest_subprocess(
        "-rs", "--rnnbench", "--rnnbench-datasets=synthetic", "--rnnbench-batch-sizes=1",
        "--rnnbench-json=results.json",
        f"--rnnbench-python=tensorflow={fake_python}",
        f"--rnnbench-python=jax={bare_python}",
        f"--rnnbench-python=torch={tmp_path / 'no-such-python'}",
        f"--rnnbench-python=mxnet={sys.executable}")
    result.stdout.fnmatch_lines_random([
        f"SKIPPED*jax is not installed in {bare_python}; install it with "
        "`pip install 'pytest-rnnbench[[]jax[]]'`*",
        f"SKIPPED*interpreter '{tmp_path / 'no-such-python'}' for the torch backend does not exist*",
        f"SKIPPED*Keras-MXNet is not installed in {sys.executable}; Keras-MXNet needs its own "
        "environment (it is also a package named `keras`): `python -m venv .venv-mxnet && *",
    ])
    assert result.parseoutcomes().get("failed") is None
    document = json.loads((bench.path / "results.json").read_text())
    assert set(document["results"]) == {"tensorflow-gpu0-b1-unroll-synthetic"}
