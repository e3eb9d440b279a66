"""A stand-in for the product's worker that breaks one thing only: building the LSTM layer.

It runs the product's real worker (real Keras, real TensorFlow; the directory the runner passes as
its first argument), with only its `import_keras` replaced: for the case whose batch size is
FAULT_BUILD_BATCH, Keras's LSTM layer raises when the model is built; every other case trains for
real. Used by
`test_real_worker_killed_mid_epoch_or_failing_in_build_fails_only_its_case`
(tests/acceptance/test_faults_e2e.py) through a wrapper interpreter.
"""

import os
import sys

# The real worker is a directory (the runner passes its path as the first argument) whose modules
# import one another as top-level names: it goes first on sys.path, as running it puts it.
sys.path.insert(0, sys.argv[1])
import rnnbench_worker_backends as backends  # noqa: E402
import rnnbench_worker_protocol as protocol  # noqa: E402
import rnnbench_worker_train as training  # noqa: E402

real_import_keras = backends.import_keras


def import_keras_with_a_broken_lstm(backend):
    keras = real_import_keras(backend)

    class BrokenLSTM(keras.layers.LSTM):
        def __init__(self, *args, **kwargs):
            raise ValueError("injected fault: this LSTM refuses to be built")

    keras.layers.LSTM = sys.modules["keras.layers"].LSTM = BrokenLSTM
    return keras


def train(request, channel, control_fd=None):
    if request["case"]["batch_size"] == int(os.environ.get("FAULT_BUILD_BATCH", "-1")):
        backends.import_keras = import_keras_with_a_broken_lstm
    return training.train(request, channel)


os._exit(protocol.main(sys.argv, train))
