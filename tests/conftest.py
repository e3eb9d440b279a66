"""Shared helpers for the project's own tests.

The end-to-end tests run pytest in a subprocess (pytester) on a small benchmark module, with
`--rnnbench-python BACKEND=PATH` pointing at small wrapper interpreters where a test needs a
worker that misbehaves. No product code has a test backdoor: the wrappers answer the backend
probe with the real interpreter and replace only the worker script.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MXNET_PYTHON = REPO / ".venv-mxnet" / "bin" / "python"
# The copy of Nietzsche every session and CI has lies beside the repository.
SHARED_DATASETS = REPO.parent / "shared" / "datasets"
HEAVY_MODULES = ("keras", "tensorflow", "jax", "jaxlib", "torch", "mxnet")

BENCH_MODULE = """
    import math

    def test_lstm(rnnbench):
        result = rnnbench()
        assert math.isfinite(result.final_loss)
        assert result.samples_per_second > 0
"""

# Records which machine-learning modules the pytest process itself imported.
HEAVY_CHECK_CONFTEST = f"""
    import json, sys

    HEAVY = {HEAVY_MODULES!r}

    def pytest_unconfigure(config):
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
        with open(str(config.rootpath / "heavy-modules.json"), "w") as out:
            json.dump(loaded, out)
"""

# A stand-in for worker.py: it loads the real worker module (so the protocol framing, the
# "started" message and the error reporting are the product's own) and replaces only `train`.
# The case's batch size picks the behaviour, so one session can hold every kind of failure.
FAKE_WORKER = r'''
import importlib.util, json, os, signal, subprocess, sys, time

spec = importlib.util.spec_from_file_location("rnnbench_worker_under_test", sys.argv[1])
worker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(worker)

MODES = {1: "ok", 2: "sigkill", 3: "exit", 4: "raise", 5: "garbage", 6: "hang", 7: "unknown-type",
         8: "silent"}


def fake_turns(request, channel, control_fd):
    """Live A/B turns as the real worker takes them, with a short sleep for each step; every
    step is logged as "pid start end" to FAKE_TURNLOG so a test can see who ran when."""
    turns = worker.Turns(channel, control_fd, request["turn_steps"])
    factor = request.get("inject_slowdown", 1.0)
    epochs = []
    for _ in range(request["repeats"]):
        steps = []
        for step in range(8):
            if step % turns.steps == 0:
                turns.wait()
                if turns.taken == int(os.environ.get("FAKE_DIE_AT_TURN", "0")):
                    os.kill(os.getpid(), signal.SIGKILL)  # in the middle of its turn
            start = time.perf_counter()
            time.sleep(0.01 * factor)
            end = time.perf_counter()
            steps.append(end - start)
            with open(os.environ["FAKE_TURNLOG"], "a") as log:
                log.write("%d %.6f %.6f\n" % (os.getpid(), start, end))
        epochs.append({"seconds": sum(steps), "step_seconds": steps, "loss": 1.5})
    return {"case": request["case"], "samples": request["data"]["samples"], "epochs": epochs,
            "final_loss": 1.5, "host_peak_rss_bytes": 1 << 20, "turn_steps": turns.steps,
            "turns_taken": turns.taken, "versions": {"keras": "fake"}}


def fake_train(request, channel, control_fd=None):
    case = request["case"]
    mode = os.environ.get("FAKE_MODE") or MODES[case["batch_size"]]
    sys.stderr.write("fake worker output: case %s mode %s\n" % (case["id"], mode))
    sys.stderr.flush()
    if mode == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "exit":
        os._exit(7)
    if mode == "raise":
        raise RuntimeError("fake failure in %s" % case["id"])
    if mode == "garbage":
        channel._out.write("this is not json\n")
        channel._out.flush()
    if mode == "unknown-type":
        channel.send("surprise", detail=1)
    if mode == "silent":
        os._exit(0)
    if mode == "turns":
        return fake_turns(request, channel, control_fd)
    if mode == "hang":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        with open(os.environ["FAKE_PIDFILE"], "w") as out:
            json.dump([os.getpid(), child.pid], out)
        time.sleep(300)
    samples = request["data"]["samples"]
    return {
        "case": case, "samples": samples, "samples_cap": request["data"].get("cap"),
        "epochs": [{"seconds": 0.5, "step_seconds": [0.1, 0.2, 0.2], "loss": 1.5}],
        "warmup_seconds": 0.25, "final_loss": 1.5, "host_peak_rss_bytes": 1 << 20,
        "gpu_framework_peak_bytes": None, "versions": {"keras": "fake"},
    }


worker.train = fake_train
os._exit(worker.main(sys.argv))
'''


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie waiting for a parent that no longer cares."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return not re.search(r"^State:\s+Z", status, re.MULTILINE)


def failure_sections(text: str) -> dict[str, str]:
    """The FAILURES section of a pytest run, per test id."""
    sections: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        header = re.match(r"^_{3,} (test_lstm\[.*\]) _{3,}$", line)
        if header:
            current = header.group(1)
            sections[current] = ""
        elif re.match(r"^={3,} ", line):
            current = None
        elif current:
            sections[current] += line + "\n"
    return sections


def write_executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def make_fake_interpreter(directory: Path) -> Path:
    """An interpreter for --rnnbench-python: the real one for the backend probe, the fake worker
    for the worker script."""
    fake = directory / "fake_worker.py"
    fake.write_text(FAKE_WORKER)
    return write_executable(directory / "fake-python", textwrap.dedent(f"""\
        #!/bin/sh
        if [ "$1" = "-c" ]; then exec "{PYTHON}" "$@"; fi
        exec "{PYTHON}" "{fake}" "$@"
        """))


@pytest.fixture(autouse=True)
def _no_rnnbench_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's RNNBENCH_* variables must not change what the tests see."""
    for name in list(os.environ):
        if name.startswith("RNNBENCH"):
            monkeypatch.delenv(name)


@pytest.fixture
def bench(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory holding a benchmark module and the heavy-import check."""
    pytester.makepyfile(test_bench=textwrap.dedent(BENCH_MODULE))
    pytester.makeconftest(textwrap.dedent(HEAVY_CHECK_CONFTEST))
    pytester.makeini("[pytest]\nfilterwarnings =\n    error\n    ignore::DeprecationWarning:pooch\n")
    return pytester


@pytest.fixture
def heavy_modules(bench: pytest.Pytester):
    """Call after a run: the machine-learning modules that run's pytest process imported."""

    def read() -> list[str]:
        return json.loads((bench.path / "heavy-modules.json").read_text())

    return read


@pytest.fixture
def fake_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_fake_interpreter(tmp_path_factory.mktemp("fake-python"))
