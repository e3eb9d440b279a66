"""Which machine a number was measured on: the host's CPU, a machine's readable name, and the two
kinds of machine profile.

Two profiles, because two questions are asked of a machine:

* `baseline_profile` keys on the exact software and hardware: CPU model and core count, GPU
  models and count, NVIDIA driver and CUDA version, and the Python (major.minor) that ran the
  benchmark. Stored baselines are kept per baseline profile, so a verdict compares only numbers
  measured on the same hardware *and* the same driver, CUDA and Python. It leaves out what drifts
  (clocks, hostname, load) and the Keras and framework versions, which the gate exists to compare.
* `hardware_profile` keys on the hardware alone: the machine's given name, CPU model and count,
  GPU models. A history follows one hardware profile across runs; a driver, CUDA or Python update
  is a suspect for a change in that history, not a new machine.

A leaf: no import of the package, no pytest, no framework.
"""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

# ------------------------------------------------------------------------------------------------
# The host's CPU.


def cpu_model() -> str:
    """This host's CPU model name as the kernel reports it (the platform's guess elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity), which is what a benchmark can use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# What a CPU's model name carries besides the model: trademarks, the words "CPU" and "Processor",
# and the clock (on some VMs the current one, so it drifts). The core count ("48-Core") is part of
# the model for baseline profiles; reports drop it because they show the CPU count beside it.
_CPU_NOISE = re.compile(r"\((?:R|TM|tm|r)\)|\bCPU\b|\bProcessor\b|@.*$")
_CORE_COUNT = re.compile(r"\d+-Core")


def cpu_name(model: str, core_count: bool = True) -> str:
    """ "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz" -> "Intel Xeon Platinum 8375C".

    The one normalisation of CPU names: baseline profiles key on it (with the core count), reports
    show it (without). An empty result falls back to the name as given.
    """
    name = _CPU_NOISE.sub(" ", model or "")
    if not core_count:
        name = _CORE_COUNT.sub(" ", name)
    return " ".join(name.split()) or model


def short_cpu(model: str) -> str:
    """ "AMD EPYC 7R13 48-Core Processor" -> "AMD EPYC 7R13" (cpu_name without cores)."""
    return cpu_name(model or "", core_count=False) or "unknown CPU"


def instance_name(machine: Mapping[str, Any]) -> str:
    """A readable name for a machine section of a results file: its given name, else
    "4x NVIDIA A10G", else the CPU ("Intel Xeon, 2 CPUs"). The reports' "Instance" column."""
    for key in ("name", "instance"):
        if machine.get(key):
            return str(machine[key])
    gpus = [str(name) for name in machine.get("gpus") or []]
    if gpus:
        kinds = sorted(set(gpus))
        return " + ".join(f"{gpus.count(kind)}x {kind}" for kind in kinds)
    cpus = machine.get("cpus")
    return short_cpu(str(machine.get("cpu", ""))) + (f", {cpus} CPUs" if cpus else "")


# ------------------------------------------------------------------------------------------------
# Baselines: the exact software and hardware.


@dataclass(frozen=True)
class BaselineProfile:
    """The exact software and hardware a stored baseline was measured on (see the module)."""

    cpu: str
    cpus: int
    gpu: Optional[str]
    gpus: int
    driver: Optional[str]
    cuda: Optional[str]
    python: str

    def to_dict(self) -> dict[str, Any]:
        """The "profile" section of a baseline file."""
        return {
            "cpu": self.cpu,
            "cpus": self.cpus,
            "gpu": self.gpu,
            "gpus": self.gpus,
            "driver": self.driver,
            "cuda": self.cuda,
            "python": self.python,
        }

    @property
    def name(self) -> str:
        """A readable, stable file stem: intel-xeon-platinum-8375c-2cpu_nogpu_py3.11."""
        cpu = _slug(cpu_name(self.cpu)) or "cpu"
        parts = [f"{cpu}-{self.cpus}cpu"]
        if self.gpus:
            parts.append(f"{self.gpus}x-{_slug(self.gpu or 'gpu')}")
            parts.append(f"driver{self.driver or 'unknown'}-cuda{self.cuda or 'unknown'}")
        else:
            parts.append("nogpu")
        parts.append(f"py{self.python}")
        return "_".join(parts)

    def describe(self) -> str:
        """One line for the terminal: the CPU, the GPUs with driver and CUDA, the Python."""
        gpu = (
            f"{self.gpus} x {self.gpu} (driver {self.driver}, CUDA {self.cuda})"
            if self.gpus
            else "no GPU"
        )
        return f"{self.cpu} ({self.cpus} CPUs), {gpu}, Python {self.python}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.")[:60]


def baseline_profile(
    cpu: str,
    cpus: int,
    gpu_names: Sequence[str],
    driver: Optional[str],
    cuda: Optional[str],
    python_version: str,
) -> BaselineProfile:
    """The baseline profile of a machine: keys on the exact software and hardware."""
    kinds = sorted(set(gpu_names))
    return BaselineProfile(
        # The model identifies the hardware; the clock in its name is sometimes the current one.
        cpu=cpu_name(cpu),
        cpus=int(cpus),
        gpu=" + ".join(kinds) if kinds else None,
        gpus=len(gpu_names),
        # Without a GPU the driver and CUDA versions measure nothing.
        driver=driver if gpu_names else None,
        cuda=cuda if gpu_names else None,
        python=".".join(python_version.split(".")[:2]),
    )


# ------------------------------------------------------------------------------------------------
# Histories: the hardware alone.


@dataclass(frozen=True, order=True)
class HardwareProfile:
    """The hardware a run measured on; a history compares only runs of one hardware profile."""

    name: str  # the machine's given name ("name" or "instance" in its section), or ""
    cpu: str  # the CPU model without trademarks and clock (cpu_name)
    cpus: int
    gpus: tuple[str, ...]  # one model name per GPU, sorted

    @property
    def label(self) -> str:
        """ "Intel Xeon, 2 CPUs"; "4x NVIDIA A10G (AMD EPYC 7R13, 48 CPUs)"; a given name."""
        machine = {"name": self.name, "cpu": self.cpu, "cpus": self.cpus, "gpus": self.gpus}
        label = instance_name(machine)
        if self.gpus and not self.name:
            label += f" ({short_cpu(self.cpu)}, {self.cpus} CPUs)"
        return label

    @property
    def slug(self) -> str:
        """A directory name for the profile's charts: lowercase letters, digits and dashes."""
        return re.sub(r"[^a-z0-9]+", "-", self.label.lower()).strip("-") or "machine"


def hardware_profile(machine: Mapping[str, Any]) -> HardwareProfile:
    """The hardware profile of a results file's machine section: keys on the hardware alone.

    ValueError (saying what is missing) when the section lacks the CPU model, the CPU count or
    the GPU list.
    """
    cpu, cpus, gpus = machine.get("cpu"), machine.get("cpus"), machine.get("gpus")
    if not isinstance(cpu, str) or not isinstance(cpus, int) or not isinstance(gpus, list):
        raise ValueError(
            "the machine section needs cpu (text), cpus (a number) and gpus (a list) "
            "to tell which machine profile the run belongs to"
        )
    name = str(machine.get("name") or machine.get("instance") or "")
    return HardwareProfile(name, cpu_name(cpu), cpus, tuple(sorted(str(gpu) for gpu in gpus)))
