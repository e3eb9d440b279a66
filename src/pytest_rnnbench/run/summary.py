"""Turns a worker's raw timings into the figures users read. Plain numbers in, no pytest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ..quantiles import median, quantile


@dataclass(frozen=True)
class Summary:
    """One case's result as users see it; `raw` keeps everything the worker sent."""

    case_id: str
    epoch_seconds: float  # median over the timed epochs
    epoch_seconds_all: tuple[float, ...]
    step_ms_median: float
    step_ms_p10: float
    step_ms_p90: float
    samples: int
    samples_per_second: float
    warmup_seconds: float
    final_loss: float
    host_peak_rss_bytes: int
    gpu_framework_peak_bytes: Optional[int]
    gpu_nvml_process_peak_bytes: Optional[int] = None  # sampled by the controller through NVML
    versions: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "raw"}
        data["epoch_seconds_all"] = list(self.epoch_seconds_all)
        return data


def summarize(case_id: str, result: dict[str, Any]) -> Summary:
    epochs = result["epochs"]
    seconds = [epoch["seconds"] for epoch in epochs]
    steps_ms = [s * 1000.0 for epoch in epochs for s in epoch["step_seconds"]] or [float("nan")]
    epoch_s = median(seconds)
    return Summary(
        case_id=case_id,
        epoch_seconds=epoch_s,
        epoch_seconds_all=tuple(seconds),
        step_ms_median=median(steps_ms),
        step_ms_p10=quantile(steps_ms, 0.10),
        step_ms_p90=quantile(steps_ms, 0.90),
        samples=result["samples"],
        samples_per_second=result["samples"] / epoch_s if epoch_s > 0 else float("nan"),
        warmup_seconds=result["warmup_seconds"],
        final_loss=result["final_loss"],
        host_peak_rss_bytes=result["host_peak_rss_bytes"],
        gpu_framework_peak_bytes=result.get("gpu_framework_peak_bytes"),
        gpu_nvml_process_peak_bytes=result.get("gpu_memory", {}).get("nvml_process_peak_bytes"),
        versions=dict(result.get("versions", {})),
        raw=result,
    )
