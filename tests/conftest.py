"""Fixtures that several test modules use; constants and plain helpers are in helpers.py.

This directory is on sys.path while the tests run (pytest's "prepend" import mode puts the
directory of every conftest.py there), so test modules in unit/ and acceptance/ import the
helpers with `from helpers import ...`.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from helpers import BARE_BENCH_MODULE, BENCH_MODULE, HEAVY_CHECK_CONFTEST, make_fake_interpreter


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
    pytester.makeini(
        "[pytest]\nfilterwarnings =\n    error\n    ignore::DeprecationWarning:pooch\n"
    )
    return pytester


@pytest.fixture
def heavy_modules(bench: pytest.Pytester):
    """Call after a run: the machine-learning modules that run's pytest process imported."""

    def read() -> list[str]:
        return json.loads((bench.path / "heavy-modules.json").read_text())

    return read


@pytest.fixture
def plain(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory holding a benchmark module with no checks and an empty ini file."""
    pytester.makepyfile(test_bench=textwrap.dedent(BARE_BENCH_MODULE))
    pytester.makeini("[pytest]\n")
    return pytester


@pytest.fixture
def fake_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wrapper interpreter running tests/fakes/fake_worker.py as the worker."""
    return make_fake_interpreter(tmp_path_factory.mktemp("fake-python"))


@pytest.fixture
def bare_python(tmp_path: Path) -> Path:
    """An interpreter with no Keras and no framework: the system Python without site-packages."""
    script = tmp_path / "bare-python"
    script.write_text('#!/bin/sh\nexec /usr/bin/env python3 -S "$@"\n')
    script.chmod(0o755)
    return script
