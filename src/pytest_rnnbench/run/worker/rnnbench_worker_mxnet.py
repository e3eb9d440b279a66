"""The Keras-MXNet backend: Keras 2.2.4's MXNet fork, in an environment of its own.

(Named rnnbench_worker_*: this directory is first on sys.path, see __main__.py.)
"""

import contextlib

from rnnbench_worker_backend import Backend, simulated_devices

# Names that Keras-MXNet 2.2.4 and MXNet 1.9.1 still use but their hosts removed: the ABCs that
# Python 3.10 took out of `collections`, and numpy's aliases of builtins (np.bool, np.int, ...)
# that numpy 1.24 removed. Aliased back, they train on Python 3.12 and 3.13 with numpy 1.26.
COLLECTIONS_ABCS = ("Iterable", "Mapping", "MutableMapping", "Sequence", "Callable")
NUMPY_BUILTIN_ALIASES = ("bool", "int", "float", "object", "str", "complex")


def restore_removed_names():
    """Alias the removed `collections` and numpy names back where they are missing; a name the
    host still has is left alone (numpy 2 has its own np.bool, a numpy type, not the builtin)."""
    import builtins
    import collections
    import collections.abc

    import numpy

    for name in COLLECTIONS_ABCS:
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))
    for name in NUMPY_BUILTIN_ALIASES:
        # numpy 1.24+ answers these names with an AttributeError from its module __getattr__.
        if not hasattr(numpy, name):
            setattr(numpy, name, getattr(builtins, name))


class MxnetBackend(Backend):
    """Keras-MXNet 2.2.4 (its own environment); GPUs, one or several, are given as a context list
    at compile time."""

    name = "mxnet"

    def before_import(self):
        restore_removed_names()

    def framework_versions(self):
        # MXNet itself uses the numpy names newer numpy removed: asked before keras was imported
        # (a version probe), they must be back first too.
        restore_removed_names()
        import mxnet

        return {"mxnet": mxnet.__version__}

    def device_wait(self):
        import mxnet

        return (lambda model: mxnet.nd.waitall()), "mxnet.nd.waitall"

    def count_gpus(self):
        import mxnet

        return mxnet.context.num_gpus()

    def prepare_devices(self, gpus, keras):
        if gpus == 0:
            return contextlib.nullcontext(), {}
        kind = "cpu" if simulated_devices() else "gpu"
        contexts = ["%s(%d)" % (kind, i) for i in range(gpus)]
        self.parallel = "context %s" % ", ".join(contexts)
        return contextlib.nullcontext(), {"context": contexts}

    def peak_gpu_bytes(self):
        return None, "MXNet keeps no peak counter; use the NVML figure"
