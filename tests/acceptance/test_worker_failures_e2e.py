"""Failing and missing workers end to end (issue 2): each failure fails only its own case and the
session goes on; a missing backend skips its cases saying how to install it.

The failing workers are tests/fakes/fake_worker.py behind a wrapper interpreter (the
`fake_python` fixture); the case's batch size picks the failure.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from helpers import failure_sections, wait_gone

pytestmark = pytest.mark.slow


FAILURES = {
    2: "worker was killed by SIGKILL",
    3: "worker exited with code 7",
    4: "worker failed: RuntimeError: fake failure in tensorflow-gpu0-b4-unroll-synthetic",
    5: "worker broke the protocol: unreadable reply",
    6: "worker timed out after 3 s and was killed",
    7: "worker broke the protocol: unknown reply",
    8: "worker exited without sending a result",
}


def test_each_kind_of_worker_failure_fails_only_its_case(
    bench: pytest.Pytester, fake_python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pidfile = tmp_path / "hang-pids.json"
    monkeypatch.setenv("FAKE_PIDFILE", str(pidfile))
    started = time.monotonic()
    result = bench.runpytest_subprocess(
        "--rnnbench",
        "--rnnbench-backends=tensorflow",
        "--rnnbench-datasets=synthetic",
        "--rnnbench-batch-sizes=1,2,3,4,5,6,7,8",
        "--rnnbench-timeout=3",
        "--rnnbench-json=results.json",
        f"--rnnbench-python=tensorflow={fake_python}",
    )
    elapsed = time.monotonic() - started
    text = result.stdout.str()
    assert result.parseoutcomes().get("failed") == len(FAILURES), text
    sections = failure_sections(text)
    for batch, cause in FAILURES.items():
        case_id = f"tensorflow-gpu0-b{batch}-unroll-synthetic"
        section = sections[f"test_lstm[{case_id}]"]
        assert f"{case_id}: {cause}" in section
        assert section.count(cause) == 1, section  # said once, not chained to its WorkerError
        # The output tail: the worker's own stderr, or the traceback it sent.
        assert f"fake worker output: case {case_id}" in section or "in fake_train" in section, (
            section
        )
    # The good case ran after and between the failures, and the results file knows it all.
    document = json.loads((bench.path / "results.json").read_text())
    assert set(document["results"]) == {"tensorflow-gpu0-b1-unroll-synthetic"}
    assert set(document["failures"]) == {f"tensorflow-gpu0-b{b}-unroll-synthetic" for b in FAILURES}
    for batch, cause in FAILURES.items():
        assert document["failures"][f"tensorflow-gpu0-b{batch}-unroll-synthetic"].startswith(cause)
    # The hung worker and the child it started are gone.
    assert wait_gone(json.loads(pidfile.read_text())) == []
    assert elapsed < 30


def test_missing_backends_are_skipped_with_how_to_install_them(
    bench: pytest.Pytester, fake_python: Path, bare_python: Path, tmp_path: Path
) -> None:
    result = bench.runpytest_subprocess(
        "-rs",
        "--rnnbench",
        "--rnnbench-datasets=synthetic",
        "--rnnbench-batch-sizes=1",
        "--rnnbench-json=results.json",
        f"--rnnbench-python=tensorflow={fake_python}",
        f"--rnnbench-python=jax={bare_python}",
        f"--rnnbench-python=torch={tmp_path / 'no-such-python'}",
        f"--rnnbench-python=mxnet={sys.executable}",
    )
    result.stdout.fnmatch_lines_random(
        [
            f"SKIPPED*jax is not installed in {bare_python}; install it with "
            "`pip install 'pytest-rnnbench[[]jax[]]'`*",
            f"SKIPPED*interpreter '{tmp_path / 'no-such-python'}' for the torch backend "
            "does not exist*",
            f"SKIPPED*Keras-MXNet is not installed in {sys.executable}; Keras-MXNet needs its own "
            "environment (it is also a package named `keras`): `python -m venv .venv-mxnet && *",
        ]
    )
    assert result.parseoutcomes().get("failed") is None
    document = json.loads((bench.path / "results.json").read_text())
    assert set(document["results"]) == {"tensorflow-gpu0-b1-unroll-synthetic"}
