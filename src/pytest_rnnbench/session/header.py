"""The report header of a benchmark run: what runs, on what, and how it is judged.

Plain text from the settings and what was found out about the machine; the session hands the
lines to pytest (pytest_report_header).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..matrix import Case
from ..run import datasets
from ..run.devices import GpuInventory
from ..settings import Settings


def header_lines(
    settings: Settings,
    inventory: GpuInventory,
    cases: Sequence[Case],
    xdist_workers: Any,
    judged_by: Sequence[str],
) -> list[str]:
    """The run's header lines: matrix, GPUs, workload, placement, then `judged_by` (the judge's
    own lines). `xdist_workers`: pytest-xdist's -n value on its controller, else None."""
    s = settings
    gpus = (
        f"{inventory.count} x {inventory.names[0]}"
        if inventory.count
        else f"none ({inventory.reason})"
    )
    unrolls = ",".join("true" if u else "false" for u in s.unrolls)
    matrix = (
        f"rnnbench: matrix={s.matrix} backends={','.join(s.backends)} "
        f"gpus={','.join(map(str, s.gpu_counts))} "
        f"batch={','.join(map(str, s.batch_sizes))} unroll={unrolls} "
        f"datasets={','.join(s.datasets)}"
        + (f" samples<={s.samples}" if s.samples else "")
        + f" repeats={s.repeats}"
    )
    slowdown = (
        [f"rnnbench: injecting a slowdown: every training step x{s.inject_slowdown:g}"]
        if s.inject_slowdown != 1.0
        else []
    )
    return (
        [matrix, f"rnnbench: GPUs on this machine: {gpus}"]
        + workload_lines(settings)
        + slowdown
        + placement_lines(settings, inventory, cases, xdist_workers)
        + list(judged_by)
    )


def workload_lines(settings: Settings) -> list[str]:
    """Why benchmarking is on, and what a capped epoch means, when either needs saying."""
    s = settings
    lines = []
    if s.implied_by:
        lines.append(f"rnnbench: {s.implied_by} implies --rnnbench: only the benchmark cases run")
    why = {
        "no-gpu": "this machine has no GPU, and full epochs would take hours on a CPU",
        "preset": f"the {s.matrix} preset",
        "option": "--rnnbench-samples",
    }.get(s.samples_from or "")
    if s.samples and why:
        lines.append(
            f"rnnbench: each epoch is capped at {s.samples:,} samples ({why}); "
            "--rnnbench-samples=full runs the seed's full epochs"
        )
    if s.data_dir is not None:
        # A mistyped data dir is no error (the file comes from the cache or a verified
        # download), but an "offline" run should be told that it may go online.
        files = [datasets.SOURCES[name].filename for name in s.datasets if name in datasets.SOURCES]
        missing = [name for name in files if not (s.data_dir / name).is_file()]
        if missing:
            where = "does not exist" if not s.data_dir.is_dir() else "lacks " + ", ".join(missing)
            lines.append(
                f"rnnbench: the data directory {s.data_dir} {where}: "
                f"{', '.join(missing)} will come from the cache or a verified download"
            )
    return lines


def placement_lines(
    settings: Settings, inventory: GpuInventory, cases: Sequence[Case], xdist_workers: Any
) -> list[str]:
    """Where the cases run: this shard, simulated devices, pytest-xdist workers sharing GPUs."""
    lines = []
    if settings.shard is not None:
        k, n = settings.shard
        lines.append(f"rnnbench: shard {k}/{n}: {len(cases)} cases of this part")
    if settings.simulate_devices:
        lines.append(
            f"rnnbench: {settings.simulate_devices} simulated devices (CPU "
            "slices stand in for GPUs; timings are not GPU timings)"
        )
    if xdist_workers:  # the pytest-xdist controller: say how its workers share the machine
        if inventory.count:
            per = inventory.count // int(xdist_workers) if str(xdist_workers).isdigit() else "some"
            lines.append(
                f"rnnbench: pytest-xdist: each worker owns {per} GPU(s) of "
                f"{inventory.count}; cases never share a GPU"
            )
        else:
            lines.append(
                "rnnbench: pytest-xdist on a machine without GPUs: parallel cases "
                "share the CPU cores, so their timings interfere with each other"
            )
    return lines
