"""The worker's training data (run/worker/rnnbench_worker_data.py), in this process with numpy."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from helpers import WORKER_SCRIPT, load_worker_module

data = load_worker_module("rnnbench_worker_data")
SPEC = {"kind": "synthetic", "seed": 7, "samples": 300, "timesteps": 5, "features": 11}


def test_synthetic_data_drawn_in_chunks_is_the_one_draw_of_the_seed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every case and backend trains on the same data: chunks draw exactly what one draw did."""
    rng = np.random.RandomState(7)
    x_once = rng.randint(0, 2, size=(300, 5, 11)).astype("float32")
    y_once = rng.randint(0, 2, size=(300, 11)).astype("float32")
    monkeypatch.setattr(data, "CHUNK_VALUES", 7 * 55 + 3)  # 7 samples a chunk, the last short
    x, y = data.load_data(SPEC, np)
    assert x.dtype == np.float32 and y.dtype == np.float32
    assert np.array_equal(x, x_once) and np.array_equal(y, y_once)


def test_drawing_the_data_does_not_set_the_workers_memory_peak() -> None:
    """50,000 samples: the data itself is 117 MiB; one int64 draw would have added twice that."""
    script = (
        "import resource, sys, numpy as np; sys.path.insert(0, sys.argv[1]);"
        "import rnnbench_worker_data as d;"
        "spec = dict(kind='synthetic', seed=1, samples=50000, timesteps=8, features=77);"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss;"
        "x, y = d.load_data(spec, np);"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss;"
        "print((after - before) / 1024, x.nbytes / 2**20)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(WORKER_SCRIPT)], capture_output=True, text=True
    )
    grown_mib, data_mib = map(float, done.stdout.split())
    assert grown_mib < data_mib * 1.5, done.stdout
