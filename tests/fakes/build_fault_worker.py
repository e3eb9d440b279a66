"""A stand-in for the product's worker.py that breaks one thing only: building the LSTM layer.

It runs the product's real worker (real Keras, real TensorFlow; the path the runner passes as its
first argument). For the case whose batch size is FAULT_BUILD_BATCH, Keras's LSTM layer raises
when the model is built; every other case trains for real. Used by
`test_real_worker_killed_mid_epoch_or_failing_in_build_fails_only_its_case`
(tests/acceptance/test_faults_e2e.py) through a wrapper interpreter.
"""

import importlib.util
import os
import sys

spec = importlib.util.spec_from_file_location("rnnbench_worker_under_test", sys.argv[1])
worker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(worker)
real_train, real_import_keras = worker.train, worker.import_keras


def import_keras_with_a_broken_lstm(backend):
    keras = real_import_keras(backend)

    class BrokenLSTM(keras.layers.LSTM):
        def __init__(self, *args, **kwargs):
            raise ValueError("injected fault: this LSTM refuses to be built")

    keras.layers.LSTM = sys.modules["keras.layers"].LSTM = BrokenLSTM
    return keras


def train(request, channel, control_fd=None):
    if request["case"]["batch_size"] == int(os.environ.get("FAULT_BUILD_BATCH", "-1")):
        worker.import_keras = import_keras_with_a_broken_lstm
    return real_train(request, channel)


worker.train = train
os._exit(worker.main(sys.argv))
