"""Where a machine profile's baseline file lives. No pytest.

The profile itself (what makes timings comparable: CPU model and cores, GPUs, driver, CUDA and
Python; not the framework versions, which each baseline entry records instead) is the machine's
identity, `machine.BaselineProfile`.
"""

from __future__ import annotations

from pathlib import Path

from ..machine import BaselineProfile as Profile
from ..machine import baseline_profile as machine_profile

__all__ = ["Profile", "baseline_path", "machine_profile", "other_profiles"]


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
