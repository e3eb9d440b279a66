"""The calibration's code changes are real and harmless: each edit of benchmarks/keras_trees.py
applies to the Keras 3 that this environment installed, runs when that backend trains an LSTM on
CPU, and leaves every number as it was (the edits add work, never change results)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from helpers import PYTHON, benchmark_script, require_framework

pytestmark = pytest.mark.slow

# One LSTM forward and backward pass on fixed numbers; prints the loss and gradients' digits,
# whether the edited source is what ran (keras imported from the tree, the marker in the code)
# and how many matrix products the LSTM code asked for (keras.ops' and torch's, counted as
# called: once per trace where a backend compiles the loop).
PROBE = """
import hashlib, importlib, inspect, json
import numpy as np
import keras
from keras.src import ops
from keras.src.layers.rnn import lstm
rnn = importlib.import_module("keras.src.backend.{backend}.rnn")  # the module, not its rnn()
products = [0]
def counted(matmul):
    def call(*args, **kwargs):
        products[0] += 1
        return matmul(*args, **kwargs)
    return call
ops.matmul = counted(ops.matmul)
if "{backend}" == "torch":
    import torch
    torch.matmul = counted(torch.matmul)
rng = np.random.default_rng(0)
x = rng.normal(size=(4, 40, 8)).astype("float32")
y = rng.normal(size=(4, 16)).astype("float32")
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((40, 8)), keras.layers.LSTM(16)])
model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
model.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False)
weights = b"".join(np.asarray(w).tobytes() for w in model.get_weights())
print(json.dumps({{
    "keras": keras.__file__,
    "digest": hashlib.sha256(weights).hexdigest(),
    "source": inspect.getsource(lstm) + inspect.getsource(rnn),
    "products": products[0],
}}))
"""


keras_trees = benchmark_script("keras_trees")


def train(tree: Path, backend: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), KERAS_BACKEND=backend, CUDA_VISIBLE_DEVICES="")
    done = subprocess.run(
        [PYTHON, "-c", PROBE.format(backend=backend)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["keras"].startswith(str(tree)), found["keras"]
    return found


@pytest.mark.parametrize(
    ("edit", "amount", "backend", "marker"),
    [
        ("cell-part", 3, "tensorflow", "part of a gate block"),
        ("cell-work", 1, "jax", "a gate block once more"),
        ("torch-loop-work", 7, "torch", "Consistency check"),
    ],
)
def test_an_edit_adds_work_and_changes_no_number(
    tmp_path: Path, edit: str, amount: int, backend: str, marker: str
) -> None:
    require_framework(backend)
    repo = tmp_path / "repo"
    base = keras_trees.make_repo(keras_trees.installed_keras(PYTHON), repo)
    edited = keras_trees.commit_edit(repo, edit, amount)
    before = train(keras_trees.checkout(repo, base, tmp_path / "base"), backend)
    after = train(keras_trees.checkout(repo, edited, tmp_path / "edited"), backend)
    assert marker not in before["source"] and marker in after["source"]
    assert after["products"] > before["products"]  # the edit's code ran: more work, ...
    assert after["digest"] == before["digest"]  # ... the same numbers


def test_an_edit_out_of_range_or_unknown_says_so(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    keras_trees.make_repo(keras_trees.installed_keras(PYTHON), repo)
    for edit, amount in [("cell-part", 9), ("cell-work", 0), ("nonsense", 1)]:
        with pytest.raises(SystemExit, match=edit if edit != "nonsense" else "unknown edit"):
            keras_trees.apply_edit(repo, edit, amount)
