"""Benchmark worker: trains one case and replies with one JSON result.

This directory is run as a script by the backend's own interpreter
(`python .../run/worker --result-fd N [--control-fd M]`), which may be a different virtual
environment from the one running pytest (Keras-MXNet is also a package named `keras`). So nothing
here imports pytest_rnnbench: only the standard library, numpy, the frameworks and its own
sibling modules. It must run under Keras 3 (tensorflow, jax, torch) and under the Keras 2.2.4 fork
Keras-MXNet, on Python 3.9 to 3.13.

Python puts this directory first on sys.path, so the siblings import as top-level modules; each
is named `rnnbench_worker_*` so that none can shadow a real module (a `protocol.py` or `data.py`
here would hide any installed package of that name from Keras and the frameworks).

The modules, in the order a run uses them:

- rnnbench_worker_protocol: the messages to the controller, the request, live A/B turns, main;
- rnnbench_worker_backends (with _backend, _keras3, _mxnet): everything that differs between
  frameworks, and importing Keras;
- rnnbench_worker_data: the training data; rnnbench_worker_model: the seed's model;
- rnnbench_worker_lstm_path: which LSTM kernel the backend actually ran;
- rnnbench_worker_measure and rnnbench_worker_clock: device sync, CPU and memory, step times;
- rnnbench_worker_train: the training run, from import to result.
"""

import os
import sys

# Python puts this directory on sys.path itself when it runs it as a script; said again so the
# siblings import even when that is turned off (PYTHONSAFEPATH, -P).
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import rnnbench_worker_protocol  # noqa: E402
import rnnbench_worker_train  # noqa: E402

if __name__ == "__main__":
    rnnbench_worker_protocol.exit_now(
        rnnbench_worker_protocol.main(sys.argv, rnnbench_worker_train.train)
    )
