"""The Keras-MXNet backend: Keras 2.2.4's MXNet fork, in an environment of its own.

(Named rnnbench_worker_*: this directory is first on sys.path, see __main__.py.)
"""

import contextlib

from rnnbench_worker_backend import Backend, simulated_devices


class MxnetBackend(Backend):
    """Keras-MXNet 2.2.4 (its own environment); GPUs, one or several, are given as a context list
    at compile time."""

    name = "mxnet"

    def before_import(self):
        # Keras 2.2 imports ABCs from `collections`, which Python 3.10 removed; alias them back.
        import collections
        import collections.abc

        for name in ("Iterable", "Mapping", "MutableMapping", "Sequence", "Callable"):
            if not hasattr(collections, name):
                setattr(collections, name, getattr(collections.abc, name))

    def framework_versions(self):
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
