"""GPU discovery through NVML (nvidia-ml-py) and GPU assignment for workers.

No GPU, no driver, or no nvidia-ml-py all mean "0 GPUs" with a reason, never an error.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class GpuInventory:
    count: int = 0
    names: tuple[str, ...] = ()
    driver: Optional[str] = None
    cuda: Optional[str] = None
    reason: str = ""  # why there are none, when count == 0
    memory_bytes: tuple[int, ...] = field(default=())


def discover_gpus() -> GpuInventory:
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
        names = tuple(_text(pynvml.nvmlDeviceGetName(h)) for h in handles)
        memory = tuple(int(pynvml.nvmlDeviceGetMemoryInfo(h).total) for h in handles)
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        cuda_raw = pynvml.nvmlSystemGetCudaDriverVersion()
        cuda = f"{cuda_raw // 1000}.{(cuda_raw % 1000) // 10}"
    except pynvml.NVMLError as exc:
        return GpuInventory(reason=f"NVML could not list GPUs ({exc})")
    finally:
        pynvml.nvmlShutdown()
    return GpuInventory(count=count, names=names, driver=driver, cuda=cuda,
                        reason="" if count else "NVML found no GPU", memory_bytes=memory)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def visible_devices(gpus: int, first: int = 0) -> str:
    """CUDA_VISIBLE_DEVICES for a case needing `gpus` GPUs; "" hides every GPU from CPU cases."""
    return ",".join(str(first + i) for i in range(gpus))


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
