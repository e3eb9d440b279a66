"""The machine profile a baseline file belongs to: what makes timings comparable. No pytest.

A profile names the CPU model and core count, GPU model and count, NVIDIA driver and CUDA version,
and the Python (major.minor) running the benchmark. It leaves out what drifts (clocks, hostname,
load). The Keras and framework versions are *not* part of it: comparing a new Keras (or
Keras-MXNet) against the numbers of the old one is what the gate is for, and each backend's
versions are only known once its worker ran. Each baseline entry records the versions it was
measured with instead, and a verdict says when they differ.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..run.devices import cpu_name


@dataclass(frozen=True)
class Profile:
    """One machine profile; its `name` is the stem of its baseline file."""

    cpu: str
    cpus: int
    gpu: Optional[str]
    gpus: int
    driver: Optional[str]
    cuda: Optional[str]
    python: str

    def to_dict(self) -> dict[str, Any]:
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
        gpu = (
            f"{self.gpus} x {self.gpu} (driver {self.driver}, CUDA {self.cuda})"
            if self.gpus
            else "no GPU"
        )
        return f"{self.cpu} ({self.cpus} CPUs), {gpu}, Python {self.python}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.")[:60]


def machine_profile(
    cpu: str,
    cpus: int,
    gpu_names: Sequence[str],
    driver: Optional[str],
    cuda: Optional[str],
    python_version: str,
) -> Profile:
    """The profile of a machine, from what was found out about it."""
    kinds = sorted(set(gpu_names))
    # The model identifies the hardware; the clock in its name is sometimes the current one.
    cpu = cpu_name(cpu)
    return Profile(
        cpu=cpu,
        cpus=int(cpus),
        gpu=" + ".join(kinds) if kinds else None,
        gpus=len(gpu_names),
        driver=driver if gpu_names else None,
        cuda=cuda if gpu_names else None,
        python=".".join(python_version.split(".")[:2]),
    )


def baseline_path(directory: Path, profile: Profile) -> Path:
    """Where `profile`'s baseline file lives in `directory`."""
    return Path(directory) / f"{profile.name}.json"


def other_profiles(directory: Path, profile: Profile) -> list[str]:
    """Names of the baseline files in `directory` that belong to other profiles."""
    try:
        names = sorted(p.name for p in Path(directory).glob("*.json"))
    except OSError:
        return []
    return [name for name in names if name != baseline_path(directory, profile).name]
