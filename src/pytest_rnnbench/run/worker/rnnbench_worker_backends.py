"""The backends this worker knows, and importing Keras for one of them.

(Named rnnbench_worker_*: this directory is first on sys.path, see __main__.py.)
"""

import os

from rnnbench_worker_keras3 import JaxBackend, TensorFlowBackend, TorchBackend
from rnnbench_worker_mxnet import MxnetBackend

BACKENDS = {
    "tensorflow": TensorFlowBackend,
    "jax": JaxBackend,
    "torch": TorchBackend,
    "mxnet": MxnetBackend,
}


def backend_for(name):
    """A fresh Backend for one run of the named backend."""
    if name not in BACKENDS:
        raise ValueError(
            "unknown backend %r (this worker knows %s)" % (name, ", ".join(sorted(BACKENDS)))
        )
    return BACKENDS[name]()


def import_keras(backend):
    """Import Keras for the named backend, checking that Keras loaded that backend.

    The training run calls this function through the module (rnnbench_worker_backends.import_keras),
    so a stand-in worker of the test suite can replace it to inject a fault into Keras.
    """
    return backend_for(backend).import_keras()


def keras_origin(keras, request):
    """Where `keras` was imported from. Under the pull-request gate the request names the side's
    Keras tree (`keras_tree`): a keras from anywhere else would measure the wrong code, so it is
    an error, never a silent A/A comparison."""
    origin = {
        "file": os.path.abspath(keras.__file__),
        "version": keras.__version__,
        "tree": request.get("keras_tree"),
        "commit": request.get("keras_commit"),
    }
    tree = request.get("keras_tree")
    if tree and not os.path.realpath(origin["file"]).startswith(os.path.realpath(tree) + os.sep):
        raise RuntimeError(
            "imported keras %s from %s, not from this side's tree %s (is the tree first on "
            "PYTHONPATH, and does it hold keras/__init__.py?)"
            % (keras.__version__, origin["file"], tree)
        )
    return origin
