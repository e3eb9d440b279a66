"""backends.py and the worker describe the same backends: names and version keys agree; and the
worker reports which LSTM kernel a backend actually ran.

The worker (run/worker/) is a standalone script (it also runs under Keras-MXNet's interpreter), so
it cannot import backends.py; this test is what keeps the two in step.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest

from helpers import (
    FAKES,
    MXNET_PYTHON,
    PYTHON,
    REPO,
    load_worker_module,
    make_fake_interpreter,
    tiny_tensorflow_request,
)
from pytest_rnnbench import backends
from pytest_rnnbench.run.process import run_worker
from pytest_rnnbench.run.protocol import WORKER_SCRIPT, worker_env


def test_the_worker_knows_exactly_the_backends_the_controller_knows() -> None:
    worker = load_worker_module("rnnbench_worker_backends")
    assert set(worker.BACKENDS) == set(backends.BACKENDS)
    assert set(backends.LABELS) == set(backends.VERSION_KEYS) == set(backends.COLOURS)
    assert set(backends.INSTALL_HINTS) == set(backends.BACKENDS)
    assert set(backends.KERAS3_BACKENDS) | set(backends.KERAS_MXNET_BACKENDS) == set(
        backends.BACKENDS
    )


@pytest.mark.slow
@pytest.mark.parametrize("backend", backends.BACKENDS)
def test_each_backend_reports_its_framework_under_its_version_key(backend: str) -> None:
    python = MXNET_PYTHON if backend in backends.KERAS_MXNET_BACKENDS else PYTHON
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(WORKER_SCRIPT)!r})\n"
        "import rnnbench_worker_backends as w\n"
        f"print(json.dumps(sorted(w.backend_for({backend!r}).framework_versions())))\n"
    )
    done = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    assert backends.VERSION_KEYS[backend] in json.loads(done.stdout.strip().splitlines()[-1])


def test_keras_mxnet_gets_back_the_names_newer_python_and_numpy_removed() -> None:
    """Before `import keras`, the MXNet backend aliases the `collections` ABCs (gone in Python
    3.10) and numpy's builtin aliases (gone in numpy 1.24) back, and leaves alone what the host
    still has: numpy 2's own np.bool is numpy's type, not the builtin. In a fresh interpreter
    (numpy 2 here), since the aliases change the process's numpy."""
    code = (
        "import collections, collections.abc, json, sys\n"
        f"sys.path.insert(0, {str(WORKER_SCRIPT)!r})\n"
        "import numpy\n"
        "had = [n for n in ('bool', 'int', 'float', 'object', 'str', 'complex')"
        " if hasattr(numpy, n)]\n"
        "import rnnbench_worker_backends as w\n"
        "w.backend_for('mxnet').before_import()\n"
        "print(json.dumps({'had': had, 'int': numpy.int is int, 'object': numpy.object is object,"
        " 'bool_kept': numpy.bool is numpy.bool_,"
        " 'mapping': collections.Mapping is collections.abc.Mapping}))\n"
    )
    done = subprocess.run([str(PYTHON), "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "had": ["bool"],
        "int": True,
        "object": True,
        "bool_kept": True,
        "mapping": True,
    }


@pytest.mark.parametrize(
    ("kernel", "unroll", "path"),
    [
        ({"kernel": "fused", "loop": "fused"}, False, "cuDNN"),
        ({"kernel": "generic", "loop": "backend"}, True, "backend loop"),  # torch ignores unroll
        ({"kernel": "generic", "loop": "backend"}, False, "backend loop"),
        ({"kernel": "generic", "loop": "keras"}, True, "unrolled loop"),
        ({"kernel": "generic", "loop": "keras"}, False, "generic loop"),
        (None, True, "unrolled loop"),  # nothing observed (Keras-MXNet): as the case asked
        (None, False, "generic loop"),
    ],
)
def test_the_lstm_path_is_what_was_observed(kernel: dict, unroll: bool, path: str) -> None:
    class Keras:
        __version__ = "3.15.1"

    worker = load_worker_module("rnnbench_worker_backend")
    observed = None if kernel is None else dict(kernel, why="", observed=True)
    facts = worker.Backend().run_facts(Keras, object(), unroll, observed)
    assert facts["lstm_path"] == path


@pytest.mark.slow
def test_on_the_cpu_the_fused_lstm_declines_and_the_result_says_why(tmp_path: Path) -> None:
    """A real worker: TensorFlow's fused LSTM raises NotImplementedError without a GPU, and the
    result says the generic loop ran, and why."""
    env = worker_env("tensorflow", [])
    run = run_worker(str(PYTHON), tiny_tensorflow_request(False), env, 300, tmp_path / "w.log")
    facts = run.result["run"]
    assert facts["lstm_path"] == "generic loop"
    kernel = facts["lstm_kernel"]
    assert kernel["kernel"] == "generic" and kernel["observed"] is True
    assert kernel["why"].startswith("keras.src.backend.tensorflow.rnn.lstm declined")
    assert kernel["loop"] == "keras"
    assert "no GPU that cuDNN can use" in kernel["why"]


@pytest.mark.slow
def test_the_fused_lstm_path_is_reported_when_the_backend_takes_it(tmp_path: Path) -> None:
    """The GPU case, scripted: tests/fakes/fused_lstm_worker.py lets TensorFlow's fused LSTM
    succeed on the CPU; the real worker reports the fused kernel, and its training still runs."""
    python = make_fake_interpreter(tmp_path, FAKES / "fused_lstm_worker.py")
    env = worker_env("tensorflow", [])
    run = run_worker(str(python), tiny_tensorflow_request(False), env, 300, tmp_path / "w.log")
    facts = run.result["run"]
    assert facts["lstm_path"] == "cuDNN"
    assert facts["lstm_kernel"] == {
        "kernel": "fused",
        "loop": "fused",
        "why": "keras.src.backend.tensorflow.rnn.lstm ran its fused cuDNN kernel",
        "observed": True,
    }
    assert math.isfinite(run.result["final_loss"])


SHAPE_INFERENCE_CHILD = """
import json, os, sys
os.environ["KERAS_BACKEND"] = "torch"
sys.path.insert(0, sys.argv[1])
import numpy as np
import keras
from rnnbench_worker_lstm_path import LstmObserver

with LstmObserver() as observer:
    inputs = keras.Input((5, 3))  # Keras infers the output shape: a symbolic call, no kernel
    model = keras.Model(inputs, keras.layers.LSTM(4, unroll=True)(inputs))
    symbolic = len(observer.calls)
    model(np.ones((2, 5, 3), "float32"))  # a real call
print(json.dumps({"symbolic": symbolic, "calls": observer.calls}))
"""


@pytest.mark.slow
def test_shape_inference_is_no_lstm_call_of_its_own() -> None:
    """torch infers shapes on its "meta" device, where its lstm always takes the fallback loop:
    counted, a GPU run that used cuDNN for every real step read "mixed", its path "generic loop".
    Only the real call is recorded (on this CPU: the backend's fallback loop, unroll or not)."""
    done = subprocess.run(
        [str(PYTHON), "-c", SHAPE_INFERENCE_CHILD, str(WORKER_SCRIPT)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["symbolic"] == 0, seen
    assert len(seen["calls"]) == 1 and seen["calls"][0]["kernel"] == "generic", seen
    # unroll=True, yet torch's lstm ran its own fallback loop, not Keras's unrolled one.
    assert seen["calls"][0]["loop"] == "backend", seen
