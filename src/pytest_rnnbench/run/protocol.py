"""What the controller sends a worker: the request and the worker's environment.

The worker protocol itself (versioned JSON lines on a dedicated pipe, one request on stdin) is
documented in docs/formats.md; the worker (run/worker/, a directory run as a script) is its other
end. Both the plugin's session and the scripts under benchmarks/ build requests and environments
here, so a calibration measures exactly what a pytest run measures.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional, Union

# The worker is a directory run as a script (`python run/worker`, which runs its __main__.py): it
# imports nothing from this package, since it also runs under Keras-MXNet's interpreter.
WORKER_SCRIPT = Path(__file__).resolve().parent / "worker"
PROTOCOL_VERSION = 1
MESSAGE_TYPES = frozenset({"started", "phase", "progress", "turn", "result", "error"})
# Every case trains from the same initial weights and data order.
SEED = 1234


def build_request(
    case: Mapping[str, Any],
    data: Mapping[str, Any],
    repeats: int,
    inject_slowdown: float = 1.0,
    machine_probe: bool = False,
) -> dict[str, Any]:
    """The request for one worker: the case (Case.to_dict()), its prepared data, the repeats;
    `machine_probe` asks for the machine-speed probe around the timed epochs
    (rnnbench_worker_probe.py; calibration scripts only)."""
    request: dict[str, Any] = {
        "protocol": PROTOCOL_VERSION,
        "case": dict(case),
        "data": dict(data),
        "repeats": repeats,
        "seed": SEED,
    }
    if inject_slowdown != 1.0:
        request["inject_slowdown"] = inject_slowdown
    if machine_probe:
        request["machine_probe"] = True
    return request


def with_keras_tree(env: Mapping[str, str], tree: Path) -> dict[str, str]:
    """`env` with `tree` first on PYTHONPATH, so `import keras` finds the tree's package first."""
    paths = [str(tree)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    return dict(env, PYTHONPATH=os.pathsep.join(paths))


# glibc malloc's thresholds, fixed at the state it moves them to itself: 32 MiB is the ceiling of
# its dynamic mmap threshold, and it sets the trim threshold to twice the mmap threshold when it
# raises that. Torch's CPU training allocates and frees large buffers every step; left to move,
# the thresholds settle differently from process to process, and some processes keep handing
# the buffers back to the kernel and faulting them in again (about 18,000 page faults a step):
# identical torch processes ran 42-81 ms per step (spread 12.1%), with these 41-47 ms (3.4%),
# the speed the luckier default processes reach (docs/calibration.md).
STEADY_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(64 << 20)}


def steady_thread_env(backend: str) -> dict[str, str]:
    """What `--rnnbench-thread-pools=steady` sets in a CPU case's worker of `backend`.

    TensorFlow's inter-op pool gets one thread (read when TensorFlow starts, so it must be in the
    environment); torch's allocator (glibc malloc) gets fixed thresholds (STEADY_MALLOC); JAX and
    MXNet keep their defaults (settings.THREAD_POOLS says why). RNNBENCH_THREAD_POOLS tells the
    worker to report it, so a baseline is never compared with a run set up otherwise.
    """
    if backend == "tensorflow":
        return {"TF_NUM_INTEROP_THREADS": "1", "RNNBENCH_THREAD_POOLS": "steady"}
    if backend == "torch":
        return dict(STEADY_MALLOC, RNNBENCH_THREAD_POOLS="steady")
    return {}


# Backends that keep compiled programs across processes when told a directory: the variable
# that tells them. JAX's persistent compilation cache turns a 12 s compilation of the unrolled
# LSTM into a 3 s load on the project's 2-core machines, and the program it loads is the one it
# compiled (docs/calibration.md).
COMPILATION_CACHE_VARIABLES = {"jax": "JAX_COMPILATION_CACHE_DIR"}


@contextlib.contextmanager
def shared_compilations(backend: str) -> Iterator[dict[str, dict[str, str]]]:
    """Per side of a live case ("reference", "candidate"), the environment that makes that
    side's workers of `backend` share their compilations, through a directory that lives as long
    as the `with` block (so each case and each run pays its own compilations); {} and no
    directory where the backend keeps none across processes. One directory per side: the two
    sides' first workers compile at the same time, and a cache written by two processes at once
    is one that JAX does not lock."""
    variable = COMPILATION_CACHE_VARIABLES.get(backend)
    if variable is None:
        yield {}
        return
    with tempfile.TemporaryDirectory(prefix="rnnbench-compiled-") as directory:
        sides = {}
        for side in ("reference", "candidate"):
            os.mkdir(os.path.join(directory, side))
            sides[side] = {variable: os.path.join(directory, side)}
        yield sides


def worker_env(
    backend: str,
    gpu_ids: Sequence[Union[int, str]],
    preallocate: bool = False,
    simulate_devices: int = 0,
    base: Optional[Mapping[str, str]] = None,
    thread_pools: str = "default",
) -> dict[str, str]:
    """The environment of a worker of `backend` that may use exactly the GPUs `gpu_ids` (their
    CUDA_VISIBLE_DEVICES entries: indices or UUIDs); a CPU case's thread pools are set up as
    `thread_pools` says (settings.THREAD_POOLS)."""
    env = dict(os.environ if base is None else base)
    # The worker's own settings, never the user's variables of the same names (an empty
    # RNNBENCH_SIMULATE_DEVICES from a CI matrix failed every worker): only what is set below.
    for own in ("RNNBENCH_PREALLOCATE", "RNNBENCH_SIMULATE_DEVICES", "RNNBENCH_THREAD_POOLS"):
        env.pop(own, None)
    env.update(
        {
            "KERAS_BACKEND": backend,
            # A CPU case must not touch a GPU; a GPU case sees exactly its own GPUs.
            "CUDA_VISIBLE_DEVICES": ",".join(map(str, gpu_ids)),
            "TF_CPP_MIN_LOG_LEVEL": env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if gpu_ids:
        # Its device i is NVML's i, which the memory monitor watches (run/devices.py): CUDA's
        # own order puts the fastest first, another on a machine of mixed GPU models.
        env.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    if preallocate:
        env["RNNBENCH_PREALLOCATE"] = "1"
        for name in ("XLA_PYTHON_CLIENT_PREALLOCATE", "TF_FORCE_GPU_ALLOW_GROWTH"):
            env.pop(name, None)
    else:
        # Measure what training uses, not what the framework grabs up front (the seed's
        # "15 GB for TensorFlow" was preallocation).
        env.update({"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "TF_FORCE_GPU_ALLOW_GROWTH": "true"})
    if thread_pools == "steady" and not gpu_ids and not simulate_devices:
        env.update(steady_thread_env(backend))
    if simulate_devices:
        env["RNNBENCH_SIMULATE_DEVICES"] = str(simulate_devices)
        env["XLA_FLAGS"] = (
            env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={simulate_devices}"
        ).strip()
    return env
