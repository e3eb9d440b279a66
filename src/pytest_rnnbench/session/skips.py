"""Why a case cannot run here, known at collection before any worker starts: its GPUs (or
simulated devices), this pytest-xdist worker's block of them, the gate's head tree, its batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

from ..matrix import Case
from ..run.devices import GpuInventory, Slot
from ..run.trees import SourceTree, backends_of
from ..settings import Settings

__all__ = ["why_not_here"]


def why_not_here(
    case: Case,
    settings: Settings,
    inventory: GpuInventory,
    slot: Optional[Slot],
    trees: Mapping[str, SourceTree],
) -> Optional[str]:
    """The reason its test is skipped with, or None when `case` can run on this machine (`slot`
    None: on any of its pytest-xdist workers)."""
    simulated = settings.simulate_devices
    if simulated:
        if case.gpus > simulated:
            return (
                f"needs {case.gpus} device(s); --rnnbench-simulate-devices={simulated} "
                "provides fewer"
            )
    elif case.gpus > inventory.count:
        why = f": {inventory.reason}" if inventory.reason else ""
        return f"needs {case.gpus} GPU(s), this machine has {inventory.count}{why}"
    elif slot is not None and case.gpus > len(slot.gpu_indices):
        return f"needs {case.gpus} GPU(s) but {slot.describe()}"
    if trees:
        served = backends_of(trees["head"].path)
        if served and case.backend not in served:
            return (
                f"the head tree's Keras serves {', '.join(served)}, not {case.backend} "
                f"({trees['head'].path})"
            )
    if case.gpus > 1 and case.batch_size % case.gpus:
        return f"batch size {case.batch_size} does not divide across {case.gpus} GPUs"
    return None
