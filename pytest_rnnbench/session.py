"""The benchmarking session: registered as a plugin only when --rnnbench is on.

It owns what lives for the whole run: which backends can run in which interpreter (asked once),
the prepared datasets (prepared once), the results measured so far (written after every case, so
an interrupted run loses nothing), and the end-of-run summary.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Optional

import pytest

from . import datasets, report
from .devices import GpuInventory, GpuMemoryMonitor, visible_devices
from .matrix import Case, build_matrix
from .measurements import Summary, summarize
from .options import Settings
from .runner import PROTOCOL_VERSION, WorkerError, WorkerUnsupported, probe_backend, run_worker

SEED = 1234


class RnnbenchSession:
    def __init__(self, config: pytest.Config, settings: Settings, inventory: GpuInventory) -> None:
        self.config = config
        self.settings = settings
        self.inventory = inventory
        self.cases = build_matrix(settings.backends, settings.gpu_counts, settings.batch_sizes,
                                  settings.unrolls, settings.datasets)
        self.summaries: dict[str, Summary] = {}
        self.failures: dict[str, str] = {}
        self._backend_problems: dict[tuple[str, str], Optional[str]] = {}
        self._data: dict[str, dict | Exception] = {}
        self._log_dir = Path(tempfile.mkdtemp(prefix="rnnbench-logs-"))

    # -- collection ------------------------------------------------------------------------------

    def skip_reason(self, case: Case) -> Optional[str]:
        """Why `case` cannot run on this machine, known before any worker starts."""
        if case.gpus > self.inventory.count:
            have = self.inventory.count
            why = f": {self.inventory.reason}" if self.inventory.reason else ""
            return f"needs {case.gpus} GPU(s), this machine has {have}{why}"
        if case.gpus > 1 and case.batch_size % case.gpus:
            return f"batch size {case.batch_size} does not divide across {case.gpus} GPUs"
        return None

    @pytest.hookimpl
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Under --rnnbench only benchmark cases run (like pytest-benchmark's --benchmark-only)."""
        keep = [item for item in items if "rnnbench_case" in getattr(item, "fixturenames", ())]
        if len(keep) != len(items):
            config.hook.pytest_deselected(items=[item for item in items if item not in keep])
            items[:] = keep

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        s = self.settings
        gpus = (f"{self.inventory.count} x {self.inventory.names[0]}" if self.inventory.count
                else f"none ({self.inventory.reason})")
        return [
            f"rnnbench: matrix={s.matrix} backends={','.join(s.backends)} "
            f"gpus={','.join(map(str, s.gpu_counts))} batch={','.join(map(str, s.batch_sizes))} "
            f"unroll={','.join('true' if u else 'false' for u in s.unrolls)} "
            f"datasets={','.join(s.datasets)}"
            + (f" samples<={s.samples}" if s.samples else "") + f" repeats={s.repeats}",
            f"rnnbench: GPUs on this machine: {gpus}",
        ]

    # -- running a case --------------------------------------------------------------------------

    def python_for(self, backend: str) -> str:
        return self.settings.pythons.get(backend, sys.executable)

    def backend_problem(self, backend: str) -> Optional[str]:
        python = self.python_for(backend)
        key = (backend, python)
        if key not in self._backend_problems:
            self._backend_problems[key] = probe_backend(backend, python)
        return self._backend_problems[key]

    def data_spec(self, dataset: str) -> dict:
        """Prepared once per session; an unavailable or corrupt dataset is remembered too."""
        if dataset not in self._data:
            try:
                self._data[dataset] = datasets.worker_spec(
                    dataset, self.settings.data_dir, self.settings.cache_dir, self.settings.samples)
            except (datasets.DataUnavailable, datasets.DataCorrupt) as exc:
                self._data[dataset] = exc
        found = self._data[dataset]
        if isinstance(found, datasets.DataUnavailable):
            pytest.skip(f"{dataset}: {found}")
        if isinstance(found, Exception):
            pytest.fail(f"{dataset}: {found}", pytrace=False)
        return found

    def worker_env(self, case: Case) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "KERAS_BACKEND": case.backend,
            # A CPU case must not touch a GPU; a GPU case sees exactly its own GPUs.
            "CUDA_VISIBLE_DEVICES": visible_devices(case.gpus),
            # Measure what training uses, not what the framework grabs up front (the seed's
            # "15 GB for TensorFlow" was preallocation).
            "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
            "TF_FORCE_GPU_ALLOW_GROWTH": "true",
            "TF_CPP_MIN_LOG_LEVEL": env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def run_case(self, case: Case, item: pytest.Item) -> Summary:
        problem = self.backend_problem(case.backend)
        if problem:
            pytest.skip(problem)
        spec = self.data_spec(case.dataset)
        request = {
            "protocol": PROTOCOL_VERSION,
            "case": case.to_dict(),
            "data": spec,
            "repeats": self.settings.repeats,
            "seed": SEED,
        }
        log_path = self._log_dir / f"{case.id}.log"
        monitor = GpuMemoryMonitor(list(range(case.gpus)))

        def on_message(message: dict) -> None:
            if message["type"] == "started":
                monitor.watch(message["pid"])

        try:
            with monitor:
                run = run_worker(self.python_for(case.backend), request, self.worker_env(case),
                                 self.settings.timeout_s, log_path, on_message=on_message)
        except WorkerUnsupported as exc:
            pytest.skip(str(exc))
        except WorkerError as exc:
            self.failures[case.id] = exc.cause
            self._write_results()
            pytest.fail(f"{case.id}: {exc}", pytrace=False)
        assert run.result is not None
        run.result["gpu_memory"] = monitor.to_dict()
        summary = summarize(case.id, run.result)
        self.summaries[case.id] = summary
        for key in ("epoch_seconds", "step_ms_median", "samples_per_second", "final_loss",
                    "host_peak_rss_bytes"):
            item.user_properties.append((f"rnnbench_{key}", getattr(summary, key)))
        self._write_results()
        return summary

    # -- output ----------------------------------------------------------------------------------

    def _write_results(self) -> None:
        if self.settings.json_path is not None:
            report.write_results_json(self.settings.json_path, self.summaries, self.failures,
                                      self.settings, self.inventory)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.summaries:
            terminalreporter.section("rnnbench results")
            for line in report.summary_table(self.summaries.values()):
                terminalreporter.write_line(line)
        if self.settings.json_path is not None and (self.summaries or self.failures):
            terminalreporter.write_line(f"rnnbench: results written to {self.settings.json_path}")
