"""The Keras 3 backends: TensorFlow, JAX and PyTorch, one class each.

Each imports its framework only when asked: a Keras 3 environment may hold one framework only.
(Named rnnbench_worker_*: this directory is first on sys.path, see __main__.py.)
"""

import contextlib
import os

from rnnbench_worker_backend import Backend, simulated_devices
from rnnbench_worker_protocol import Unsupported


class TensorFlowBackend(Backend):
    """Keras 3 on TensorFlow; several devices train under MirroredStrategy."""

    name = "tensorflow"

    def framework_versions(self):
        import tensorflow as tf

        return {"tensorflow": tf.__version__}

    def device_wait(self):
        import tensorflow as tf

        def wait(model):
            tf.test.experimental.sync_devices()

        return wait, "tf.test.experimental.sync_devices"

    def count_gpus(self):
        import tensorflow as tf

        return len(tf.config.list_physical_devices("GPU"))

    def prepare_devices(self, gpus, keras):
        import tensorflow as tf

        # Measure what training uses, not what TensorFlow grabs up front, unless the user asked
        # for its default (--rnnbench-preallocate).
        for device in tf.config.list_physical_devices("GPU"):
            if os.environ.get("RNNBENCH_PREALLOCATE") != "1":
                tf.config.experimental.set_memory_growth(device, True)
        if gpus < 2:
            return contextlib.nullcontext(), {}
        simulated = simulated_devices()
        if simulated:
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * simulated
            )
            names = ["/cpu:%d" % i for i in range(gpus)]
        else:
            names = ["/gpu:%d" % i for i in range(gpus)]
        self.parallel = "MirroredStrategy over %s" % ", ".join(names)
        return tf.distribute.MirroredStrategy(names).scope(), {}

    def peak_gpu_bytes(self):
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        peak = sum(tf.config.experimental.get_memory_info(d.name)["peak"] for d in gpus)
        return peak, "tf.config.experimental.get_memory_info peak"

    def precision_facts(self):
        import tensorflow as tf

        return {"tf32_matmul": bool(tf.config.experimental.tensor_float_32_execution_enabled())}

    # No thread_facts: tf.config.threading reports 0 ("default") even when TF_NUM_INTEROP_THREADS
    # sized the pool, so it cannot say what ran; `thread_pools` says what the controller set.


class JaxBackend(Backend):
    """Keras 3 on JAX; several devices train through keras.distribution.DataParallel."""

    name = "jax"

    def framework_versions(self):
        import jax
        import jaxlib

        return {"jax": jax.__version__, "jaxlib": jaxlib.__version__}

    def device_wait(self):
        import jax

        def wait(model):
            if model is not None:
                jax.block_until_ready([v.value for v in model.variables])
            jax.effects_barrier()

        return wait, "jax.block_until_ready(model variables) + jax.effects_barrier"

    def count_gpus(self):
        import jax

        return len([d for d in jax.devices() if d.platform == "gpu"])

    def prepare_devices(self, gpus, keras):
        if gpus > 1:
            kind = "cpu" if simulated_devices() else "gpu"
            devices = keras.distribution.list_devices(kind)[:gpus]
            keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
            self.parallel = "DataParallel over %s" % ", ".join(map(str, devices))
        return contextlib.nullcontext(), {}

    def peak_gpu_bytes(self):
        import jax

        stats = [d.memory_stats() or {} for d in jax.devices() if d.platform == "gpu"]
        peak = sum(s.get("peak_bytes_in_use", 0) for s in stats)
        return peak, "jax memory_stats peak_bytes_in_use"

    def precision_facts(self):
        import jax

        return {"matmul_precision": str(jax.config.jax_default_matmul_precision or "default")}

    def compilation_facts(self):
        import jax

        # Set by the controller for a live case's workers (run/protocol.py), which then share
        # their compilations; the timed epochs run the same program either way.
        return {"compilation_cache": bool(jax.config.jax_compilation_cache_dir)}


class TorchBackend(Backend):
    """Keras 3 on PyTorch; Keras has no data-parallel fit for it, so one device at most."""

    name = "torch"

    def framework_versions(self):
        import torch

        return {
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
        }

    def device_wait(self):
        import torch

        if torch.cuda.is_available():
            return (lambda model: torch.cuda.synchronize()), "torch.cuda.synchronize"
        # Eager execution on the CPU is synchronous already.
        return (lambda model: None), "none needed (torch on CPU is synchronous)"

    def count_gpus(self):
        import torch

        return torch.cuda.device_count()

    def prepare_devices(self, gpus, keras):
        if gpus > 1:
            raise Unsupported(
                "Keras %s has no data-parallel fit for the torch backend (a "
                "multi-process DDP route is not implemented)" % keras.__version__
            )
        return contextlib.nullcontext(), {}

    def peak_gpu_bytes(self):
        import torch

        count = torch.cuda.device_count()
        peak = sum(torch.cuda.max_memory_allocated(i) for i in range(count))
        return peak, "torch.cuda.max_memory_allocated"

    def precision_facts(self):
        import torch

        # The fused LSTM is cuDNN's RNN, which follows cuDNN's own switch (on by default), not
        # the matmul one (off by default): both are reported.
        return {
            "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
            "tf32_cudnn": bool(torch.backends.cudnn.allow_tf32),
        }

    def thread_facts(self):
        import torch

        return {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()}
