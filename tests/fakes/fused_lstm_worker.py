"""A stand-in for the product's worker whose TensorFlow backend takes the fused LSTM path on CPU.

It runs the product's real worker (real Keras, real TensorFlow; the directory the runner passes as
its first argument), with only its `import_keras` replaced: after the real import, TensorFlow's
rnn module is told that cuDNN is fine (`cudnn_ok`) and its `_cudnn_lstm` is a plain TensorFlow
LSTM, so Keras's fused-kernel call succeeds as it would on a GPU. The worker must then report
that the fused kernel ran (`run.lstm_kernel.kernel == "fused"`, `run.lstm_path == "cuDNN"`).
Used by `test_the_fused_lstm_path_is_reported_when_the_backend_takes_it`
(tests/unit/test_backends.py) through a wrapper interpreter.
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


def plain_lstm(inputs, h, c, kernel, recurrent_kernel, bias, mask, time_major, go_backwards,
               return_sequences):  # fmt: skip
    """What cuDNN would compute (Keras's gate order i, f, c, o), one step at a time."""
    import tensorflow as tf

    outputs = []
    for t in range(inputs.shape[1]):
        z = tf.matmul(inputs[:, t], kernel) + tf.matmul(h, recurrent_kernel) + bias
        i, f, g, o = tf.split(z, 4, axis=1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        outputs.append(h)
    return h, tf.stack(outputs, axis=1), [h, c]


def import_keras_with_a_fused_lstm(backend):
    keras = real_import_keras(backend)
    rnn = sys.modules["keras.src.backend.tensorflow.rnn"]
    rnn.cudnn_ok = lambda *args, **kwargs: True
    rnn._cudnn_lstm = plain_lstm
    return keras


backends.import_keras = import_keras_with_a_fused_lstm
os._exit(protocol.main(sys.argv, training.train))
