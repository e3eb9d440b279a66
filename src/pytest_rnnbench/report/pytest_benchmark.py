"""Export in pytest-benchmark's JSON format, so `pytest-benchmark compare` and the dashboards that
read pytest-benchmark files can read our results.

Each measured case becomes one benchmark whose rounds are its timed epochs (seconds per epoch,
`--rnnbench-repeats` of them); the figures pytest-benchmark has no column for (ms/step, samples/s,
GPU memory, loss, verdict) go to `extra_info`. Statistics follow pytest-benchmark's own definitions
(its stats.Stats), computed here so that pytest-benchmark need not be installed to write the file.
"""

from __future__ import annotations

import platform
import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from ..atomic import write_json
from ..quantiles import median
from ..results.rows import Report, Row
from .rendering import Rendering

# The pytest-benchmark JSON layout this file follows (its "version" field: the writer's version).
PYTEST_BENCHMARK_FORMAT = "5.1.0"


def _quartiles(data: Sequence[float]) -> tuple[float, float]:
    """Q1 and Q3 exactly as pytest-benchmark computes them (Wikipedia's methods 2 and 3)."""
    rounds = len(data)
    d = sorted(data)
    if rounds == 1:
        return d[0], d[0]
    if rounds % 2:
        n, q = rounds // 4, rounds % 4
        if q == 1:
            return 0.25 * d[n - 1] + 0.75 * d[n], 0.75 * d[3 * n] + 0.25 * d[3 * n + 1]
        return 0.75 * d[n] + 0.25 * d[n + 1], 0.25 * d[3 * n + 1] + 0.75 * d[3 * n + 2]
    return median(d[: rounds // 2]), median(d[rounds // 2 :])


def stats(data: Sequence[float]) -> dict[str, Any]:
    """pytest-benchmark's stats block for a non-empty list of durations in seconds."""
    d = sorted(data)
    mean = statistics.mean(d)
    stddev = statistics.stdev(d) if len(d) > 1 else 0
    q1, q3 = _quartiles(d)
    iqr = q3 - q1
    if len(d) == 1:
        ld15iqr = hd15iqr = d[0]
    else:
        ld15iqr = d[bisect_left(d, q1 - 1.5 * iqr)]
        hd15iqr = d[bisect_right(d, q3 + 1.5 * iqr) - 1]
    stddev_outliers = sum(1 for v in d if v < mean - stddev or v > mean + stddev)
    iqr_outliers = sum(1 for v in d if v < q1 - 1.5 * iqr or v > q3 + 1.5 * iqr)
    total = sum(d)
    return {
        "min": d[0],
        "max": d[-1],
        "mean": mean,
        "stddev": stddev,
        "rounds": len(d),
        "median": median(d),
        "iqr": iqr,
        "q1": q1,
        "q3": q3,
        "iqr_outliers": iqr_outliers,
        "stddev_outliers": stddev_outliers,
        "outliers": f"{stddev_outliers};{iqr_outliers}",
        "ld15iqr": ld15iqr,
        "hd15iqr": hd15iqr,
        "ops": len(d) / total if total else 0,
        "total": total,
        "data": list(data),
        "iterations": 1,
    }


def _benchmark(row: Row, many_machines: bool) -> Optional[dict[str, Any]]:
    data = list(row.epoch_seconds_all) or (
        [row.epoch_seconds] if row.epoch_seconds is not None else []
    )
    if row.status != "passed" or not data:
        return None
    name = f"test_lstm_training[{row.case_id}]"
    if many_machines:
        name += f" ({row.instance})"
    extra: dict[str, Any] = {
        "backend": row.backend,
        "gpus": row.gpus,
        "batch_size": row.batch_size,
        "unroll": row.unroll,
        "dataset": row.dataset,
        "instance": row.instance,
        "samples": row.samples,
        "step_ms_median": row.step_ms_median,
        "samples_per_second": row.samples_per_second,
        "warmup_seconds": row.warmup_seconds,
        "final_loss": row.final_loss,
        "gpu_memory_mib": row.gpu_memory_mib,
    }
    if row.verdict is not None:
        extra.update(
            verdict=row.verdict.verdict,
            change=row.verdict.change,
            baseline_step_ms=row.verdict.baseline_step_ms,
        )
    return {
        "group": f"lstm-{row.dataset}-b{row.batch_size}-{'unroll' if row.unroll else 'nounroll'}",
        "name": name,
        "fullname": f"rnnbench::{row.instance}::{row.case_id}",
        "params": {"rnnbench_case": row.case_id},
        "param": row.case_id,
        "extra_info": extra,
        "options": {
            "disable_gc": False,
            "timer": "perf_counter",
            "min_rounds": len(data),
            "max_time": None,
            "min_time": None,
            "warmup": True,
        },
        "stats": stats(data),
    }


def to_pytest_benchmark(report: Report, written: Optional[str] = None) -> dict[str, Any]:
    """The pytest-benchmark JSON document for `report` (all machines in one file)."""
    many = len(report.machines) > 1
    first = next(iter(report.machines.values()), {})
    machine_info = {
        "node": platform.node(),
        "processor": first.get("cpu", ""),
        "machine": platform.machine(),
        "python_implementation": platform.python_implementation(),
        "python_version": platform.python_version(),
        "system": platform.system(),
        "cpu": {"brand_raw": first.get("cpu", ""), "count": first.get("cpus")},
        "rnnbench_machines": report.machines,
    }
    benchmarks = [b for b in (_benchmark(row, many) for row in report.rows) if b is not None]
    return {
        "machine_info": machine_info,
        "commit_info": {},
        "benchmarks": benchmarks,
        "datetime": written or "",
        "version": PYTEST_BENCHMARK_FORMAT,
    }


def write_export(rendering: Rendering, path: Path) -> list[Path]:
    """The pytest-benchmark JSON file (the registry's writer)."""
    write_json(path, to_pytest_benchmark(rendering.report, rendering.written))
    return [path]
