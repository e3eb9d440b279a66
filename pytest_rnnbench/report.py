"""Results output: the JSON results file and the terminal summary table."""

from __future__ import annotations

import datetime
import json
import os
import tempfile
from pathlib import Path
from typing import Iterable, Mapping

from .devices import GpuInventory, cpu_count, cpu_model
from .measurements import Summary
from .options import Settings

RESULTS_SCHEMA = "pytest-rnnbench/results"
RESULTS_VERSION = 1


def write_json_atomic(path: Path, document: object) -> None:
    """Write JSON so that readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_results_json(path: Path, summaries: Mapping[str, Summary], failures: Mapping[str, str],
                       settings: Settings, inventory: GpuInventory) -> None:
    document = {
        "schema": RESULTS_SCHEMA,
        "version": RESULTS_VERSION,
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpu": cpu_model(), "cpus": cpu_count(),
            "gpus": list(inventory.names), "driver": inventory.driver, "cuda": inventory.cuda,
        },
        "settings": {"matrix": settings.matrix, "samples_cap": settings.samples,
                     "repeats": settings.repeats},
        "results": {case_id: dict(summary.to_dict(), worker=summary.raw)
                    for case_id, summary in sorted(summaries.items())},
        "failures": dict(sorted(failures.items())),
    }
    write_json_atomic(path, document)


def summary_table(summaries: Iterable[Summary]) -> list[str]:
    header = ("case", "s/epoch", "ms/step (p10-p90)", "samples/s", "warm-up s", "loss", "RSS MiB")
    rows = [
        (s.case_id, f"{s.epoch_seconds:.2f}",
         f"{s.step_ms_median:.1f} ({s.step_ms_p10:.1f}-{s.step_ms_p90:.1f})",
         f"{s.samples_per_second:,.0f}", f"{s.warmup_seconds:.1f}", f"{s.final_loss:.4f}",
         f"{s.host_peak_rss_bytes / 2**20:,.0f}")
        for s in summaries
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))) for row in [header, *rows]]
    return lines
