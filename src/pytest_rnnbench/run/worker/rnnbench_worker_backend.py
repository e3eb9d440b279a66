"""The backend family's base: what a worker asks of every framework, and the shared defaults.

Each framework has one subclass (rnnbench_worker_keras3: tensorflow, jax, torch;
rnnbench_worker_mxnet: Keras-MXNet), registered in rnnbench_worker_backends. Subclasses import
their framework only when asked, since the worker also loads in environments that lack the other
frameworks. (Named rnnbench_worker_*: this directory is first on sys.path, see __main__.py.)
"""

import contextlib
import os
import sys


def keras_major(keras):
    """Keras's major version: 3 (Keras 3) or 2 (Keras-MXNet)."""
    return int(keras.__version__.split(".")[0])


def simulated_devices():
    """How many CPU slices stand in for GPUs (RNNBENCH_SIMULATE_DEVICES), 0 for none."""
    return int(os.environ.get("RNNBENCH_SIMULATE_DEVICES", "0"))


class Backend(object):
    """One Keras backend, as this worker drives it; a subclass per framework.

    An instance serves one run: `prepare_devices` records on it how the case was spread over
    devices (`parallel`), which the result reports.
    """

    name = None

    def __init__(self):
        self.parallel = "single device"

    def before_import(self):
        """Whatever must happen before `import keras` for this backend."""

    def import_keras(self):
        """Import Keras with this backend selected; fail if Keras loaded another."""
        os.environ["KERAS_BACKEND"] = self.name
        self.before_import()
        import keras

        actual = keras.backend.backend()
        if actual != self.name:
            raise RuntimeError(
                "asked for the %s backend but Keras %s in %s loaded %r"
                % (self.name, keras.__version__, sys.executable, actual)
            )
        return keras

    def framework_versions(self):
        """{package: version} of the framework under Keras."""
        raise NotImplementedError

    def device_wait(self):
        """(wait(model), the method's name): a function that returns once queued device work is
        done. `model` may be None."""
        raise NotImplementedError

    def count_gpus(self):
        """How many GPUs the framework sees; may raise on a CPU-only build."""
        raise NotImplementedError

    def gpus_seen(self):
        """How many GPUs the framework sees in this process (CUDA_VISIBLE_DEVICES applied).
        When asking raised (a CPU-only build may, instead of answering 0), 0, and the error is
        kept in `gpu_error` for the message that fails the case."""
        self.gpu_error = None
        try:
            return self.count_gpus()
        except Exception as exc:
            self.gpu_error = "%s: %s" % (type(exc).__name__, exc)
            return 0

    def prepare_devices(self, gpus, keras):
        """Set up what must exist before the model is built; return (scope, compile kwargs).

        Cases with more than one device train data-parallel: JAX through Keras's DataParallel,
        TensorFlow under MirroredStrategy, MXNet with a context list. With
        RNNBENCH_SIMULATE_DEVICES the devices are slices of the CPU (set up by the controller for
        JAX through XLA_FLAGS).
        """
        return contextlib.nullcontext(), {}

    def lstm_observer(self, keras):
        """A context manager for the warm-up whose `kernel()` then says which LSTM kernel the
        framework ran (rnnbench_worker_lstm_path), or None where nothing can be observed."""
        if keras_major(keras) < 3:
            return None
        from rnnbench_worker_lstm_path import LstmObserver

        return LstmObserver()

    def peak_gpu_bytes(self):
        """The framework's own peak device memory, summed over visible GPUs, or (None, reason)."""
        raise NotImplementedError

    def precision_facts(self):
        """How matrix products ran (TF32, precision setting), as far as the framework says."""
        return {}

    def thread_facts(self):
        """The CPU thread pools' sizes as the framework reports them ({}: it cannot say)."""
        return {}

    def compilation_facts(self):
        """Whether compiled programs came through a cache shared across processes ({}: the
        backend keeps none)."""
        return {}

    def run_facts(self, keras, model, unroll, lstm_kernel):
        """What actually ran: the LSTM path, jit/XLA and matmul precision, as far as each backend
        says.

        `lstm_kernel` is what the warm-up observed (None: nothing to observe). `lstm_path` is
        from the observation: "cuDNN" when the fused kernel ran, "backend loop" when the
        backend's own fallback loop did (torch's ignores `unroll`), else Keras's loop: "unrolled
        loop" as the case asked, or "generic loop".
        """
        kernel = lstm_kernel or {
            "kernel": "generic",
            "why": "unroll=True" if unroll else "this Keras has no fused LSTM kernel to take",
            "observed": False,
        }
        if kernel["kernel"] == "fused":
            path = "cuDNN"
        elif kernel.get("loop") == "backend":
            path = "backend loop"
        else:
            path = "unrolled loop" if unroll else "generic loop"
        facts = {"lstm_path": path, "lstm_kernel": kernel}
        if keras_major(keras) >= 3:
            facts["jit_compile"] = bool(getattr(model, "jit_compile", False))
        facts.update(self.precision_facts())
        facts["threads"] = self.thread_facts()
        facts.update(self.compilation_facts())
        return facts
