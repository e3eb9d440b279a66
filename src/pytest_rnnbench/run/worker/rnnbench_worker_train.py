"""The training run: import the framework, load the data, build the model, warm up, time the
epochs, and assemble the result. `train` is what main runs; every step below is one function.

(Named rnnbench_worker_*: this directory is first on sys.path, see __main__.py.)
"""

import contextlib
import os
import platform
import statistics
import sys
import time

import rnnbench_worker_backends as backends
from rnnbench_worker_backend import keras_major, simulated_devices
from rnnbench_worker_clock import make_step_clock
from rnnbench_worker_data import load_data
from rnnbench_worker_measure import DeviceSync, cpu_snapshot, cpu_usage, host_peak_rss_bytes
from rnnbench_worker_model import build_model, fit_kwargs
from rnnbench_worker_probe import probe
from rnnbench_worker_protocol import Turns

clock = time.perf_counter


class Run(object):
    """One training run's state, filled in as the run goes (see `train`)."""

    def __init__(self, request, channel):
        self.request = request
        self.channel = channel
        self.case = request["case"]
        self.epochs = []


def train(request, channel, control_fd=None):
    """Train the request's case and return the result message's `result`."""
    run = Run(request, channel)
    start_framework(run)
    load(run)
    build(run, control_fd)
    probes = [probe_machine(run)] if request.get("machine_probe") else []
    warm_up(run)
    for repeat in range(request["repeats"]):
        run.epochs.append(timed_epoch(run, repeat))
    if probes:
        probes.append(probe_machine(run))
    return dict(result(run), **machine_probe_record(probes))


def probe_machine(run):
    """The machine-speed probe (rnnbench_worker_probe.py), outside the timed epochs."""
    run.channel.send("phase", phase="probing the machine's speed")
    return probe()


def machine_probe_record(probes):
    """The result's `machine_probe` from the probes before the warm-up and after the last timed
    epoch: the median of all their rounds (ms), and each probe's; nothing when none ran."""
    if not probes:
        return {}
    return {
        "machine_probe": {
            "ms": statistics.median(ms for found in probes for ms in found["rounds_ms"]),
            "probes_ms": [found["ms"] for found in probes],
            "processes": probes[0]["processes"],
        }
    }


def start_framework(run):
    """Import Keras on the case's backend, record versions, check the case's GPUs are there."""
    started = clock()
    run.channel.send("phase", phase="importing %s" % run.case["backend"])
    run.backend = backends.backend_for(run.case["backend"])
    # Through the module's import_keras, not the backend's: test harnesses replace it to inject
    # faults into Keras.
    run.keras = backends.import_keras(run.backend.name)
    run.origin = backends.keras_origin(run.keras, run.request)
    import numpy as np

    run.np = np
    run.versions = {"keras": run.keras.__version__, "numpy": np.__version__}
    run.versions.update(run.backend.framework_versions())
    run.seen = run.backend.gpus_seen()
    run.simulated = simulated_devices()
    gpus = run.case["gpus"]
    if gpus and run.seen < gpus and run.simulated < gpus:
        # The controller starts a GPU case only where NVML shows its GPUs, so a framework that
        # cannot see them is broken here (a CPU-only build, CUDA libraries it cannot load): a
        # failure to look into, never a skip that would leave a GPU job green with nothing run.
        raise RuntimeError(no_gpu_message(run.backend, gpus, run.seen))
    run.import_s = clock() - started


def no_gpu_message(backend, gpus, seen):
    """Why a GPU case cannot run: what the framework answered, and where to look."""
    message = "the case needs %d GPU(s), which NVML shows, but %s sees %d" % (
        gpus,
        backend.name,
        seen,
    )
    if backend.gpu_error:
        message += " (asking it raised %s)" % backend.gpu_error
    message += ": a CPU-only build, or CUDA libraries it cannot load"
    if backend.name == "tensorflow":
        message += " (TF_CPP_MIN_LOG_LEVEL=0 in the environment shows TensorFlow's own reasons)"
    return message


def load(run):
    """Load the case's data and seed the framework's random numbers."""
    run.channel.send("phase", phase="loading data")
    run.x, run.y = load_data(run.request["data"], run.np)
    run.samples, run.timesteps, run.vocab = run.x.shape
    run.batch = run.case["batch_size"]
    run.steps_per_epoch = -(-run.samples // run.batch)
    if keras_major(run.keras) >= 3:
        run.keras.utils.set_random_seed(run.request["seed"])
    else:
        run.np.random.seed(run.request["seed"])


def build(run, control_fd):
    """Build and compile the model on the case's devices; set up the step clock and turns."""
    request = run.request
    run.channel.send("phase", phase="building model")
    scope, compile_extra = run.backend.prepare_devices(run.case["gpus"], run.keras)
    with scope:
        run.model, optimizer = build_model(run.keras, run.timesteps, run.vocab, run.case["unroll"])
        run.model.compile(loss="categorical_crossentropy", optimizer=optimizer, **compile_extra)
    run.sync = DeviceSync(run.backend)
    run.slowdown = float(request.get("inject_slowdown", 1.0))
    # Optional factor per timed epoch (cycled): benchmarks/gate_calibration.py alternates
    # unchanged and slowed epochs in one process.
    run.schedule = [float(f) for f in request.get("inject_slowdown_schedule") or []]
    run.turns = None
    if request.get("turn_steps"):
        if control_fd is None:
            raise ValueError("turn_steps needs a control pipe (--control-fd)")
        run.turns = Turns(run.channel, control_fd, int(request["turn_steps"]))
    run.step_clock = make_step_clock(
        run.keras,
        run.channel,
        run.slowdown,
        inline=bool(run.schedule),
        turns=run.turns,
        sync=run.sync,
    )


def warm_up(run):
    """Train one full batch plus the epoch's last partial batch, so both shapes are compiled
    before the clock runs and the timed epochs measure training, not tracing. The warm-up also
    observes which LSTM kernel the backend takes (the timed epochs run unobserved)."""
    run.channel.send("phase", phase="compiling (warm-up)")
    samples, batch = run.samples, run.batch
    remainder = samples % batch
    warm = min(samples, batch + remainder) if remainder else min(samples, batch)
    observer = run.backend.lstm_observer(run.keras)
    run.sync(run.model)
    t0 = clock()
    with observer if observer is not None else contextlib.nullcontext():
        run.model.fit(
            run.x[:warm], run.y[:warm], batch_size=batch, epochs=1, **fit_kwargs(run.keras)
        )
    run.sync(run.model)
    run.warmup_s = clock() - t0
    run.lstm_kernel = observer.kernel() if observer is not None else None


def timed_epoch(run, repeat):
    """Train and time one epoch over all the data; return its entry of the result's epochs."""
    step_clock, turns = run.step_clock, run.turns
    label = "epoch %d of %d" % (repeat + 1, run.request["repeats"])
    run.channel.send("phase", phase=label, steps=run.steps_per_epoch)
    if run.schedule:
        step_clock.slowdown = run.schedule[repeat % len(run.schedule)]
    if turns is not None:
        turns.wait()  # every epoch starts on a turn of its own
    run.sync(run.model)
    cpu_before = cpu_snapshot()
    step_clock.begin(label, run.steps_per_epoch)
    t0 = step_clock.last
    history = run.model.fit(
        run.x,
        run.y,
        batch_size=run.batch,
        epochs=1,
        callbacks=[step_clock],
        **fit_kwargs(run.keras),
    )
    run.sync(run.model)
    t1 = clock()
    step_seconds = list(step_clock.durations)
    # From the first step's start (fit's setup before it is kept apart). Taking turns, the wall
    # clock also holds the other worker's turns: count only our own.
    start = step_clock.first_step_start if step_clock.first_step_start is not None else t0
    seconds = t1 - start if turns is None else sum(step_seconds) + (t1 - step_clock.last)
    cpu = cpu_usage(cpu_before, cpu_snapshot(), t1 - t0)
    if turns is not None:
        # The other workers' turns ran during this epoch's wall time: the machine-wide
        # figures would count them as other processes' load. Only our own use is kept.
        cpu.update(others_seconds=None, steal_seconds=None, others_share=None)
    epoch = {
        "seconds": seconds,
        "fit_setup_seconds": step_clock.setup_seconds,
        "step_seconds": step_seconds,
        "loss": float(history.history["loss"][-1]),
        "cpu": cpu,
    }
    if step_clock.slowdown != 1.0:
        epoch["injected_seconds"] = step_clock.injected
    if run.schedule:
        epoch["inject_slowdown"] = step_clock.slowdown
    return epoch


def result(run):
    """The result message's `result`: the measurements and what ran, as docs/formats.md says."""
    request, case, turns = run.request, run.case, run.turns
    on_gpu = bool(case["gpus"]) and run.seen > 0
    gpu_peak, gpu_peak_source = (
        run.backend.peak_gpu_bytes() if on_gpu else (None, "no GPU in this case")
    )
    return {
        "case": case,
        "samples": run.samples,
        "samples_cap": request["data"].get("cap"),
        "timesteps": run.timesteps,
        "vocab": run.vocab,
        "steps_per_epoch": run.steps_per_epoch,
        "repeats": request["repeats"],
        "epochs": run.epochs,
        "warmup_seconds": run.warmup_s,
        "import_seconds": run.import_s,
        "final_loss": run.epochs[-1]["loss"],
        "host_peak_rss_bytes": host_peak_rss_bytes(),
        "gpu_framework_peak_bytes": gpu_peak,
        "gpu_framework_peak_source": gpu_peak_source,
        "gpus_seen": run.seen,
        "inject_slowdown": run.slowdown,
        "turn_steps": turns.steps if turns is not None else None,
        "turns_taken": turns.taken if turns is not None else None,
        "versions": run.versions,
        "keras_origin": run.origin,
        "run": run_facts(run),
        "python": {"executable": sys.executable, "version": platform.python_version()},
    }


def run_facts(run):
    """The result's `run`: what actually ran, and how the run was set up."""
    return dict(
        run.backend.run_facts(run.keras, run.model, run.case["unroll"], run.lstm_kernel),
        preallocate=os.environ.get("RNNBENCH_PREALLOCATE") == "1",
        parallel=run.backend.parallel,
        sync={"method": run.sync.method, "calls": run.sync.calls},
        simulated_devices=run.simulated,
        cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
        # How the controller set up a CPU case's thread pools ("steady" or the defaults).
        thread_pools=os.environ.get("RNNBENCH_THREAD_POOLS") or "default",
    )
