"""GPU discovery through NVML (nvidia-ml-py) and which GPUs this process owns (under pytest-xdist
each worker process owns a disjoint block). The host's CPU is machine.py's.

No GPU, no driver, or no nvidia-ml-py all mean "0 GPUs" with a reason, never an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from .gpu_claim import claim_block


@dataclass(frozen=True)
class GpuInventory:
    """The GPUs this process may use: those CUDA_VISIBLE_DEVICES lets it see, in its order."""

    count: int = 0
    names: tuple[str, ...] = ()
    driver: Optional[str] = None
    cuda: Optional[str] = None
    reason: str = ""  # why there are none, when count == 0
    memory_bytes: tuple[int, ...] = field(default=())
    # Per visible GPU: NVML's index (what the memory monitor samples) and the entry a worker's
    # CUDA_VISIBLE_DEVICES gets for it (the user's own spelling: an index or a UUID).
    nvml_indices: tuple[int, ...] = ()
    cuda_ids: tuple[str, ...] = ()


def visible_gpus(visible: Optional[str], uuids: Sequence[str]) -> tuple[list[int], list[str], str]:
    """Which of NVML's GPUs (their UUIDs, in NVML's order) a CUDA program sees under
    CUDA_VISIBLE_DEVICES=`visible` (None: unset), as CUDA reads it: every GPU when unset, else
    the comma-separated entries in order, each an index or a GPU UUID (or a unique prefix of
    one), up to the first that names no GPU or one already named (CUDA ignores the rest). Returns
    their NVML indices, their entries, and why the list stopped early ("" if it did not).

    An index is taken in NVML's order (PCI bus order), which is CUDA's on a machine of one GPU
    model or with CUDA_DEVICE_ORDER=PCI_BUS_ID; the workers get the entries as written, so they
    see what the user meant either way. MIG devices are not supported (NVML's per-process
    figures are per GPU): such an entry ends the list, saying so."""
    if visible is None:
        return list(range(len(uuids))), [str(i) for i in range(len(uuids))], ""
    indices: list[int] = []
    entries: list[str] = []
    for entry in (part.strip() for part in visible.split(",")):
        if entry.isdigit() and int(entry) < len(uuids):
            found = [int(entry)]
        elif entry.startswith("GPU-"):
            found = [i for i, uuid in enumerate(uuids) if uuid.startswith(entry)]
        else:
            found = []
        if len(found) != 1 or found[0] in indices:
            if entry.startswith("MIG-"):
                why = "a MIG device, which is not supported"
            else:
                why = "a GPU already named" if found and found[0] in indices else "no GPU"
            return indices, entries, f"CUDA_VISIBLE_DEVICES: its entry {entry!r} names {why}"
        indices.append(found[0])
        entries.append(entry)
    return indices, entries, ""


def discover_gpus(environ: Optional[Mapping[str, str]] = None) -> GpuInventory:
    """The GPUs this process may use (see GpuInventory), from NVML and CUDA_VISIBLE_DEVICES."""
    env = os.environ if environ is None else environ
    try:
        import pynvml  # provided by nvidia-ml-py; light, no framework
    except ImportError:
        return GpuInventory(reason="nvidia-ml-py is not installed (pip install nvidia-ml-py)")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return GpuInventory(reason=f"no NVIDIA driver or GPU ({exc})")
    try:
        count = pynvml.nvmlDeviceGetCount()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        uuids = [_text(pynvml.nvmlDeviceGetUUID(h)) for h in handles]
        indices, entries, stopped = visible_gpus(env.get("CUDA_VISIBLE_DEVICES"), uuids)
        names = tuple(_text(pynvml.nvmlDeviceGetName(handles[i])) for i in indices)
        memory = tuple(int(pynvml.nvmlDeviceGetMemoryInfo(handles[i]).total) for i in indices)
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        cuda_raw = pynvml.nvmlSystemGetCudaDriverVersion()
        cuda = f"{cuda_raw // 1000}.{(cuda_raw % 1000) // 10}"
    except pynvml.NVMLError as exc:
        return GpuInventory(reason=f"NVML could not list GPUs ({exc})")
    finally:
        pynvml.nvmlShutdown()
    if indices:
        reason = ""
    elif count:
        reason = f"{stopped}: no GPU is left visible"
    else:
        reason = "NVML found no GPU"
    return GpuInventory(
        count=len(indices),
        names=names,
        driver=driver,
        cuda=cuda,
        reason=reason,
        memory_bytes=memory,
        nvml_indices=tuple(indices),
        cuda_ids=tuple(entries),
    )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class GpuMemoryMonitor:
    """Samples NVML while a worker runs: its per-process GPU memory peak, the devices' used-memory
    peak, and any other process found on the case's GPUs (which makes timings untrustworthy).

    Use as a context manager around the worker; call `watch(pid)` once the worker's pid is known.
    Without GPUs or NVML it records nothing and says why.
    """

    INTERVAL_S = 0.2

    def __init__(self, gpu_indices: list[int]) -> None:
        import threading

        self.gpu_indices = list(gpu_indices)
        self.pids: set[int] = set()
        self.known: set[int] = set()  # this case's other workers: neither measured nor foreign
        self.process_peak: Optional[int] = None
        self.reference_peak: Optional[int] = None  # the same over the `known` workers
        self.device_used_peak: Optional[int] = None
        self.device_used_start: Optional[int] = None
        self.other_processes: set[int] = set()
        # Whether NVML ever listed one of this case's workers: in a container with its own PID
        # namespace NVML lists host pids, so it lists none, and every pid it lists (the
        # workers' own among them) would look foreign.
        self.saw_ours = False
        self.reason = "" if gpu_indices else "no GPU in this case"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rnnbench-nvml", daemon=True)
        self._pynvml: Any = None  # the pynvml module once NVML is up

    def watch(self, pid: int, measured: bool = True) -> None:
        """A worker of this case (a live A/B case has several): its memory is not a neighbour's.

        Only `measured` workers count towards the per-process peak (a live A/B case reports the
        candidate's, not the reference's).
        """
        (self.pids if measured else self.known).add(pid)

    def __enter__(self) -> GpuMemoryMonitor:
        if not self.gpu_indices:
            return self
        try:
            import pynvml

            pynvml.nvmlInit()
            self._pynvml = pynvml
        except Exception as exc:  # ImportError or NVMLError: nothing to monitor
            self.reason = f"NVML unavailable ({exc})"
            return self
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pynvml is None:
            return
        self._stop.set()
        self._thread.join(timeout=5)
        self._pynvml.nvmlShutdown()
        if not self.saw_ours and self.other_processes and not self.reason:
            # Its pids are another namespace's: ours cannot be told from a neighbour's, so none
            # is called a neighbour (which would make every time verdict inconclusive).
            self.other_processes.clear()
            self.reason = (
                "NVML listed none of the case's workers by pid (a PID namespace: a container's "
                "pids are not NVML's), so another process on the GPU cannot be told from them; "
                "see the device-used figure"
            )
        if self.process_peak is None and not self.reason:
            self.reason = (
                "NVML listed no process with the worker's pid (a PID namespace hides it); "
                "see the device-used figure"
            )

    def _sample(self) -> None:
        nvml = self._pynvml
        used_total = 0
        mine: dict[int, int] = {}  # per worker: its memory summed over this case's GPUs
        theirs: dict[int, int] = {}  # the same for the case's other (reference) workers
        for index in self.gpu_indices:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            used_total += int(nvml.nvmlDeviceGetMemoryInfo(handle).used)
            for proc in nvml.nvmlDeviceGetComputeRunningProcesses(handle):
                if proc.pid in self.pids or proc.pid in self.known:
                    self.saw_ours = True
                if proc.pid in self.pids:
                    mine[proc.pid] = mine.get(proc.pid, 0) + int(proc.usedGpuMemory or 0)
                elif proc.pid in self.known:
                    theirs[proc.pid] = theirs.get(proc.pid, 0) + int(proc.usedGpuMemory or 0)
                elif proc.pid != os.getpid():
                    self.other_processes.add(int(proc.pid))
        if self.device_used_start is None:
            self.device_used_start = used_total
        self.device_used_peak = max(self.device_used_peak or 0, used_total)
        if mine:
            self.process_peak = max(self.process_peak or 0, max(mine.values()))
        if theirs:
            self.reference_peak = max(self.reference_peak or 0, max(theirs.values()))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._sample()
            except Exception as exc:  # a GPU that vanishes mid-run must not kill the session
                self.reason = f"NVML sampling failed ({exc})"
                return
            self._stop.wait(self.INTERVAL_S)

    def to_dict(self) -> dict[str, Any]:
        return {
            "nvml_process_peak_bytes": self.process_peak,
            "nvml_device_used_peak_bytes": self.device_used_peak,
            "nvml_device_used_at_start_bytes": self.device_used_start,
            "nvml_other_processes": sorted(self.other_processes),
            "nvml_reason": self.reason,
        }

    def reference_dict(self) -> dict[str, Any]:
        """to_dict for a live case's reference workers (watched with measured=False): their
        per-process peak, so that a backend without a framework figure (MXNet) has its GPU
        memory compared at all; the devices' figures are the case's."""
        return dict(self.to_dict(), nvml_process_peak_bytes=self.reference_peak)


# ----------------------------------------------------------------------------------------------
# Placement: which GPUs this process owns.


@dataclass(frozen=True)
class Slot:
    """This process's share of the machine's GPUs: per GPU, NVML's index (`gpu_indices`, what
    the memory monitor samples) and the CUDA_VISIBLE_DEVICES entry a worker gets for it."""

    gpu_indices: tuple[int, ...]
    cuda_ids: tuple[str, ...]
    worker: Optional[str] = None  # the pytest-xdist worker id (gw0...), None without xdist
    workers: int = 1

    def describe(self) -> str:
        if self.worker is None:
            return f"GPUs {list(self.cuda_ids)}"
        return (
            f"pytest-xdist worker {self.worker} of {self.workers} owns GPUs {list(self.cuda_ids)}"
        )


def xdist_worker(env: Mapping[str, str]) -> tuple[Optional[str], int, int]:
    """(worker id, its index, worker count) under pytest-xdist; (None, 0, 1) otherwise."""
    worker = env.get("PYTEST_XDIST_WORKER")
    if not worker:
        return None, 0, 1
    match = re.fullmatch(r"gw(\d+)", worker)
    count = int(env.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    return worker, (int(match.group(1)) if match else 0), max(count, 1)


def slot_for(env: Mapping[str, str], gpus: Union[int, GpuInventory]) -> Slot:
    """Disjoint, contiguous blocks of the visible GPUs (`gpus`: an inventory, or a count of GPUs
    numbered 0...): with N xdist workers each owns count // N of them, a worker that replaces a
    crashed one the block it left (gpu_claim.py).

    Contiguous blocks keep a multi-GPU case on neighbouring devices (usually the best-connected
    ones); disjoint blocks mean two parallel cases never share a GPU.
    """
    if isinstance(gpus, int):
        every = tuple(range(gpus))
        gpus = GpuInventory(count=gpus, nvml_indices=every, cuda_ids=tuple(map(str, every)))
    worker, index, count = xdist_worker(env)
    per_worker = gpus.count // count
    if worker is None or per_worker == 0:
        return Slot(gpus.nvml_indices[:per_worker], gpus.cuda_ids[:per_worker], worker, count)
    taken = claim_block(env, index, count)
    if taken is None:
        return Slot((), (), worker, count)
    block = slice(taken * per_worker, (taken + 1) * per_worker)
    return Slot(gpus.nvml_indices[block], gpus.cuda_ids[block], worker, count)
