"""From a worker's result to the per-metric samples a verdict compares. Plain numbers, no pytest.

Time: the per-step times of every timed epoch, cut into consecutive blocks of steps, one sample
per block (the block's median step time, in ms). Neighbouring steps are not independent (a
neighbour's job holds the core for a second, the allocator warms up), and Keras 3 timestamps
steps from its callback thread, which jitters single steps; block medians keep the samples
closer to independent, make the rank test honest about how much evidence there is, and keep a
baseline file small enough to review. The same function makes both sides of every comparison,
so baseline and now always agree on what a sample is.

The other metrics are measured once per run: one sample each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

from ..quantiles import median

BLOCKS_PER_EPOCH = 8


def block_medians(step_seconds: list[float], blocks: int = BLOCKS_PER_EPOCH) -> list[float]:
    """Medians (in ms) of `blocks` consecutive, near-equal blocks of one epoch's step times."""
    steps = [s * 1000.0 for s in step_seconds]
    if not steps:
        return []
    blocks = max(1, min(blocks, len(steps)))
    size, extra = divmod(len(steps), blocks)
    out, start = [], 0
    for index in range(blocks):
        end = start + size + (1 if index < extra else 0)
        out.append(float(median(steps[start:end])))
        start = end
    return out


def turn_means(result: Mapping[str, Any]) -> list[float]:
    """A live A/B worker's mean step time (ms) in each of its turns, in order.

    A turn's steps end with a device sync, so their sum is exact even where single steps are
    timestamped late (the next step then looks as much shorter): means, not medians, here.
    """
    size = int(result.get("turn_steps") or 0)
    if size <= 0:
        raise ValueError("not a live A/B worker result (no turn_steps)")
    out = []
    for epoch in result.get("epochs") or []:
        steps = list(epoch.get("step_seconds") or [])
        for start in range(0, len(steps), size):
            turn = steps[start : start + size]
            out.append(1000.0 * sum(turn) / len(turn))
    return out


def turn_loads(result: Mapping[str, Any]) -> list[float]:
    """Per turn of a live A/B worker, the share of the machine's CPU other processes took, as the
    controller observed it (empty where it was not measured: not Linux, older results)."""
    return [float(share) for share in result.get("turn_loads") or []]


def live_time_samples(side: Sequence[Mapping[str, Any]]) -> list[float]:
    """One side of a live A/B comparison: per turn index, the mean over the side's workers.

    Sample i of the reference and of the candidate were measured in neighbouring turns, so the
    two lists are paired; averaging several workers per side evens out per-process speed.
    """
    per_worker = [turn_means(result) for result in side]
    counts = {len(turns) for turns in per_worker}
    if len(counts) != 1:
        raise ValueError(f"the workers of one side took different numbers of turns: {counts}")
    return [sum(values) / len(values) for values in zip(*per_worker)]


def worker_step_ms(result: Mapping[str, Any]) -> list[float]:
    """Per worker process of a run, its step time (ms): the median of its epochs' block samples.

    A run measured in several fresh workers one after another (`--rnnbench-workers`) keeps them
    apart in its merged epochs ("worker"); a single worker's result is one value.
    """
    per_worker: dict[int, list[float]] = {}
    for epoch in result.get("epochs") or []:
        blocks = block_medians(list(epoch.get("step_seconds") or []))
        per_worker.setdefault(int(epoch.get("worker") or 0), []).extend(blocks)
    return [float(median(values)) for _, values in sorted(per_worker.items()) if values]


def worker_probe_ms(result: Mapping[str, Any]) -> list[float]:
    """Per worker process of a run, its machine-speed probe (ms; rnnbench_worker_probe.py), or
    [] when any worker ran without one (only calibration scripts ask for it). A merged run keeps
    them in `worker_probe_ms` (live.merge_side)."""
    if "worker_probe_ms" in result:
        return [float(ms) for ms in result["worker_probe_ms"] or []]
    probe = result.get("machine_probe")
    return [float(probe["ms"])] if isinstance(probe, Mapping) and probe.get("ms") else []


def gpu_peak_bytes(result: Mapping[str, Any]) -> Optional[int]:
    """The framework's own peak when it keeps one (precise), else NVML's per-process peak."""
    value = result.get("gpu_framework_peak_bytes")
    if value is None:
        value = (result.get("gpu_memory") or {}).get("nvml_process_peak_bytes")
    return None if value is None else int(value)


def metric_samples(result: Mapping[str, Any]) -> dict[str, list[float]]:
    """{metric name: samples} from one worker result (worker protocol version 1)."""
    time: list[float] = []
    for epoch in result.get("epochs") or []:
        time.extend(block_medians(list(epoch.get("step_seconds") or [])))
    samples: dict[str, list[float]] = {"step_time": time}
    if result.get("host_peak_rss_bytes") is not None:
        samples["host_peak_rss"] = [result["host_peak_rss_bytes"] / 2**20]
    gpu = gpu_peak_bytes(result)
    if gpu is not None:
        samples["gpu_peak_memory"] = [gpu / 2**20]
    if result.get("final_loss") is not None:
        samples["final_loss"] = [float(result["final_loss"])]
    return samples


def busy_shares(workload: Mapping[str, Any]) -> list[float]:
    """Per timed epoch, the share of the machine's CPU time taken by other processes and the
    hypervisor while it ran: from a baseline entry ("cpu_busy_shares") or a worker result."""
    if "cpu_busy_shares" in workload:
        return [float(v) for v in workload.get("cpu_busy_shares") or []]
    shares = []
    for epoch in workload.get("epochs") or []:
        share = (epoch.get("cpu") or {}).get("others_share")
        if share is not None:
            shares.append(float(share))
    return shares


def thread_pools_of(workload: Mapping[str, Any]) -> str:
    """How a case's thread pools were set up, from a baseline entry or a worker result
    ("default": the frameworks' own, as in every run before --rnnbench-thread-pools)."""
    found = workload.get("thread_pools") or (workload.get("run") or {}).get("thread_pools")
    return str(found or "default")


def comparable(baseline: Mapping[str, Any], now: Mapping[str, Any]) -> Optional[str]:
    """Why a baseline's workload differs from now's (samples per epoch, steps, timed epochs,
    thread pools), or None."""
    for key, what in (
        ("samples", "samples per epoch"),
        ("steps_per_epoch", "steps per epoch"),
        ("repeats", "timed epochs"),
    ):
        old, new = baseline.get(key), now.get(key)
        if old is not None and new is not None and old != new:
            return f"the baseline was recorded with {old} {what}, this run has {new}"
    old_pools, new_pools = thread_pools_of(baseline), thread_pools_of(now)
    if old_pools != new_pools:
        why = f"the baseline was recorded with {old_pools} thread pools, this run has {new_pools}"
        if (old_pools, new_pools) == ("default", "steady"):
            # Most often a baseline older than the option's default (torch's: than 0.2.0's
            # malloc thresholds), not a choice of this run.
            return f"{why} (the default since 0.2.0): record the baseline again"
        return f"{why} (--rnnbench-thread-pools)"
    return None
