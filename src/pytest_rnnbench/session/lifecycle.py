"""The benchmarking session: registered as a plugin only when --rnnbench is on.

It owns what lives for the whole run: which backends can run in which interpreter (asked once),
the prepared datasets (prepared once), the results measured so far (written after every case, so
an interrupted run loses nothing), and the end-of-run summary.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

import pytest

from ..atomic import write_json, write_text
from ..matrix import Case, build_matrix, shard
from ..report import comment, terminal
from ..report.publish import Outputs, publish
from ..results.document import build_report, results_document
from ..run import datasets
from ..run.devices import GpuInventory, GpuMemoryMonitor, slot_for
from ..run.probe import probe_backend
from ..run.process import WorkerError, WorkerUnsupported, run_worker
from ..run.protocol import build_request, with_keras_tree, worker_env
from ..run.summary import Summary, summarize
from ..run.trees import SourceTree, TreeError, backends_of, base_tree, head_tree, toplevel
from ..run.trees import remove as remove_tree
from ..run.turns import WorkerSpec, run_live, turn_steps_for
from ..settings import Settings
from ..verdicts.live import LiveGate, merge_side
from ..verdicts.protocol import CaseRun, Gate
from ..verdicts.stored import BaselineGate
from .progress import ProgressDisplay


class RnnbenchSession:
    def __init__(self, config: pytest.Config, settings: Settings, inventory: GpuInventory) -> None:
        self.config = config
        self.settings = settings
        self.inventory = inventory
        self.cases = build_matrix(
            settings.backends,
            settings.gpu_counts,
            settings.batch_sizes,
            settings.unrolls,
            settings.datasets,
        )
        if settings.shard is not None:
            self.cases = shard(self.cases, *settings.shard)
        # Under pytest-xdist each worker process owns a disjoint block of GPUs.
        self.slot = slot_for(os.environ, inventory.count)
        self.summaries: dict[str, Summary] = {}
        self.failures: dict[str, str] = {}
        self._backend_problems: dict[tuple[str, str], Optional[str]] = {}
        self._data: dict[str, dict | Exception] = {}
        self.progress = ProgressDisplay(config)
        # case id -> verdict.CaseVerdict.to_dict(), for the results file and the reports
        self.verdicts: dict[str, dict] = {}
        # The pull-request gate's two Keras trees (the base extracted from git): a bad ref or
        # directory is a usage error before any test.
        self.trees = self._source_trees(config) if settings.base is not None else {}
        # Loads this machine's baseline file now: a broken one is a usage error before any test.
        # A live run (--rnnbench-against, --rnnbench-base) judges against reference workers.
        self.gate: Gate = (
            LiveGate(settings, self.trees)
            if settings.live
            else BaselineGate(config, settings, inventory)
        )
        # Made after everything that may raise a usage error, so pytest_unconfigure removes it.
        self._log_dir = Path(tempfile.mkdtemp(prefix="rnnbench-logs-"))
        self._from_xdist_workers: list[dict] = []
        # Cases whose test failed, whatever failed it (a regression, a missing baseline under
        # --rnnbench-require-baseline, a worker): for the counts line. Under pytest-xdist the
        # controller hears its workers' reports too.
        self.failed_cases: set[str] = set()

    # -- collection ------------------------------------------------------------------------------

    def skip_reason(self, case: Case) -> Optional[str]:
        """Why `case` cannot run on this machine, known before any worker starts."""
        simulated = self.settings.simulate_devices
        if simulated:
            if case.gpus > simulated:
                return (
                    f"needs {case.gpus} device(s); --rnnbench-simulate-devices={simulated} "
                    "provides fewer"
                )
        elif case.gpus > self.inventory.count:
            have = self.inventory.count
            why = f": {self.inventory.reason}" if self.inventory.reason else ""
            return f"needs {case.gpus} GPU(s), this machine has {have}{why}"
        elif case.gpus > len(self.slot.gpu_indices):
            return f"needs {case.gpus} GPU(s) but {self.slot.describe()}"
        if self.trees:
            served = backends_of(self.trees["head"].path)
            if served and case.backend not in served:
                return (
                    f"the head tree's Keras serves {', '.join(served)}, not {case.backend} "
                    f"({self.trees['head'].path})"
                )
        if case.gpus > 1 and case.batch_size % case.gpus:
            return f"batch size {case.batch_size} does not divide across {case.gpus} GPUs"
        return None

    @pytest.hookimpl
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Under --rnnbench only benchmark cases run (like pytest-benchmark's --benchmark-only)."""
        keep = [item for item in items if "rnnbench_case" in getattr(item, "fixturenames", ())]
        if len(keep) != len(items):
            config.hook.pytest_deselected(items=[item for item in items if item not in keep])
            items[:] = keep

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # After deselection and reordering: the progress line counts "case 3 of 8" of these.
        self.progress.start_run(session.items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        case_id = _case_id(report.nodeid)
        if case_id is None:
            return
        if report.failed:
            self.failed_cases.add(case_id)
        elif report.skipped:
            self.progress.skipped(report.nodeid)  # not to be waited for in the estimate

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        s = self.settings
        gpus = (
            f"{self.inventory.count} x {self.inventory.names[0]}"
            if self.inventory.count
            else f"none ({self.inventory.reason})"
        )
        return (
            [
                f"rnnbench: matrix={s.matrix} backends={','.join(s.backends)} "
                f"gpus={','.join(map(str, s.gpu_counts))} "
                f"batch={','.join(map(str, s.batch_sizes))} "
                f"unroll={','.join('true' if u else 'false' for u in s.unrolls)} "
                f"datasets={','.join(s.datasets)}"
                + (f" samples<={s.samples}" if s.samples else "")
                + f" repeats={s.repeats}",
                f"rnnbench: GPUs on this machine: {gpus}",
            ]
            + self._workload_lines()
            + (
                [f"rnnbench: injecting a slowdown: every training step x{s.inject_slowdown:g}"]
                if s.inject_slowdown != 1.0
                else []
            )
            + self._placement_lines(config)
            + self.gate.header_lines()
        )

    def _workload_lines(self) -> list[str]:
        """Why benchmarking is on, and what a capped epoch means, when either needs saying."""
        s = self.settings
        lines = []
        if s.implied_by:
            lines.append(
                f"rnnbench: {s.implied_by} implies --rnnbench: only the benchmark cases run"
            )
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
            files = [
                datasets.SOURCES[name].filename for name in s.datasets if name in datasets.SOURCES
            ]
            missing = [name for name in files if not (s.data_dir / name).is_file()]
            if missing:
                where = (
                    "does not exist" if not s.data_dir.is_dir() else "lacks " + ", ".join(missing)
                )
                lines.append(
                    f"rnnbench: the data directory {s.data_dir} {where}: "
                    f"{', '.join(missing)} will come from the cache or a verified download"
                )
        return lines

    def _placement_lines(self, config: pytest.Config) -> list[str]:
        lines = []
        if self.settings.shard is not None:
            k, n = self.settings.shard
            lines.append(f"rnnbench: shard {k}/{n}: {len(self.cases)} cases of this part")
        if self.settings.simulate_devices:
            lines.append(
                f"rnnbench: {self.settings.simulate_devices} simulated devices (CPU "
                "slices stand in for GPUs; timings are not GPU timings)"
            )
        workers = getattr(config.option, "numprocesses", None)
        if workers:  # the pytest-xdist controller: say how its workers share the machine
            if self.inventory.count:
                per = self.inventory.count // int(workers) if str(workers).isdigit() else "some"
                lines.append(
                    f"rnnbench: pytest-xdist: each worker owns {per} GPU(s) of "
                    f"{self.inventory.count}; cases never share a GPU"
                )
            else:
                lines.append(
                    "rnnbench: pytest-xdist on a machine without GPUs: parallel cases "
                    "share the CPU cores, so their timings interfere with each other"
                )
        return lines

    # -- running a case --------------------------------------------------------------------------

    def python_for(self, backend: str) -> str:
        return self.settings.pythons.get(backend, sys.executable)

    def backend_problem(self, backend: str, python: Optional[str] = None) -> Optional[str]:
        python = python or self.python_for(backend)
        key = (backend, python)
        if key not in self._backend_problems:
            self._backend_problems[key] = probe_backend(backend, python)
        return self._backend_problems[key]

    def data_spec(self, dataset: str) -> dict:
        """Prepared once per session; an unavailable or corrupt dataset is remembered too."""
        if dataset not in self._data:
            try:
                self._data[dataset] = datasets.worker_spec(
                    dataset, self.settings.data_dir, self.settings.cache_dir, self.settings.samples
                )
            except (datasets.DataUnavailable, datasets.DataCorrupt) as exc:
                self._data[dataset] = exc
            except OSError as exc:  # e.g. a cache dir that cannot be created: one clear message
                self._data[dataset] = datasets.DataCorrupt(
                    f"cannot prepare the data in {self.settings.cache_dir}: {exc}"
                )
        found = self._data[dataset]
        if isinstance(found, datasets.DataUnavailable):
            pytest.skip(f"{dataset}: {found}")
        if isinstance(found, Exception):
            pytest.fail(f"{dataset}: {found}", pytrace=False)
        return found

    def gpu_indices(self, case: Case) -> list[int]:
        """The GPUs this case runs on: the first of this process's own block."""
        if self.settings.simulate_devices:
            return []
        return list(self.slot.gpu_indices[: case.gpus])

    def worker_env(self, case: Case) -> dict[str, str]:
        return worker_env(
            case.backend,
            self.gpu_indices(case),
            self.settings.preallocate,
            self.settings.simulate_devices,
        )

    def _source_trees(self, config: pytest.Config) -> dict[str, SourceTree]:
        start = Path(config.invocation_params.dir)
        base_spec = self.settings.base
        assert base_spec is not None
        try:
            head = head_tree(self.settings.head, start)
            repo = toplevel(head.path) or head.path
            base = base_tree(base_spec, repo, Path(tempfile.gettempdir()), start)
        except TreeError as exc:
            raise pytest.UsageError(str(exc)) from None
        return {"base": base, "head": head}

    def reference_python(self, case: Case) -> Optional[str]:
        """The live reference interpreter for this case (None when judged against baselines)."""
        if self.trees:
            return self.python_for(case.backend)  # the gate's sides differ by Keras tree only
        if not self.settings.against:
            return None
        python = self.settings.reference_python(case.backend)
        if python is None:
            pytest.skip(
                f"--rnnbench-against names no reference interpreter for the {case.backend} backend"
            )
        problem = self.backend_problem(case.backend, python)
        if problem:
            pytest.skip(f"reference interpreter: {problem}")
        return python

    def run_case(self, case: Case, item: pytest.Item) -> Summary:
        problem = self.backend_problem(case.backend)
        if problem:
            pytest.skip(problem)
        reference = self.reference_python(case)
        spec = self.data_spec(case.dataset)
        last_batch = spec["samples"] % case.batch_size
        if case.gpus > 1 and last_batch % case.gpus:
            pytest.skip(
                f"the last batch of {spec['samples']} samples ({last_batch}) does not "
                f"divide across {case.gpus} devices; choose --rnnbench-samples so it does"
            )
        request = build_request(case.to_dict(), spec, self.settings.repeats)
        candidate = build_request(
            case.to_dict(), spec, self.settings.repeats, self.settings.inject_slowdown
        )
        monitor = GpuMemoryMonitor(self.gpu_indices(case))
        shown = self.progress.case(case.id, item.nodeid)
        env = self.worker_env(case)
        live_runs = None
        try:
            with monitor, shown:
                if reference is None:
                    result = self._run_one(case, candidate, env, monitor, shown)
                else:
                    live_runs = self._run_live(
                        case, reference, request, candidate, env, monitor, shown
                    )
                    result = merge_side([r.result for r in live_runs[1]])
        except WorkerUnsupported as exc:
            pytest.skip(f"{case.id}: {exc}")
        except WorkerError as exc:
            self.failures[case.id] = exc.cause
            self._write_results()
            pytest.fail(f"{case.id}: {exc}", pytrace=False)
        assert result is not None
        result["gpu_memory"] = monitor.to_dict()
        summary = summarize(case.id, result)
        self.summaries[case.id] = summary
        for key in (
            "epoch_seconds",
            "step_ms_median",
            "samples_per_second",
            "final_loss",
            "host_peak_rss_bytes",
            "warmup_seconds",
            "gpu_framework_peak_bytes",
            "gpu_nvml_process_peak_bytes",
        ):
            item.user_properties.append((f"rnnbench_{key}", getattr(summary, key)))
        run = CaseRun(case, item, summary)
        if live_runs is not None:
            run = CaseRun(
                case,
                item,
                summary,
                reference=[r.result for r in live_runs[0]],
                candidate=[r.result for r in live_runs[1]],
            )
        try:
            self.gate.check(run, self.verdicts)  # may fail, skip or warn
        finally:
            self._write_results()
        return summary

    def _run_one(
        self, case: Case, request: dict, env: dict, monitor: GpuMemoryMonitor, shown: Any
    ) -> Optional[dict]:
        """One worker in this run's interpreter: the usual measurement."""

        def on_message(message: dict) -> None:
            if message["type"] == "started":
                monitor.watch(message["pid"])
            shown.on_message(message)

        run = run_worker(
            self.python_for(case.backend),
            request,
            env,
            self.settings.timeout_s,
            self._log_dir / f"{case.id}.log",
            on_message=on_message,
            max_rss_bytes=self.settings.max_rss_bytes,
        )
        return run.result

    def _run_live(
        self,
        case: Case,
        reference: str,
        request: dict,
        candidate: dict,
        env: dict,
        monitor: GpuMemoryMonitor,
        shown: Any,
    ) -> tuple[list, list]:
        """Reference and candidate workers taking turns (run/turns.py)."""
        workers = self.settings.against_workers

        def on_message(side: str, index: int, message: dict) -> None:
            if message["type"] == "started":
                # Ours, not "another process on the GPU"; the peak reported is the candidate's.
                monitor.watch(message["pid"], measured=side == "candidate")
            if side == "candidate" and index == 0:  # one worker's progress stands for all
                shown.on_message(message)

        def specs(side: str, python: str, sent: dict) -> list[WorkerSpec]:
            side_env, side_request = env, sent
            tree = self.trees.get("base" if side == "reference" else "head")
            if tree is not None:  # the pull-request gate: this side imports Keras from its tree
                side_env = with_keras_tree(env, tree.path)
                side_request = dict(sent, keras_tree=str(tree.path), keras_commit=tree.commit)
            return [
                WorkerSpec(
                    python, side_request, side_env, self._log_dir / f"{case.id}.{side}{i}.log"
                )
                for i in range(workers)
            ]

        steps_per_epoch = -(-request["data"]["samples"] // case.batch_size)
        turn_steps = turn_steps_for(
            steps_per_epoch, self.settings.repeats, self.settings.turn_steps
        )
        runs = run_live(
            specs("reference", reference, request),
            specs("candidate", self.python_for(case.backend), candidate),
            # The workers train one after another: the limit is per worker.
            self.settings.timeout_s * 2 * workers,
            turn_steps,
            on_message=on_message,
            max_rss_bytes=self.settings.max_rss_bytes,
        )
        return runs

    # -- output ----------------------------------------------------------------------------------

    def results_document(self) -> dict:
        gate = {side: tree.to_dict() for side, tree in self.trees.items()}
        document = results_document(
            self.summaries,
            self.failures,
            self.settings,
            self.inventory,
            self.verdicts,
            gate,
            # The checkout the user ran pytest in: its commit places the run in a history.
            started_in=Path(self.config.invocation_params.dir),
        )
        # Under pytest-xdist the controller runs no case: its document is what the workers sent.
        for sent in self._from_xdist_workers:
            for key in ("results", "failures", "verdicts"):
                if sent.get(key):
                    document.setdefault(key, {}).update(sent[key])
        return document

    @property
    def _is_xdist_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def _write_results(self) -> None:
        # xdist workers hand their results to the controller, which writes the one file.
        if self.settings.json_path is not None and not self._is_xdist_worker:
            write_json(self.settings.json_path, self.results_document())

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        # Runs after Ctrl-C too: an extracted base tree never outlives the session.
        for tree in self.trees.values():
            remove_tree(tree)
        # Worker logs are only needed to look into a failure (its tail is in the message).
        if not self.failures:
            shutil.rmtree(self._log_dir, ignore_errors=True)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self._is_xdist_worker:
            output = self.config.workeroutput  # type: ignore[attr-defined]
            output["rnnbench"] = self.results_document()
            output["rnnbench_unjudged"] = dict(getattr(self.gate, "unjudged", {}))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """pytest-xdist controller: collect a finished worker's results."""
        output = getattr(node, "workeroutput", {})
        sent = output.get("rnnbench")
        if sent:
            self._from_xdist_workers.append(sent)
            self._write_results()
        if isinstance(self.gate, BaselineGate):  # so the summary lists them, as without xdist
            self.gate.unjudged.update(output.get("rnnbench_unjudged") or {})

    def _table_width(self, terminalreporter) -> int:
        """120 columns, or less on a narrower terminal; logs and pipes get the full 120."""
        if not self.progress.tty:
            return terminal.TERMINAL_WIDTH
        width = getattr(
            getattr(terminalreporter, "_tw", None), "fullwidth", terminal.TERMINAL_WIDTH
        )
        return max(60, min(terminal.TERMINAL_WIDTH, int(width)))

    def pytest_terminal_summary(self, terminalreporter) -> None:
        document = self.results_document()
        if self.settings.comment_path is not None and not self._is_xdist_worker:
            # Written even when nothing ran: the pull request then reads that nothing was judged.
            write_text(self.settings.comment_path, comment.render(document))
            terminalreporter.write_line(
                f"rnnbench: pull-request comment written to {self.settings.comment_path}"
            )
        if not (document["results"] or document["failures"]):
            return
        results = build_report([("this run", document)])
        # write_sep, as pytest's own summaries: starts on a fresh line whatever the last test left
        terminalreporter.write_sep("=", "rnnbench results")
        for line in terminal.terminal_tables(results, self._table_width(terminalreporter)):
            terminalreporter.write_line(line)
        gate_lines = self.gate.summary_lines()
        if gate_lines:
            terminalreporter.section(
                "rnnbench baselines" if self.settings.save_baseline else "rnnbench verdicts"
            )
            for line in gate_lines:
                terminalreporter.write_line(line)
        terminalreporter.write_line(
            "rnnbench: "
            + terminal.counts_line(
                document, saving=self.settings.save_baseline, failed=self.failed_cases
            )
        )
        if self.failures:
            terminalreporter.write_line(
                f"rnnbench: the full output of each failed worker is in {self._log_dir}"
            )
        written = []
        if self.settings.json_path is not None:
            written.append(("results", self.settings.json_path))
        s = self.settings
        written += publish(
            results,
            Outputs(s.report_path, s.plots_dir, s.benchmark_json_path),
            written=document["written"],
        )
        for what, path in written:
            if what != "chart":
                terminalreporter.write_line(f"rnnbench: {what} written to {path}")
        charts = [path for what, path in written if what == "chart"]
        if charts:
            terminalreporter.write_line(
                f"rnnbench: {len(charts)} charts written to {charts[0].parent}"
            )


def _case_id(nodeid: str) -> Optional[str]:
    """The case id of a benchmark item's node id (its parameter id is the case id), else None."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    return nodeid[nodeid.rindex("[") + 1 : -1]
