"""Benchmark worker: trains one case and replies with one JSON result.

This file is run as a script by the backend's own interpreter (`python worker.py --result-fd N`),
which may be a different virtual environment from the one running pytest (Keras-MXNet is also a
package named `keras`). So it imports nothing from pytest_rnnbench and only the standard library,
numpy and Keras at module level; it must run under Keras 3 (tensorflow, jax, torch) and under the
Keras 2.2.4 fork Keras-MXNet.

Protocol (version 1): the request is one JSON document on stdin. Replies are JSON lines on the file
descriptor given by --result-fd, never stdout (frameworks print there). Each line is an object with
"v": 1 and a "type": "started", "phase", "progress", "turn", "result" or "error". Exactly one
"result" or "error" ends a run. With "turn_steps" in the request (live A/B), the worker also reads
one byte from the pipe given by --control-fd before each turn (see Turns).

The file reads top to bottom: the protocol, the backends (one class each: everything that differs
between frameworks), the data, the measurements, the training loop, and main.
"""

import contextlib
import json
import os
import platform
import resource
import sys
import time
import traceback

PROTOCOL_VERSION = 1
PROGRESS_INTERVAL_S = 1.0
clock = time.perf_counter


# ------------------------------------------------------------------------------------------------
# Protocol


class Channel:
    """Writes protocol messages to the result pipe."""

    def __init__(self, fd):
        self._out = os.fdopen(fd, "w", buffering=1, encoding="utf-8")

    def send(self, type_, **payload):
        payload.update({"v": PROTOCOL_VERSION, "type": type_})
        self._out.write(json.dumps(payload, allow_nan=True) + "\n")
        self._out.flush()


class Unsupported(Exception):
    """This case cannot run with this backend; the controller turns it into a skip."""


class Turns(object):
    """Live A/B: the workers of a comparison take turns, a few training steps at a time.

    Before each turn (at every epoch's start, and after every `steps` steps) the worker says it
    waits (a "turn" message) and blocks until the controller writes one byte to the control pipe;
    the other workers' turns run meanwhile. Neighbouring turns see the same machine, so its drift
    and its neighbours cancel out of the comparison. End of file on the pipe (no one left to take
    turns with) means: run on without turns.
    """

    def __init__(self, channel, control_fd, steps):
        self._channel = channel
        self._control = os.fdopen(control_fd, "rb", buffering=0)
        self.steps = steps
        self.taken = 0
        self.free = False

    def wait(self):
        if self.free:
            return
        self._channel.send("turn", turn=self.taken)
        self.taken += 1
        if not self._control.read(1):
            self.free = True


# ------------------------------------------------------------------------------------------------
# Backends: everything that differs between frameworks. Each imports its framework only when
# asked, since this file also loads in environments that lack the other frameworks.


def keras_major(keras):
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
    # Whether Keras takes its cuDNN kernel for a non-unrolled LSTM on GPU with this backend.
    cudnn_lstm = False

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
        raise NotImplementedError

    def gpus_seen(self):
        """How many GPUs the framework sees in this process (CUDA_VISIBLE_DEVICES applied)."""
        try:
            return self.count_gpus()
        except Exception:  # a CPU-only build may raise instead of answering 0
            return 0

    def prepare_devices(self, gpus, keras):
        """Set up what must exist before the model is built; return (scope, compile kwargs).

        Cases with more than one device train data-parallel: JAX through Keras's DataParallel,
        TensorFlow under MirroredStrategy, MXNet with a context list. With
        RNNBENCH_SIMULATE_DEVICES the devices are slices of the CPU (set up by the controller for
        JAX through XLA_FLAGS).
        """
        return contextlib.nullcontext(), {}

    def peak_gpu_bytes(self):
        """The framework's own peak device memory, summed over visible GPUs, or (None, reason)."""
        raise NotImplementedError

    def precision_facts(self):
        """How matrix products ran (TF32, precision setting), as far as the framework says."""
        return {}

    def run_facts(self, keras, model, unroll, on_gpu):
        """What actually ran: the LSTM path, jit/XLA and matmul precision, as far as each backend
        says."""
        facts = {"lstm_path": "unrolled loop" if unroll else "generic loop"}
        if not unroll and on_gpu and self.cudnn_lstm:
            facts["lstm_path"] = "cuDNN"
        if keras_major(keras) >= 3:
            facts["jit_compile"] = bool(getattr(model, "jit_compile", False))
        facts.update(self.precision_facts())
        return facts


class TensorFlowBackend(Backend):
    """Keras 3 on TensorFlow; several devices train under MirroredStrategy."""

    name = "tensorflow"
    cudnn_lstm = True

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


class JaxBackend(Backend):
    """Keras 3 on JAX; several devices train through keras.distribution.DataParallel."""

    name = "jax"
    cudnn_lstm = True

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


class TorchBackend(Backend):
    """Keras 3 on PyTorch; Keras has no data-parallel fit for it, so one device at most."""

    name = "torch"
    cudnn_lstm = True

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

        return {"tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32)}


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
    """Import Keras for the named backend, checking that Keras loaded that backend."""
    return backend_for(backend).import_keras()


# ------------------------------------------------------------------------------------------------
# Data: the controller prepared and cached the expensive part; here we only expand to one-hot.


def load_data(spec, np):
    """Return float32 one-hot (x, y) as the seed fed them, capped to spec["samples"]."""
    samples = spec["samples"]
    if spec["kind"] == "synthetic":
        # The seed draws random booleans for x and a random multi-hot y; a fixed seed makes every
        # case and every backend train on the same data.
        rng = np.random.RandomState(spec["seed"])
        timesteps, features = spec["timesteps"], spec["features"]
        x = rng.randint(0, 2, size=(samples, timesteps, features)).astype("float32")
        y = rng.randint(0, 2, size=(samples, features)).astype("float32")
        return x, y
    if spec["kind"] == "text":
        with np.load(spec["path"], allow_pickle=False) as arrays:  # data, never pickles
            x_idx = arrays["x"][:samples]
            y_idx = arrays["y"][:samples]
        vocab = spec["vocab"]
        n, timesteps = x_idx.shape
        x = np.zeros((n, timesteps, vocab), dtype="float32")
        x[np.arange(n)[:, None], np.arange(timesteps)[None, :], x_idx] = 1.0
        y = np.zeros((n, vocab), dtype="float32")
        y[np.arange(n), y_idx] = 1.0
        return x, y
    raise ValueError("unknown data kind %r" % (spec["kind"],))


# ------------------------------------------------------------------------------------------------
# Measurement: device sync, CPU and memory use, step times


class DeviceSync(object):
    """Waits for all queued device work; the clock never reads before it returns.

    Counts its calls and names its method, so the result shows the synchronization happened.
    """

    def __init__(self, backend):
        self.calls = 0
        self._wait, self.method = backend.device_wait()

    def __call__(self, model=None):
        self._wait(model)
        self.calls += 1


def cpu_snapshot():
    """(this process's CPU seconds, the machine's busy CPU seconds, its steal seconds).

    The machine-wide figures come from /proc/stat (Linux); elsewhere they are None.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    own = usage.ru_utime + usage.ru_stime
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return own, None, None
    tick = float(os.sysconf("SC_CLK_TCK"))
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return own, (user + nice + system + irq + softirq) / tick, steal / tick


def cpu_usage(before, after, wall_seconds):
    """How much of the machine's CPU others took while an epoch ran.

    On a shared machine other processes (and, in a VM, the hypervisor's steal) stretch the wall
    clock without any change in the code; the verdict distrusts timings taken while they did.
    """
    cpus = os.cpu_count() or 1
    own = after[0] - before[0]
    if before[1] is None or after[1] is None or wall_seconds <= 0:
        return {
            "own_seconds": own,
            "others_seconds": None,
            "steal_seconds": None,
            "cpus": cpus,
            "others_share": None,
        }
    others = max(0.0, (after[1] - before[1]) - own)
    steal = max(0.0, after[2] - before[2])
    return {
        "own_seconds": own,
        "others_seconds": others,
        "steal_seconds": steal,
        "cpus": cpus,
        "others_share": (others + steal) / (wall_seconds * cpus),
    }


def host_peak_rss_bytes():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def stall(start, seconds):
    """Keep this thread busy for `seconds` after `start`; returns the clock at the end.

    A busy wait rather than a sleep, as extra work in the training loop would be: a sleeping
    thread frees its core (and lets thread pools park), which a real slowdown does not.
    """
    end = start + seconds
    now = clock()
    while now < end:
        now = clock()
    return now


def make_step_clock(keras, channel, slowdown, inline=False, turns=None, sync=None):
    """A callback that times each step; it adds no device sync of its own outside turns.

    Keras 3 calls it from its async callback thread (`async_safe`), after the step's logs are
    ready, so a timestamp marks the step's completion without stalling the dispatch loop. Keras 2
    calls it inline. `slowdown` > 1 stretches every step by that factor (the gate's power test);
    the attribute `slowdown` may change between epochs (gate calibration alternates factors),
    and `inline` keeps every epoch on the same inline path so alternated epochs are alike.
    With `turns` (live A/B) the clock ends a turn every `turns.steps` steps and at the epoch's
    last step: it waits for the device (`sync`), times the step, then blocks until the next turn
    (except after the last step: the next epoch starts on a turn of its own); the wait belongs
    to no step.
    """

    class StepClock(keras.callbacks.Callback):
        # An injected slowdown or a turn must stall the training loop itself, so they run inline.
        async_safe = slowdown == 1.0 and not inline and turns is None

        def __init__(self):
            super(StepClock, self).__init__()
            self.durations = []
            self.injected = 0.0  # seconds of injected slowdown in this epoch
            self.last = None
            self.epoch_label = ""
            self.total_steps = 0
            self._last_progress = 0.0
            self.slowdown = slowdown

        def begin(self, label, total_steps):
            self.durations = []
            self.injected = 0.0
            self.epoch_label = label
            self.total_steps = total_steps
            self.last = clock()

        def on_batch_end(self, batch, logs=None):
            step = len(self.durations) + 1
            last_step = step >= self.total_steps
            turn_ends = turns is not None and (step % turns.steps == 0 or last_step)
            if turn_ends:  # a turn's time is exact: its device work is done when it ends
                sync(self.model)
            now = clock()
            if self.slowdown != 1.0:
                stalled = clock()
                now = stall(now, (now - self.last) * (self.slowdown - 1.0))
                self.injected += now - stalled
            self.durations.append(now - self.last)
            self.last = now
            if now - self._last_progress >= PROGRESS_INTERVAL_S:
                self._last_progress = now
                channel.send(
                    "progress",
                    phase=self.epoch_label,
                    step=step,
                    steps=self.total_steps,
                    elapsed_s=sum(self.durations),
                )
            if turn_ends and not last_step:  # the next epoch's start waits for its own turn
                turns.wait()
                self.last = clock()

    if keras_major(keras) >= 3:
        # Keras 3 calls on_train_batch_end, whose default forwards to on_batch_end.
        StepClock.on_train_batch_end = StepClock.on_batch_end
    return StepClock()


# ------------------------------------------------------------------------------------------------
# Training


def build_model(keras, timesteps, vocab, unroll):
    """The seed's model: LSTM(128) + Dense(vocab, softmax), RMSprop(0.01), categorical
    cross-entropy."""
    from keras.layers import LSTM, Dense
    from keras.models import Sequential

    model = Sequential()
    if keras_major(keras) >= 3:
        model.add(keras.Input(shape=(timesteps, vocab)))
        model.add(LSTM(128, unroll=unroll))
        optimizer = keras.optimizers.RMSprop(learning_rate=0.01)
    else:
        model.add(LSTM(128, input_shape=(timesteps, vocab), unroll=unroll))
        optimizer = keras.optimizers.RMSprop(lr=0.01)
    model.add(Dense(vocab, activation="softmax"))
    return model, optimizer


def fit_kwargs(keras):
    return {"verbose": 0, "shuffle": True}


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


def train(request, channel, control_fd=None):
    case = request["case"]
    gpus = case["gpus"]
    started = clock()

    channel.send("phase", phase="importing %s" % case["backend"])
    backend = backend_for(case["backend"])
    # Through the module's import_keras, not the backend's: test harnesses replace it to inject
    # faults into Keras.
    keras = import_keras(backend.name)
    origin = keras_origin(keras, request)
    import numpy as np

    versions = {"keras": keras.__version__, "numpy": np.__version__}
    versions.update(backend.framework_versions())
    seen = backend.gpus_seen()
    simulated = simulated_devices()
    if gpus and seen < gpus and simulated < gpus:
        raise Unsupported("the case needs %d GPU(s) but %s sees %d" % (gpus, backend.name, seen))
    import_s = clock() - started

    channel.send("phase", phase="loading data")
    x, y = load_data(request["data"], np)
    samples, timesteps, vocab = x.shape
    batch = case["batch_size"]

    if keras_major(keras) >= 3:
        keras.utils.set_random_seed(request["seed"])
    else:
        np.random.seed(request["seed"])

    channel.send("phase", phase="building model")
    scope, compile_extra = backend.prepare_devices(gpus, keras)
    with scope:
        model, optimizer = build_model(keras, timesteps, vocab, case["unroll"])
        model.compile(loss="categorical_crossentropy", optimizer=optimizer, **compile_extra)
    sync = DeviceSync(backend)
    slowdown = float(request.get("inject_slowdown", 1.0))
    # Optional factor per timed epoch (cycled): benchmarks/gate_calibration.py alternates
    # unchanged and slowed epochs in one process.
    schedule = [float(f) for f in request.get("inject_slowdown_schedule") or []]
    turns = None
    if request.get("turn_steps"):
        if control_fd is None:
            raise ValueError("turn_steps needs a control pipe (--control-fd)")
        turns = Turns(channel, control_fd, int(request["turn_steps"]))
    step_clock = make_step_clock(
        keras, channel, slowdown, inline=bool(schedule), turns=turns, sync=sync
    )

    # Warm-up: one full batch plus the epoch's last partial batch, so both shapes are compiled
    # before the clock runs and the timed epoch measures training, not tracing.
    channel.send("phase", phase="compiling (warm-up)")
    remainder = samples % batch
    warm = min(samples, batch + remainder) if remainder else min(samples, batch)
    sync(model)
    t0 = clock()
    model.fit(x[:warm], y[:warm], batch_size=batch, epochs=1, **fit_kwargs(keras))
    sync(model)
    warmup_s = clock() - t0

    steps_per_epoch = -(-samples // batch)
    epochs = []
    for repeat in range(request["repeats"]):
        label = "epoch %d of %d" % (repeat + 1, request["repeats"])
        channel.send("phase", phase=label, steps=steps_per_epoch)
        if schedule:
            step_clock.slowdown = schedule[repeat % len(schedule)]
        if turns is not None:
            turns.wait()  # every epoch starts on a turn of its own
        sync(model)
        cpu_before = cpu_snapshot()
        step_clock.begin(label, steps_per_epoch)
        t0 = step_clock.last
        history = model.fit(
            x, y, batch_size=batch, epochs=1, callbacks=[step_clock], **fit_kwargs(keras)
        )
        sync(model)
        t1 = clock()
        step_seconds = list(step_clock.durations)
        # Taking turns, the wall clock also holds the other worker's turns: count only our own.
        seconds = t1 - t0 if turns is None else sum(step_seconds) + (t1 - step_clock.last)
        cpu = cpu_usage(cpu_before, cpu_snapshot(), t1 - t0)
        if turns is not None:
            # The other workers' turns ran during this epoch's wall time: the machine-wide
            # figures would count them as other processes' load. Only our own use is kept.
            cpu.update(others_seconds=None, steal_seconds=None, others_share=None)
        epochs.append(
            {
                "seconds": seconds,
                "step_seconds": step_seconds,
                "loss": float(history.history["loss"][-1]),
                "cpu": cpu,
            }
        )
        if step_clock.slowdown != 1.0:
            epochs[-1]["injected_seconds"] = step_clock.injected
        if schedule:
            epochs[-1]["inject_slowdown"] = step_clock.slowdown

    on_gpu = bool(gpus) and seen > 0
    gpu_peak, gpu_peak_source = (
        backend.peak_gpu_bytes() if on_gpu else (None, "no GPU in this case")
    )
    return {
        "case": case,
        "samples": samples,
        "samples_cap": request["data"].get("cap"),
        "timesteps": timesteps,
        "vocab": vocab,
        "steps_per_epoch": steps_per_epoch,
        "repeats": request["repeats"],
        "epochs": epochs,
        "warmup_seconds": warmup_s,
        "import_seconds": import_s,
        "final_loss": epochs[-1]["loss"],
        "host_peak_rss_bytes": host_peak_rss_bytes(),
        "gpu_framework_peak_bytes": gpu_peak,
        "gpu_framework_peak_source": gpu_peak_source,
        "gpus_seen": seen,
        "inject_slowdown": slowdown,
        "turn_steps": turns.steps if turns is not None else None,
        "turns_taken": turns.taken if turns is not None else None,
        "versions": versions,
        "keras_origin": origin,
        "run": dict(
            backend.run_facts(keras, model, case["unroll"], on_gpu),
            preallocate=os.environ.get("RNNBENCH_PREALLOCATE") == "1",
            parallel=backend.parallel,
            sync={"method": sync.method, "calls": sync.calls},
            simulated_devices=simulated,
            cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
        ),
        "python": {"executable": sys.executable, "version": platform.python_version()},
    }


def main(argv):
    fd = int(argv[argv.index("--result-fd") + 1])
    channel = Channel(fd)
    channel.send("started", pid=os.getpid(), python=sys.executable)
    try:
        request = json.load(sys.stdin)
        if request.get("protocol") != PROTOCOL_VERSION:
            raise ValueError(
                "controller speaks protocol %r, worker speaks %d"
                % (request.get("protocol"), PROTOCOL_VERSION)
            )
        control_fd = int(argv[argv.index("--control-fd") + 1]) if "--control-fd" in argv else None
        result = train(request, channel, control_fd)
    except Unsupported as exc:
        channel.send("error", kind="unsupported", message=str(exc))
        return 3
    except BaseException as exc:  # report everything, including MemoryError and SystemExit
        channel.send(
            "error",
            kind="exception",
            message="%s: %s" % (type(exc).__name__, exc),
            traceback=traceback.format_exc(),
        )
        return 2
    channel.send("result", result=result)
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: some frameworks hang or crash in their atexit handlers, and the
    # result has already been sent.
    os._exit(code)
